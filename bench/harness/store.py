"""The content store every content scenario serves: files generated once (then kept in
--cache under a stamp), published with the real `updcache import`, and the URL files the
load generator reads (PATH SIZE SHA256, per set), taken from what the store lists, so
the digests the generator checks are the store's, not ours."""
import hashlib
import os
import shutil
import time

from . import blob, spawn
from .context import Fatal, note

# A change here changes the stamp, which rebuilds the store (the stamp is the one the
# bash bench/run wrote, so a store it generated is reused).
CAB_MIB = (2, 8, 16, 32, 64)
PSF_MIB = (4, 16, 32, 64)
DISTINCT = 10000
STAMP = "v1 hot=4k distinct=%dx4k 1m 256m cab=%s psf=%s" % (
    DISTINCT, " ".join(map(str, CAB_MIB)), " ".join(map(str, PSF_MIB)))
SETS = ("hot", "distinct", "1m", "256m", "cab", "psf")
# The cold scenario's files, added to the same store (its own stamp: the rest is kept).
COLD_FILES = 16
COLD_MIB = 256
COLD_STAMP = "v1 cold=%dx%dm" % (COLD_FILES, COLD_MIB)


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


class Store:
    def __init__(self, run):
        self.run = run
        self.dir = os.path.join(run.cache, "store")
        self.conf = os.path.join(run.cache, "updcache.conf")
        self.urls = os.path.join(run.cache, "urls")
        self._first = {}

    def url_file(self, s):
        return os.path.join(self.urls, s + ".txt")

    def entries(self, s):
        """(path, size, sha256) of a set."""
        out = []
        with open(self.url_file(s)) as f:
            for line in f:
                p, size, sha = line.split()
                out.append((p, int(size), sha))
        return out

    def first(self, s):
        if s not in self._first:
            p, size, _ = self.entries(s)[0]
            self._first[s] = (p, size)
        return self._first[s]

    def files(self, s):
        """The set's files in the store."""
        return [os.path.join(self.dir, p.lstrip("/")) for p, _, _ in self.entries(s)]

    # ----------------------------------------------------------- generation

    def _place(self, wsus, manifest, set_name, ext, chunks):
        """Each chunk of bytes as wsus/XX/<SHA1>.ext, noted in the manifest."""
        with open(manifest, "a") as m:
            for data in chunks:
                h = hashlib.sha1(data).hexdigest().upper()
                d = os.path.join(wsus, h[38:40])
                os.makedirs(d, exist_ok=True)
                with open(os.path.join(d, "%s.%s" % (h, ext)), "wb") as f:
                    f.write(data)
                m.write("%s\t%s\n" % (set_name, h))

    def _place_big(self, wsus, manifest, set_name, ext, mib, seed):
        """A large file, streamed to disk while hashing (not held in memory)."""
        tmp = os.path.join(wsus, "part")
        h = hashlib.sha1()
        with open(tmp, "wb") as f:
            for b in blob.stream(mib << 20, seed):
                h.update(b)
                f.write(b)
        hx = h.hexdigest().upper()
        d = os.path.join(wsus, hx[38:40])
        os.makedirs(d, exist_ok=True)
        os.rename(tmp, os.path.join(d, "%s.%s" % (hx, ext)))
        with open(manifest, "a") as m:
            m.write("%s\t%s\n" % (set_name, hx))

    def _generate(self, wsus, manifest):
        one = lambda n, seed: [b"".join(blob.stream(n, seed))]
        self._place(wsus, manifest, "hot", "cab", one(4096, 1))
        # 10,000 distinct 4 KiB files: slices of one stream, all different.
        allb = b"".join(blob.stream(DISTINCT * 4096, 2))
        self._place(wsus, manifest, "distinct", "cab",
                    (allb[i:i + 4096] for i in range(0, len(allb), 4096)))
        self._place(wsus, manifest, "1m", "cab", one(1 << 20, 3))
        self._place_big(wsus, manifest, "256m", "esd", 256, 4)
        seed = 100
        for m in CAB_MIB:
            seed += 1
            self._place_big(wsus, manifest, "cab", "cab", m, seed)
        for m in PSF_MIB:
            seed += 1
            self._place_big(wsus, manifest, "psf", "psf", m, seed)

    def _import(self, wsus):
        env = dict(os.environ, UPDCACHE_NO_PROGRESS="1")
        log = self.run.wpath("import.log")
        rc = spawn.run([self.run.updcache, "import", "--config", self.conf, wsus], log, 3600, env=env)
        if rc:
            raise Fatal("updcache import failed (see %s)" % log)

    def _write_url_files(self, want):
        """URL files of the sets in want, from `updcache ls --files` and the manifest."""
        ls = spawn.output([self.run.updcache, "ls", "--files", "--config", self.conf], 600)
        if ls is None:
            raise Fatal("updcache ls --files failed")
        sets = {}
        with open(os.path.join(self.run.cache, "manifest")) as m:
            for line in m:
                s, h = line.split()
                sets[h] = s
        new = self.urls + ".new"
        shutil.rmtree(new, ignore_errors=True)
        os.makedirs(new)
        lines = {}
        for row in ls.splitlines():
            f = row.split("\t")  # state, SHA-1, SHA-256, size, path
            if len(f) >= 5 and f[1] in sets:
                lines.setdefault(sets[f[1]], []).append("/%s %s %s\n" % (f[4], f[3], f[2]))
        for s in want:
            if not lines.get(s):
                raise Fatal("no files of set '%s' in 'updcache ls --files'" % s)
        if len(lines["distinct"]) != DISTINCT:
            raise Fatal("distinct set incomplete")
        for s, ls_lines in lines.items():
            with open(os.path.join(new, s + ".txt"), "w") as f:
                f.writelines(ls_lines)
        with open(os.path.join(new, "payload.txt"), "w") as f:
            f.writelines(lines["cab"] + lines["psf"])
        shutil.rmtree(self.urls, ignore_errors=True)
        os.rename(new, self.urls)

    def prepare(self):
        c = self.run.cache
        if _read(os.path.join(c, "stamp")) == STAMP and os.path.isdir(self.urls):
            note("store: reusing %s" % self.dir)
            return
        t0 = time.monotonic()
        note("store: generating files into %s (first run only) ..." % c)
        for p in ("store", "urls", "wsus", "gen"):
            shutil.rmtree(os.path.join(c, p), ignore_errors=True)
        for p in ("stamp", "stamp-cold", "manifest"):
            if os.path.exists(os.path.join(c, p)):
                os.unlink(os.path.join(c, p))
        os.makedirs(c, exist_ok=True)
        with open(self.conf, "w") as f:
            f.write("[server]\nstore = %s\n" % self.dir)
        wsus = os.path.join(c, "wsus")
        os.makedirs(wsus)
        self._generate(wsus, os.path.join(c, "manifest"))
        self._import(wsus)
        shutil.rmtree(wsus)  # imported copies are in the store; the sources are not needed again
        self._write_url_files(SETS)
        with open(os.path.join(c, "stamp"), "w") as f:
            f.write(STAMP + "\n")
        note("store: ready in %.0f s" % (time.monotonic() - t0))

    def prepare_cold(self):
        """The cold set: COLD_FILES files of COLD_MIB MiB, imported into the store once."""
        c = self.run.cache
        if _read(os.path.join(c, "stamp-cold")) == COLD_STAMP and os.path.exists(self.url_file("cold")):
            return
        need = COLD_FILES * COLD_MIB << 21  # the sources and the store's copies, for a moment
        if shutil.disk_usage(c).free < need + (1 << 30):
            raise Fatal("cold: needs %d MiB free in %s" % ((need >> 20) + 1024, c))
        t0 = time.monotonic()
        note("cold: generating %dx%d MiB into the store (first run only) ..." % (COLD_FILES, COLD_MIB))
        wsus = os.path.join(c, "wsus-cold")
        shutil.rmtree(wsus, ignore_errors=True)
        os.makedirs(wsus)
        for i in range(COLD_FILES):
            self._place_big(wsus, os.path.join(c, "manifest"), "cold", "esd", COLD_MIB, 3000 + i)
        self._import(wsus)
        shutil.rmtree(wsus)
        self._write_url_files(SETS + ("cold",))
        with open(os.path.join(c, "stamp-cold"), "w") as f:
            f.write(COLD_STAMP + "\n")
        note("cold: ready in %.0f s" % (time.monotonic() - t0))
