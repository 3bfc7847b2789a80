"""sync: `updcache sync --once` (SPEC section 7) as issue 14 measures it. A downstream
fetches every update of a root updcached over loopback into a fresh store, against the
anchor that does the same work, `updcache add` of the same files (from the page cache)
into a fresh store, and beside it curl fetching the same files in parallel to /dev/null
and the hashing limit L of bench/ingest, all in the same rounds. Every process is free
to use every core, as on a real downstream. A run that fails or does not verify makes
its round x and the exit status 1."""
import os
import re
import shutil
import subprocess
import time

from .. import blob, conf, hashlimit, procfs, spawn, stats
from ..context import note
from ..servers.updcached import UpdcachedTLS
from ..tlslab import Lab
from .base import Scenario as Base

NAME = "sync.updcache.test"
FILE_MIB = 128
FILES = 16  # 2 GiB
FILES_QUICK = 8  # 1 GiB with --quick
PER_UPDATE = 4
PARALLEL = conf.SYNC_PARALLEL
SUMMARY = re.compile(r"^updcache sync: ([0-9]+) update\(s\) published, ([0-9]+) file\(s\), ([0-9]+) bytes", re.M)


def resident(files):
    """Percentage of the files' pages in the page cache (fincore), or '?'."""
    out = spawn.output(["fincore", "-b", "-n", "-o", "RES,SIZE"] + files) if shutil.which("fincore") else None
    if out is None:
        return "?"
    r = s = 0
    for line in out.split("\n"):
        f = line.split()
        if len(f) == 2:
            r, s = r + int(f[0]), s + int(f[1])
    return "%.0f" % (100 * r / s if s else 0)


class Timed:
    """Around a timed run: CPU of the root server, of this process and what it reaped
    (updcache sync, or curl and xargs), and of the others."""

    def __init__(self, run, server, name="sync"):
        self.name = name
        spawn.run(["sync", "-f", run.work], os.devnull, 120)  # earlier write-back is not charged
        self.run, self.server = run, server
        self.c0 = server.cpu_ticks()
        self.snap = procfs.SysSnap()
        self.t0 = time.monotonic()

    def end(self):
        t1 = time.monotonic()
        c1 = self.server.cpu_ticks()
        self.others_s, _, now = procfs.others_since(self.snap, c1 - self.c0)
        self.wall_s = t1 - self.t0
        self.server_s = (c1 - self.c0) / procfs.HZ
        self.client_s = (now.self_ticks - self.snap.self_ticks) / procfs.HZ
        self.run.rec.add(self.name, "all", "others_pct", 100 * self.others_s / self.wall_s)
        return self

    def json(self, mbps):
        return {"mbps": mbps, "wall_s": self.wall_s, "client_cpu_s": self.client_s,
                "server_cpu_s": self.server_s, "others_cpu_s": self.others_s}


class Scenario(Base):
    name = "sync"
    file_mib, files, files_quick = FILE_MIB, FILES, FILES_QUICK
    needs_store = False
    uses_servers = False

    def __init__(self):
        self.na = None
        self.root = None
        self.proto = self.res = self.fs = None

    def prepare(self, run):
        if not run.have_updcached():
            self.na = "n/a (updcached not built yet)"
            return
        self.nfiles = self.files_quick if run.opts.quick else self.files
        self.total = self.nfiles * self.file_mib << 20
        shape = "%dm" % (self.nfiles * self.file_mib) if self.file_mib == FILE_MIB else \
            "%dx%dm" % (self.nfiles, self.file_mib)
        self.lab = lab = Lab(run, NAME, os.path.join(run.cache, "sync-" + shape))
        log = run.wpath("sync-store.log")
        stamp = "v1 files=%dx%dMiB per-update=%d" % (self.nfiles, self.file_mib, PER_UPDATE)
        lab.ensure_cert(log)
        have = lab.stamped(stamp)
        # The downstream store of a round, plus the root's when it is to be made, plus the
        # 5% free-space floor of updcache and a margin.
        need = (2 - have) * self.total + (1 << 30)
        if shutil.disk_usage(run.cache).free < need:
            return self.fail_na(run, "needs %d MiB free in %s" % (need >> 20, run.cache))
        if have:
            note("sync: reusing %s" % lab.store)
            return
        t0 = time.monotonic()
        note("sync: publishing %dx%d MiB into %s (first run only) ..." % (self.nfiles, self.file_mib, lab.store))
        lab.new_store(log)
        gen = os.path.join(lab.dir, "gen")
        os.makedirs(gen)
        batch = []
        for i in range(1, self.nfiles + 1):
            f = os.path.join(gen, "sync%02d.cab" % i)
            blob.write(f, self.file_mib << 20, 2000 + i)
            batch.append(f)
            if len(batch) == PER_UPDATE or i == self.nfiles:
                lab.add("bench sync update %d" % ((i + PER_UPDATE - 1) // PER_UPDATE), batch, log)
                for b in batch:
                    os.unlink(b)
                batch = []
        os.rmdir(gen)
        lab.set_stamp(stamp)
        note("sync: store ready in %.0f s" % (time.monotonic() - t0))

    def sync_run(self, run, r):
        """One timed `updcache sync --once` into a fresh downstream store; then, outside
        the timing, the checks: exit status 0, every file and byte fetched, `updcache
        verify` clean, the same files listed as at the root. MB/s, or None."""
        ds = run.wpath("sync-ds")
        shutil.rmtree(ds, ignore_errors=True)
        os.makedirs(ds)
        dconf = os.path.join(ds, "updcache.conf")
        conf.render(run, "updcache-downstream.conf.in", dconf, self.root.port, ds,
                    os.path.join(ds, "store"), lab=self.lab)
        log = run.wpath("sync-%d.log" % r)
        # The tests' knob that caps each transfer's rate must not throttle the measurement.
        env = {k: v for k, v in os.environ.items() if k != "UPDCACHE_SYNC_RATE"}
        env["UPDCACHE_NO_PROGRESS"] = "1"
        t = Timed(run, self.root, self.name)
        rss = run.wpath("sync-rss-%d.txt" % r)  # GNU time's %M: the peak RSS in KiB
        rc = spawn.run(spawn.pinned(run.all_cpus, ["/usr/bin/time", "-f", "%M", "-o", rss, run.updcache,
                                                   "sync", "--once", "--config", dconf]), log, 900, env=env)
        t.end()
        try:
            with open(rss) as f:
                run.rec.add(self.name, "updcache", "rss_mib", int(f.read().split()[-1]) / 1024)
        except (OSError, ValueError, IndexError):
            pass
        mbps = self.total / t.wall_s / 1e6
        with open(log, errors="replace") as f:
            found = SUMMARY.findall(f.read())
        why = None
        if rc:
            why = "exit status %d" % rc
        elif not found:
            why = "no summary line"
        elif (int(found[-1][1]), int(found[-1][2])) != (self.nfiles, self.total):
            why = "fetched %s files, %s bytes, not %d, %d" % (found[-1][1], found[-1][2], self.nfiles, self.total)
        else:
            vlog = run.wpath("sync-verify-%d.log" % r)
            if spawn.run([run.updcache, "verify", "--config", dconf], vlog, 900,
                         env=dict(os.environ, UPDCACHE_NO_PROGRESS="1")):
                why = "updcache verify of the downstream store failed (see %s)" % vlog
            else:
                ls = spawn.output([run.updcache, "ls", "--files", "--config", dconf], 120) or ""
                if sorted(l.split("\t")[1] for l in ls.splitlines() if "\t" in l) != self.root_sha1s:
                    why = "the downstream does not list the root's files"
        shutil.rmtree(os.path.join(ds, "store"), ignore_errors=True)
        if why:
            note("ERROR: sync round %d: %s (see %s); the round's figures are x" % (r, why, log))
            run.failed(self.name)
            mbps = None
        return mbps, t

    def add_run(self, run, r):
        """`updcache add` of the root's files (in the page cache) as one update into a
        fresh store: the same hashing, O_DIRECT writing and fsync as sync, without the
        network. MB/s, or None unless it exits 0 and lists every file."""
        d = run.wpath("sync-add")
        aconf, cmd = self.lab.fresh_add(d, "bench add %d" % r, self.src)
        log = run.wpath("sync-add-%d.log" % r)
        t = Timed(run, self.root, self.name)
        rc = spawn.run(spawn.pinned(run.all_cpus, cmd), log, 900, env=dict(os.environ, UPDCACHE_NO_PROGRESS="1"))
        t.end()
        mbps = self.total / t.wall_s / 1e6
        got = self.lab.sha1s(aconf)
        shutil.rmtree(d, ignore_errors=True)
        if rc or got != self.root_sha1s:
            note("ERROR: sync round %d: updcache add failed (exit %s, %d files listed; see %s)" % (
                r, rc, len(got), log))
            run.failed(self.name)
            mbps = None
        return mbps, t

    def curl_run(self, run, r):
        """The same files from the root's plain port, PARALLEL curl processes at a time,
        one file each, to /dev/null. MB/s (None unless every file answered 200 with all
        its bytes)."""
        out = run.wpath("curl-%d.txt" % r)
        t = Timed(run, self.root, self.name)
        with open(run.wpath("sync-urls.txt")) as urls, open(out, "wb") as o:
            bg = spawn.Bg(spawn.pinned(run.all_cpus, ["xargs", "-P", PARALLEL, "-n", 1, "curl", "-sS", "-o",
                                                     "/dev/null", "-w", "%{http_code} %{size_download}\\n"]),
                          out + ".err", 900, stdout=o, stdin=urls)
            rc = bg.wait()
        t.end()
        mbps = self.total / t.wall_s / 1e6
        n = b = 0
        with open(out) as f:
            for line in f:
                fl = line.split()
                if len(fl) == 2 and fl[0] == "200":
                    n, b = n + 1, b + int(fl[1])
        if rc or (n, b) != (self.nfiles, self.total):
            note("ERROR: sync round %d: curl failed (exit %s; files and bytes with 200: %d %d, see %s.err)" % (
                r, rc, n, b, out))
            run.failed(self.name)
            mbps = None
        return mbps, t

    def run(self, run):
        if self.na:
            return
        ls = spawn.output([run.updcache, "ls", "--files", "--config", self.lab.conf], 120)
        if ls is None:
            return self.fail_na(run, "updcache ls of the root store failed")
        rows = [l.split("\t") for l in ls.splitlines() if l.count("\t") >= 4]
        got = (len(rows), sum(int(f[3]) for f in rows))
        if got != (self.nfiles, self.total):
            return self.fail_na(run, "the root store lists %d %d files and bytes, not %d %d" % (
                got + (self.nfiles, self.total)))
        self.root_sha1s = sorted(f[1] for f in rows)
        self.src = src = [os.path.join(self.lab.store, f[4]) for f in rows]
        self.root = UpdcachedTLS(run, self.lab, key="updcache-sync")
        self.root.cpus = run.all_cpus
        if not self.root.start():
            return self.fail_na(run, "the root updcached did not start")
        self.proto = self.root.proto
        plain = self.root.port - 1
        with open(run.wpath("sync-urls.txt"), "w") as f:
            f.writelines("http://127.0.0.1:%d/%s\n" % (plain, r[4]) for r in rows)
        self.fs = (spawn.output(["findmnt", "-n", "-o", "FSTYPE", "--target", run.work]) or "?").strip()
        # Both sides read the root's files from the page cache.
        for p in src:
            with open(p, "rb") as fh:
                while fh.read(1 << 20):
                    pass
        self.res = resident(src) + "%"
        note("sync: %dx%d MiB from updcache-sync (port %d, plain %d), root files %s in page cache" % (
            self.nfiles, self.file_mib, self.root.port, plain, self.res))
        for r in range(1, run.rounds + 1):
            self.round(run, r)
        self.res += " before, %s%% after" % resident(src)
        self.root.stop()

    def round(self, run, r):
        rec = run.rec.add
        h = hashlimit.measure(run.ncpu)
        rec(self.name, "L", "mbps", h["L"])
        # Rotate the order every round: no side always runs first.
        steps = ["sync", "add", "curl"]
        order = steps[(r - 1) % 3:] + steps[:(r - 1) % 3]
        got = {}
        for step in order:
            got[step] = getattr(self, step + "_run")(run, r)
            rec(self.name, {"sync": "updcache"}.get(step, step), "mbps", got[step][0])
        (s_mbps, s_t), (a_mbps, a_t), (c_mbps, c_t) = got["sync"], got["add"], got["curl"]
        rec(self.name, "updcache", "client_busy_pct", 100 * s_t.client_s / s_t.wall_s)
        ratio = s_mbps / a_mbps if None not in (s_mbps, a_mbps) else None
        rec(self.name, "updcache", "ratio", ratio)
        run.runs[self.name].append({
            "round": r, "server": "updcache", "generator": "updcache sync --once / updcache add / curl",
            "result": {"bytes": self.total, "files": self.nfiles, "order": " ".join(order),
                       "sync": s_t.json(s_mbps), "add": a_t.json(a_mbps), "curl": c_t.json(c_mbps),
                       "hashing_limit_mbps": h, "sync_over_add": ratio}})
        f = lambda form, v: stats.fmt(form, v)
        note("sync round %d/%d: sync %s MB/s (client CPU %s s), add %s MB/s (CPU %s s), curl %s MB/s, "
             "L %s MB/s, sync/add %s" % (
                 r, run.rounds, f("%.0f", s_mbps), f("%.1f", s_t.client_s), f("%.0f", a_mbps),
                 f("%.1f", a_t.client_s), f("%.0f", c_mbps), f("%.0f", h["L"]), f("%.2f", ratio)))

    def rows(self, t):
        if self.na:
            t.text_row("-", self.na)
            return
        g = lambda server, metric: t.run.rec.get(self.name, server, metric) or []
        # The anchors' figures stand in the nginx column (see the footnote).
        t.text_row("sync MB/s", stats.spread("%.0f", g("updcache", "mbps")))
        t.text_row("add of the same files, MB/s", "-", stats.spread("%.0f", g("add", "mbps")))
        t.text_row("curl -P%d MB/s" % PARALLEL, "-", stats.spread("%.0f", g("curl", "mbps")))
        t.text_row("hashing limit L, MB/s", "-", stats.spread("%.0f", g("L", "mbps")))
        t.text_row("sync / add (issue 14: >= 0.8)", stats.spread("%.2f", g("updcache", "ratio")))
        t.text_row("sync peak RSS, MiB (%d MiB files)" % self.file_mib, stats.spread("%.1f", g("updcache", "rss_mib")))

    def footnote(self, run):
        if self.na or not run.rec.get(self.name, "updcache", "mbps"):
            return None
        busy = stats.median(run.rec.get(self.name, "updcache", "client_busy_pct"))
        return ("sync: %dx%d MiB = %g GiB%s in %d signed updates from a root updcached (TLS %s, 1 worker) over "
                "loopback; 'updcache sync --once' (parallel %d, files from the plain port, SHA-1+SHA-256+XXH3 and "
                "block digests on the client, fsync per file, fresh store on %s under --cache), 'updcache add' of "
                "the root's files as one update into a fresh store, and curl -P%d to /dev/null, in rotating "
                "order; every process on cores %s (unpinned); root files in page cache (%s); sync client CPU "
                "%s%% of one core (median); L = %d/(1/sha1 + 1/sha256 + 1/xxh128) from openssl speed and "
                "xxhsum's XXH128 benchmark each round, as bench/ingest; MB = 10^6 bytes; the anchors stand in "
                "the nginx column" % (
                    self.nfiles, self.file_mib, self.total / (1 << 30),
                    " (--quick; issue 14 asks for 2 GiB)" if run.opts.quick else "",
                    (self.nfiles + PER_UPDATE - 1) // PER_UPDATE, self.proto or "?", PARALLEL,
                    self.fs, PARALLEL, run.all_cpus, self.res, stats.fmt("%.0f", busy), run.ncpu))

    def generator(self, run):
        return "updcache sync --once, curl", self.footnote(run) or ""


class OneFile(Scenario):
    """One 1 GiB file (an install image): no other file to hash beside it, so only the
    split of its digests over the cores (tools/sync_net.c's lanes) uses a second core."""
    name = "sync-1g"
    file_mib, files, files_quick = 1024, 1, 1
