"""fill: a miss at a cache in front of a root updcached (SPEC section 13, issue 13). Four
front servers, each in turn, in front of the same root on loopback:

  updcache     updcached with [upstream] fill = on-demand (store from `updcache sync
               --once`, records only), 1 MiB ranged GETs to the root's plain port, each
               block checked against the signed block list before a client sees it;
  nginx-lock   nginx proxy_cache with proxy_cache_lock;
  nginx-slice  nginx proxy_cache with `slice 1m` as lancache sets it;
  varnish      Varnish 7, builtin VCL, default streaming, malloc storage.

Every case starts cold at the front (updcached: a fresh store from `updcache sync --once`
and a restart; nginx: its cache directory emptied and a restart; varnish: a
restart) and is checked byte for byte against the published file:

  a  one client (curl) fetches a cold 256 MiB file;
  b  32 clients (curl) fetch the same cold 256 MiB file at once;
  c  200 random 1 MiB ranges (not block-aligned, one seed for every server) of the cold
     256 MiB file, 8 clients (keep-alive, Python http.client), each 206 checked;
  d  tamper: tests/fixtures/relay.py --flip-once between the front and the root, one
     client fetches a cold 16 MiB file; the bytes it got that differ from the published
     file are counted.

Bytes taken from the root are the bytes column of the root's access log, lines of the
case's file, from the case's start until the log has been quiet for 1.5 s (it is
flushed about once a second). A wrong byte in a..c makes that case's figures x."""
import os
import random
import re
import shutil
import statistics
import subprocess
import threading
import http.client
import resource
import time

from .. import blob, conf, spawn, stats
from ..context import note
from ..servers.nginx import NginxCache
from ..servers.updcached import UpdcachedFillRoot, UpdcachedOnDemand
from ..servers.varnish import Varnish
from ..tlslab import Lab
from .base import Scenario as Base

NAME = "fill.updcache.test"
MIB = 1 << 20
BIG = 256 * MIB
TAMPER = 16 * MIB
SEEDS = (1300, 1301)
STAMP = "v1 big=%d tamper=%d seeds=%d,%d blocks" % ((BIG, TAMPER) + SEEDS)
CLIENTS = 32
RANGES = 200
RANGE_CLIENTS = 8
RANGE_SEED = 13
FLIP_AT = 5000123  # of the relay's stream back to the front: inside the first body
FRONTS = ("updcache", "nginx-lock", "nginx-slice", "varnish")
PEERS = FRONTS[1:]
CURL_LIMIT = 120  # seconds, for any one client
CASE_LIMIT = 240
LOG_LINE = re.compile(r'"(?:GET|HEAD) (\S+) [^"]*" (\d{3}) (\d+|-)')
W = re.compile(r"^FILLW (\d{3}) ([0-9.]+) ([0-9.]+) ([0-9]+)$", re.M)
RELAY = os.path.join("tests", "fixtures", "relay.py")

# (case, label, metric, format, kind): kind says how updcache is compared with the best
# peer (time and bytes: ratio, ttfb: ratio and difference).
ROWS = (("a", "1 client: done, s", "a_s", "%.2f", "time"),
        ("a", "1 client: TTFB, ms", "a_ttfb", "%.1f", "ttfb"),
        ("a", "1 client: root MiB", "a_root", "%.0f", "bytes"),
        ("b", "%d clients: last done, s" % CLIENTS, "b_s", "%.2f", "time"),
        ("b", "%d clients: TTFB median, ms" % CLIENTS, "b_ttfb_med", "%.1f", "ttfb"),
        ("b", "%d clients: TTFB max, ms" % CLIENTS, "b_ttfb_max", "%.1f", "ttfb"),
        ("b", "%d clients: root MiB" % CLIENTS, "b_root", "%.0f", "bytes"),
        ("c", "%d ranges x%d: done, s" % (RANGES, RANGE_CLIENTS), "c_s", "%.2f", "time"),
        ("c", "%d ranges: root MiB" % RANGES, "c_root", "%.0f", "bytes"),
        ("a", "front CPU s", "a_cpu", "%.2f", "cpu"),
        ("b", "front CPU s", "b_cpu", "%.2f", "cpu"),
        ("c", "front CPU s", "c_cpu", "%.2f", "cpu"),
        # The clients' side (curl and xxhsum, waited for in the case): a and b are bound by
        # the clients' core, so what a front costs there shows in these.
        ("a", "client CPU s", "a_ccpu", "%.2f", "cpu"),
        ("b", "client CPU s", "b_ccpu", "%.2f", "cpu"),
        ("b", "client context switches, k", "b_ccsw", "%.0f", "cpu"))
CASE_METRICS = {"a": ("a_s", "a_ttfb", "a_root", "a_cpu", "a_ccpu"),
                "b": ("b_s", "b_ttfb_med", "b_ttfb_max", "b_root", "b_cpu", "b_ccpu", "b_ccsw"),
                "c": ("c_s", "c_root", "c_cpu")}
# UC_FILL_CASES=b (say) runs only those cases: for looking into one by hand.
CASES = tuple(os.environ.get("UC_FILL_CASES", "abcd"))
# UC_FILL_FRONT_CPUS=all lets every front use every core (the root and the clients stay
# where they are): what a front does with a second core, each front alike.
FRONT_ALL = os.environ.get("UC_FILL_FRONT_CPUS", "one") == "all"


class File:
    def __init__(self, row, store):
        self.sha1, self.sha256, self.size, self.rel = row[1], row[2], int(row[3]), row[4]
        self.path = os.path.join(store, self.rel)
        self.url = "/" + self.rel


def col(*c):
    return "%-12s| %-30s" % c[:2] + "".join("| %-19s" % x for x in c[2:])


class Scenario(Base):
    name = "fill"
    needs_store = False
    uses_servers = False

    def __init__(self):
        self.na = None
        self.front_na = {}
        self.root = None
        self.fronts = {}
        self.relay = None
        self.notes = []  # what happened, for the footnote (tamper retries and the like)
        self.wrong = {f: [] for f in FRONTS}  # "b r2: 3 of 32 clients wrong" and the like
        self.tamper = {f: [] for f in FRONTS}  # per round: differing bytes, or None

    # ------------------------------------------------------------------ set-up

    def prepare(self, run):
        if not run.have_updcached():
            self.na = "n/a (updcached not built yet)"
            return
        if not shutil.which("xxhsum"):
            return self.fail_na(run, "xxhsum is missing (checks the clients' bytes)")
        self.lab = lab = Lab(run, NAME, os.path.join(run.cache, "fill"))
        log = run.wpath("fill-store.log")
        lab.ensure_cert(log)
        need = 2 * (BIG + TAMPER) + (1 << 30)
        if lab.stamped(STAMP):
            need -= BIG + TAMPER
            note("fill: reusing %s" % lab.store)
        if shutil.disk_usage(run.cache).free < need:
            return self.fail_na(run, "needs %d MiB free in %s" % (need >> 20, run.cache))
        if lab.stamped(STAMP):
            return
        note("fill: publishing 256 MiB + 16 MiB into %s (first run only) ..." % lab.store)
        lab.new_store(log)
        gen = os.path.join(lab.dir, "gen")
        os.makedirs(gen)
        files = []
        for name, size, seed in (("fill-big.cab", BIG, SEEDS[0]), ("fill-tamper.cab", TAMPER, SEEDS[1])):
            files.append(os.path.join(gen, name))
            blob.write(files[-1], size, seed)
        lab.add("bench fill", files, log)
        shutil.rmtree(gen)
        lab.set_stamp(STAMP)

    def files(self, run, conf_path):
        """{sha1: row} of `updcache ls --files`, or None."""
        ls = spawn.output([run.updcache, "ls", "--files", "--config", conf_path], 120)
        if ls is None:
            return None
        return {r[1]: r for r in (l.split("\t") for l in ls.splitlines()) if len(r) >= 5}

    def set_up(self, run):
        """The root, the downstream store, the front servers (not started). False when the
        scenario cannot run."""
        rows = self.files(run, self.lab.conf)
        if rows is None:
            return self.fail_na(run, "updcache ls of the root store failed")
        by_size = {int(r[3]): r for r in rows.values()}
        if BIG not in by_size or TAMPER not in by_size:
            return self.fail_na(run, "the root store lacks its 256 MiB or 16 MiB file")
        self.big, self.small = File(by_size[BIG], self.lab.store), File(by_size[TAMPER], self.lab.store)
        self.root = UpdcachedFillRoot(run, self.lab)
        if not self.root.start():
            return self.fail_na(run, "the root updcached did not start")
        self.plain = self.root.port - 1
        for f in (self.big, self.small):  # the root serves from the page cache
            with open(f.path, "rb") as fh:
                while fh.read(MIB):
                    pass
        for f in (self.big, self.small):
            out = spawn.output(["xxhsum", "-H2", f.path], 60)
            if not out:
                return self.fail_na(run, "xxhsum -H2 %s failed" % f.path)
            f.xxh = out.split()[0]
        # The downstream store: the root's signed records, no file bytes.
        od_dir = run.wpath("fill-od")
        os.makedirs(od_dir, exist_ok=True)
        self.od_store = os.path.join(od_dir, "store")
        self.od_conf = os.path.join(od_dir, "sync.conf")
        conf.render(run, "updcached-fill-od.conf.in", self.od_conf, 0, od_dir, self.od_store, lab=self.lab,
                    up_tls_port=self.root.port, content_port=self.plain)
        if not self.sync_store(run):
            return self.fail_na(run, "no on-demand store (see %s)" % run.wpath("fill-sync.log"))
        self.fronts = {
            "updcache": UpdcachedOnDemand(run, self.lab, self.root.port, self.od_store),
            "nginx-lock": NginxCache(run, "nginx-lock"),
            "nginx-slice": NginxCache(run, "nginx-slice", slice_=True),
            "varnish": Varnish(run),
        }
        for k, s in self.fronts.items():
            if FRONT_ALL:
                s.cpus = run.all_cpus
            why = s.missing()
            if why:
                self.front_na[k] = why
        note("fill: root updcached pid %d, TLS %d, plain %d; %s %s and %s %s; on-demand store synced" % (
            self.root.proc.pid, self.root.port, self.plain, self.big.rel, self.big.size, self.small.rel,
            self.small.size))
        return True

    def sync_store(self, run):
        """A fresh on-demand store: `updcache sync --once` of the root's records, then
        both files listed and not present. False (with a note) otherwise."""
        shutil.rmtree(self.od_store, ignore_errors=True)
        log = run.wpath("fill-sync.log")
        env = dict(os.environ, UPDCACHE_NO_PROGRESS="1")
        if spawn.run([run.updcache, "sync", "--once", "--config", self.od_conf], log, 300, env=env):
            note("ERROR: fill: updcache sync --once of the on-demand store failed (see %s)" % log)
            return False
        ds = self.files(run, self.od_conf) or {}
        for f in (self.big, self.small):
            if f.sha1 not in ds or ds[f.sha1][0] == "present":
                note("ERROR: fill: the on-demand store after sync: %s is %s" % (
                    f.sha1, ds[f.sha1][0] if f.sha1 in ds else "not listed"))
                return False
        return True

    def cold(self, run, key, upstream):
        """The front server key, started with nothing of the files cached, fetching from
        port upstream. False when it did not start (or stayed warm)."""
        s = self.fronts[key]
        s.stop()
        if key == "updcache":
            # A fresh downstream store: `updcache purge` marks a filled file pending, and
            # updcached answers a pending file 404 instead of filling it (see RESULTS.md).
            s.content_port = upstream
            return self.sync_store(run) and s.start()
        s.upstream_port = upstream
        return s.cold()

    # ------------------------------------------------------------------ root bytes

    def log_size(self):
        try:
            return os.path.getsize(self.root.access_log)
        except OSError:
            return 0

    def settle(self, quiet=1.5, limit=20.0):
        """Wait until the root's access log has not grown for quiet seconds (it is
        flushed about once a second); its size then."""
        t_end = time.monotonic() + limit
        last, since = self.log_size(), time.monotonic()
        while time.monotonic() < t_end:
            time.sleep(0.1)
            n = self.log_size()
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since >= quiet:
                break
        return last

    def root_bytes(self, start, end, f):
        """(bytes, requests) the root's log has for f between two sizes of the log."""
        with open(self.root.access_log, "rb") as fh:
            fh.seek(start)
            text = fh.read(end - start).decode(errors="replace")
        b = n = 0
        for m in LOG_LINE.finditer(text):
            if m.group(1).lower() == f.url.lower():
                n += 1
                b += int(m.group(3)) if m.group(3) != "-" else 0
        return b, n

    # ------------------------------------------------------------------ clients

    def curls(self, port, f, n):
        """n curl clients at once, each piped into xxhsum -H2 (XXH128, compared with the
        published file's; cmp on a pipe reads 4 KiB at a time, too slow for 32 clients on
        one core). A list
        of (ok, ttfb_s, done_s after the first start, why)."""
        url = "http://127.0.0.1:%d%s" % (port, f.url)
        wfmt = "%{stderr}FILLW %{http_code} %{time_starttransfer} %{time_total} %{size_download}\\n"
        t0 = time.monotonic()
        procs = []
        for _ in range(n):
            start = time.monotonic() - t0
            c = subprocess.Popen(["curl", "-sS", "-m", str(CURL_LIMIT), "-o", "-", "-w", wfmt, url],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            m = subprocess.Popen(["xxhsum", "-H2"], stdin=c.stdout, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL)
            c.stdout.close()
            procs.append((start, c, m))
        out = []
        deadline = time.monotonic() + CURL_LIMIT + 10
        for start, c, m in procs:
            for p in (c, m):
                try:
                    p.wait(max(deadline - time.monotonic(), 0.1))
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            err = c.stderr.read().decode(errors="replace")
            c.stderr.close()
            digest = (m.stdout.read().decode(errors="replace").split() or ["?"])[0]
            m.stdout.close()
            w = W.findall(err)
            if not w:
                out.append((False, None, None, "curl exit %s: %s" % (c.returncode, err.strip()[:200])))
                continue
            code, ttfb, total, size = w[-1]
            why = None
            if c.returncode:
                why = "curl exit %d (%s)" % (c.returncode, err.strip().split("\n")[0][:120])
            elif code != "200":
                why = "status %s" % code
            elif int(size) != f.size:
                why = "%s bytes, not %d" % (size, f.size)
            elif m.returncode != 0 or digest != f.xxh:
                why = "bytes differ from the published file (XXH128 %s, not %s)" % (digest, f.xxh)
            out.append((why is None, float(ttfb), start + float(total), why))
        return out

    def ranges(self, port, f):
        """RANGES ranges of MIB bytes at seeded offsets (not block-aligned), RANGE_CLIENTS
        keep-alive clients; (seconds, wrong answers, blocks the ranges touch, why)."""
        rnd = random.Random(RANGE_SEED)
        offs = [rnd.randrange(0, f.size - MIB + 1) for _ in range(RANGES)]
        touched = set()
        for o in offs:
            touched.update(range(o // MIB, (o + MIB - 1) // MIB + 1))
        fd = os.open(f.path, os.O_RDONLY)
        lock = threading.Lock()
        state = {"next": 0, "bad": 0, "why": None}
        deadline = time.monotonic() + CASE_LIMIT

        def client():
            conn = None
            while time.monotonic() < deadline:
                with lock:
                    i = state["next"]
                    state["next"] += 1
                if i >= len(offs):
                    break
                o = offs[i]
                why = None
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CURL_LIMIT)
                    conn.request("GET", f.url, headers={"Range": "bytes=%d-%d" % (o, o + MIB - 1)})
                    r = conn.getresponse()
                    body = r.read()
                    want_cr = "bytes %d-%d/%d" % (o, o + MIB - 1, f.size)
                    if r.status != 206:
                        why = "status %d for bytes=%d-" % (r.status, o)
                    elif r.getheader("Content-Range") != want_cr:
                        why = "Content-Range %s, not %s" % (r.getheader("Content-Range"), want_cr)
                    elif body != os.pread(fd, MIB, o):
                        why = "wrong bytes in the 206 for bytes=%d-" % o
                    if r.getheader("Connection", "").lower() == "close":
                        conn.close()
                        conn = None
                except (OSError, http.client.HTTPException) as e:
                    why = "bytes=%d-: %s" % (o, e)
                    if conn:
                        conn.close()
                    conn = None
                if why:
                    with lock:
                        state["bad"] += 1
                        state["why"] = state["why"] or why
            if conn:
                conn.close()

        t0 = time.monotonic()
        threads = [threading.Thread(target=client, daemon=True) for _ in range(RANGE_CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(deadline - time.monotonic(), 0.1) + CURL_LIMIT)
        secs = time.monotonic() - t0
        os.close(fd)
        bad = state["bad"] + max(len(offs) - state["next"], 0)
        if any(t.is_alive() for t in threads) or state["next"] < len(offs):
            state["why"] = state["why"] or "not every range was asked within %d s" % CASE_LIMIT
        return secs, bad, touched, state["why"]

    def start_relay(self, run):
        pf = run.wpath("fill-relay.port")
        if os.path.exists(pf):
            os.unlink(pf)
        self.relay = spawn.Bg(["python3", os.path.join(run.repo, RELAY), "--map", "0:%d" % self.plain,
                               "--port-file", pf, "--seconds", 180, "--flip-once", FLIP_AT],
                              run.wpath("fill-relay.log"), 200)
        if self not in run.started:
            run.started.append(self)  # stop() ends the relay on the way out, whatever happens
        for _ in range(100):
            if os.path.exists(pf):
                with open(pf) as fh:
                    return int(fh.readline())
            time.sleep(0.05)
        return None

    def stop(self):
        self.stop_relay()

    def stop_relay(self):
        if self.relay and self.relay.proc.poll() is None:
            self.relay.proc.terminate()
            try:
                self.relay.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.relay.proc.kill()
                self.relay.proc.wait()
        if self.relay:
            self.relay.wait()
        self.relay = None

    def tamper_get(self, run, port, key, r):
        """One curl fetches the cold 16 MiB file through a front whose upstream is the
        flipping relay; (differing bytes, what happened). updcache's client resumes
        (curl -C -) once if its first answer was cut."""
        got = run.wpath("fill-tamper-%s-%d.got" % (key, r))
        if os.path.exists(got):
            os.unlink(got)
        url = "http://127.0.0.1:%d%s" % (port, self.small.url)
        what = []
        for attempt in (1, 2):
            cmd = ["curl", "-sS", "-m", str(CURL_LIMIT), "-o", got, "-w", "%{http_code} %{size_download}", url]
            if attempt == 2:
                cmd[1:1] = ["-C", "-"]
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=CURL_LIMIT + 10)
            size = os.path.getsize(got) if os.path.exists(got) else 0
            what.append("%s%s %s B%s" % ("resumed: " if attempt == 2 else "", p.stdout.decode().split(" ")[0],
                                         size, " (curl exit %d)" % p.returncode if p.returncode else ""))
            if size >= self.small.size or key != "updcache" or p.returncode == 0:
                break
        diff = 0
        with open(got, "rb") as a, open(self.small.path, "rb") as b:
            while True:
                x, y = a.read(MIB), b.read(MIB)
                if not x:
                    break
                if x != y[:len(x)]:
                    diff += sum(1 for i in range(len(x)) if i >= len(y) or x[i] != y[i])
        if size < self.small.size:
            what.append("short by %d B" % (self.small.size - size))
        os.unlink(got)
        return diff, ", ".join(what)

    # ------------------------------------------------------------------ the cases

    def case(self, run, key, c, r):
        rec = lambda metric, v: run.rec.add(self.name, key, metric, v)
        upstream = self.plain
        if c == "d":
            upstream = self.start_relay(run)
            if upstream is None:
                self.stop_relay()
                note("ERROR: fill: the tamper relay did not start (see %s)" % run.wpath("fill-relay.log"))
                run.failed(self.name)
                self.tamper[key].append(None)
                return
        if not self.cold(run, key, upstream):
            note("ERROR: fill: %s did not start cold for case %s, round %d (see %s)" % (
                key, c, r, self.fronts[key].prefix))
            run.failed(self.name)
            self.stop_relay()
            for m in CASE_METRICS.get(c, ()):
                rec(m, None)
            if c == "d":
                self.tamper[key].append(None)
            return
        s = self.fronts[key]
        port = s.port
        f = self.small if c == "d" else self.big
        log0 = self.settle()
        cpu0 = s.cpu_ticks()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        res = {"round": r, "server": key, "case": c}
        if c in ("a", "b"):
            out = self.curls(port, f, 1 if c == "a" else CLIENTS)
            ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)  # the clients, all waited for
            ccpu = ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime
            ccsw = ru1.ru_nvcsw + ru1.ru_nivcsw - ru0.ru_nvcsw - ru0.ru_nivcsw
            bad = [o for o in out if not o[0]]
            ttfbs = [o[1] for o in out if o[1] is not None]
            done = max((o[2] for o in out if o[2] is not None), default=None)
            res.update({"clients": len(out), "wrong": len(bad), "ttfb_s": ttfbs, "last_done_s": done,
                        "why": bad[0][3] if bad else None, "client_cpu_s": ccpu, "client_csw": ccsw})
        elif c == "c":
            secs, nbad, touched, why = self.ranges(port, f)
            res.update({"ranges": RANGES, "wrong": nbad, "seconds": secs, "blocks_touched": len(touched),
                        "why": why})
            self.touched_mib = len(touched)
        else:
            diff, what = self.tamper_get(run, port, key, r)
            res.update({"differing_bytes": diff, "what": what})
        log1 = self.settle()
        cpu1 = s.cpu_ticks()
        rb, rn = self.root_bytes(log0, log1, f)
        res.update({"root_bytes": rb, "root_requests": rn, "front_cpu_s": (cpu1 - cpu0) / os.sysconf("SC_CLK_TCK")})
        if key == "updcache":
            res["front_log_tail"] = self.fill_lines(s)
        run.runs[self.name].append(res)
        if c == "d":
            self.stop_relay()
            self.tamper[key].append(diff)
            self.notes.append((key, r, what))
            note("fill round %d %s d: %d bytes differ (%s), root %d B in %d requests" % (r, key, diff, what, rb, rn))
            if key == "updcache" and diff:
                note("ERROR: fill: updcache delivered %d wrong bytes behind the tamper relay" % diff)
                run.failed(self.name)
            return
        if res["wrong"]:
            self.wrong[key].append("%s r%d: %d wrong%s" % (c, r, res["wrong"], " (%s)" % res["why"] if res["why"] else ""))
            note("fill round %d %s %s: %d wrong answers: %s" % (r, key, c, res["wrong"], res["why"]))
            if key == "updcache":
                run.failed(self.name)
            for m in CASE_METRICS[c]:
                rec(m, None)
            return
        mib = rb / MIB
        rec(c + "_cpu", res["front_cpu_s"])
        if c in ("a", "b"):
            rec(c + "_ccpu", ccpu)
        if c == "a":
            rec("a_s", done)
            rec("a_ttfb", ttfbs[0] * 1000)
            rec("a_root", mib)
        elif c == "b":
            rec("b_s", done)
            rec("b_ttfb_med", statistics.median(ttfbs) * 1000)
            rec("b_ttfb_max", max(ttfbs) * 1000)
            rec("b_root", mib)
            rec("b_ccsw", ccsw / 1000)
        else:
            rec("c_s", secs)
            rec("c_root", mib)
        note("fill round %d %s %s: %s, root %.1f MiB in %d requests, front CPU %.2f s" % (
            r, key, c, "done %.2f s" % (done if c != "c" else secs) + (
                ", TTFB %s ms" % "/".join("%.0f" % (x * 1000) for x in (
                    [ttfbs[0]] if c == "a" else [statistics.median(ttfbs), max(ttfbs)]))
                if c != "c" else ""), mib, rn, res["front_cpu_s"]))

    def fill_lines(self, s):
        """The on-demand daemon's fill lines (its stderr), last few."""
        try:
            with open(os.path.join(s.prefix, "stdout.log"), errors="replace") as fh:
                lines = [l.rstrip() for l in fh if "fill" in l]
        except OSError:
            return []
        return lines[-5:]

    def run(self, run):
        if self.na:
            return
        if not self.set_up(run):
            return
        live = [k for k in FRONTS if k not in self.front_na]
        t0 = time.monotonic()
        for r in range(1, run.rounds + 1):
            order = [live[(i + r - 1) % len(live)] for i in range(len(live))]
            note("fill round %d/%d: %s" % (r, run.rounds, ", ".join(order)))
            for key in order:
                for c in CASES:
                    self.case(run, key, c, r)
                self.fronts[key].stop()
        note("fill: %d rounds in %.0f s" % (run.rounds, time.monotonic() - t0))
        for s in self.fronts.values():
            s.stop()
        self.root.stop()

    # ------------------------------------------------------------------ the table

    def values(self, run, key, metric):
        return run.rec.get(self.name, key, metric) or []

    def best_peer(self, run, metric):
        """Per round: the lowest peer figure (None where no peer has one)."""
        out = []
        for i in range(run.rounds):
            v = [self.values(run, p, metric)[i] for p in PEERS
                 if i < len(self.values(run, p, metric)) and self.values(run, p, metric)[i] is not None]
            out.append(min(v) if v else None)
        return out

    def cell(self, run, key, metric, form):
        if key in self.front_na:
            return self.front_na[key]
        v = self.values(run, key, metric)
        return stats.spread(form, v) if v else "-"

    def compare(self, run, metric, form, kind):
        u = self.values(run, "updcache", metric)
        best = self.best_peer(run, metric)
        q = stats.ratios(u, best)
        if stats.median(q) is None:
            return "x"
        out = "%.2f (%.2f-%.2f)" % (stats.median(q), stats.minv(q), stats.maxv(q))
        if kind == "ttfb":
            d = [None if a is None or b is None else a - b for a, b in zip(u, best)]
            out += ", %+.0f ms" % stats.median(d)
        return out

    def rows(self, t):
        run = t.run
        if self.na:
            t.text_row("-", self.na)
            return
        t.raw(col("fill", "metric (median (min-max))", *FRONTS) + "| updcache / best peer")
        for c, label, metric, form, kind in ROWS:
            cells = [self.cell(run, k, metric, form) for k in FRONTS]
            t.raw(col("fill", "%s %s" % (c, label), *cells) + "| " + self.compare(run, metric, form, kind))
        right = []
        for k in FRONTS:
            if k in self.front_na:
                right.append("n/a")
            else:
                right.append("yes" if not self.wrong[k] else "x %d case(s)" % len(self.wrong[k]))
        t.raw(col("fill", "a-c every byte right", *right) + "| -")
        tam = []
        for k in FRONTS:
            if k in self.front_na:
                tam.append("n/a")
            else:
                tam.append(" ".join("x" if v is None else str(v) for v in self.tamper[k]) or "-")
        t.raw(col("fill", "d tamper: bytes wrong/round", *tam) + "| -")

    def verdicts(self, run):
        """Each target of issue 13 against the medians: met or missed."""
        out = []
        med = lambda k, m: stats.median(self.values(run, k, m))
        for c, label, metric, form, kind in ROWS:
            u = med("updcache", metric)
            peers = [med(p, metric) for p in PEERS if med(p, metric) is not None]
            if u is None:
                out.append("%s %s: x" % (c, label))
                continue
            if kind == "time" and peers:
                ok = u <= min(peers)
                out.append("%s %s %s (%s vs %s)" % (c, label.split(":")[0], "met" if ok else "MISSED",
                                                    form % u, form % min(peers)))
            elif kind == "ttfb" and peers:
                ok = u <= min(peers) + 20
                out.append("%s %s %s (%s vs %s + 20)" % (c, label, "met" if ok else "MISSED", form % u,
                                                         form % min(peers)))
            elif kind == "bytes":
                ref = (getattr(self, "touched_mib", None) if c == "c" else BIG / MIB)
                if ref:
                    ok = u <= 1.05 * ref
                    out.append("%s root bytes %s (%.0f MiB vs 1.05 x %d MiB%s)" % (
                        c, "met" if ok else "MISSED", u, ref,
                        ", the blocks touched; the whole file is %d MiB, and a fill goes on when its "
                        "clients leave (SPEC 13)" % (BIG / MIB) if c == "c" else ""))
        return out

    def footnote(self, run):
        if self.na or not self.fronts:
            return None
        lines = [
            "fill: a root updcached (TLS + plain, 1 worker, access log on, files in page cache) pinned to core %d "
            "and each front server in turn (one at a time, rotated each round) %s; clients (curl piped into "
            "xxhsum -H2, XXH128 compared with the published file's; the ranges: Python http.client, 8 keep-alive connections) on core %d; "
            "every case cold at the front (updcache: a fresh store from `updcache sync --once` + restart; nginx: cache dir emptied + "
            "restart; varnish: restart). Fronts: updcache = updcached fill = on-demand (1 worker, 1 MiB ranged "
            "GETs, 4 per file in flight); nginx-lock = proxy_cache + proxy_cache_lock (lock_age 2m, "
            "lock_timeout 1h, as lancache); nginx-slice = the same + slice 1m, key $uri$slice_range, Range "
            "$slice_range, proxy_cache_valid 200 206 (lancache); varnish = varnishd -b, builtin VCL, streaming, "
            "-s malloc,2G." % (run.server_cpu, "free to use cores %s (UC_FILL_FRONT_CPUS=all)" % run.all_cpus
                                if FRONT_ALL else "pinned to core %d too" % run.server_cpu, run.gen_cpu),
            "fill cases: a = a cold 256 MiB file, 1 client; b = the same, %d clients at once (done = the last "
            "client's end from the first start); c = %d ranges of 1 MiB at offsets from random.Random(%d) "
            "(not block-aligned), %d clients, each 206 checked (status, Content-Range, bytes); they touch %s "
            "distinct 1 MiB blocks; d = tests/fixtures/relay.py --flip-once %d between front and root, one curl "
            "fetches a cold 16 MiB file, bytes differing from the published file (as cmp -l | wc -l) per round. "
            "b moves 8 GiB through curl and xxhsum on core %d: its completion times are partly the clients'. "
            "Front CPU = the front server's user+system time over the case (not asserted). "
            "Root MiB = the root's access-log bytes column for the case's file, from the case's start until "
            "the log was quiet for 1.5 s (it counts each response's length as logged, so a front that hangs up "
            "mid-body is counted in full). A case with a wrong byte is x." % (
                CLIENTS, RANGES, RANGE_SEED, RANGE_CLIENTS, getattr(self, "touched_mib", "?"), FLIP_AT,
                run.gen_cpu),
            "fill targets (issue 13, not asserted): updcache completion time <= the best peer's; root bytes <= "
            "1.05x the bytes served once (256 MiB; c: the blocks its ranges touch); TTFB <= best peer's + 20 ms. "
            "Against the medians: " + "; ".join(self.verdicts(run)) + ".",
        ]
        for k in FRONTS:
            if self.wrong[k]:
                lines.append("fill wrong answers, %s: %s" % (k, "; ".join(self.wrong[k])))
        seen = sorted(set(n[2] for n in self.notes))
        if len(seen) == 1:
            lines.append("fill tamper: every fetch (%d) got %s, no retry needed" % (len(self.notes), seen[0]))
        else:
            lines.append("fill tamper: " + "; ".join("%s r%d: %s" % n for n in self.notes))
        return "\n".join(lines)

    def generator(self, run):
        return "curl | xxhsum -H2, python http.client", self.footnote(run) or ""
