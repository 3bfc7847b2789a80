"""soak (issue 11; on demand only): updcached alone for --duration seconds (default
600) under the bits, do-ranges and express mixes at once with every body checked, 5,000
idle keep-alive connections, a slowloris trickle, a SIGHUP every 30 s, an `updcache add`
every 10 s and one `updcache verify --fast` halfway. It runs on a store of its own
(the content store's hot, .cab and .psf files imported into the run's directory), so
that the adds never touch the shared one. That store also holds SEED_FILES small files,
fetched on many connections before the load starts: every bounded cache of every
worker (the open-file cache's entries, the hot cache's bytes) is full from the start,
so the adds during the run replace entries instead of growing the caches, and a change
between start and end is growth that is not a cache reaching its size. Failed responses,
a daemon that dies, a failed add or verify, or a slowloris connection not cut off make the
exit status 1; RSS and open fds are reported at start and end, to be seen flat."""
import hashlib
import os
import signal
import time

from .. import probe, procfs, spawn, stats
from ..context import note
from ..loadgen import errors_of
from ..servers.updcached import UpdcachedSoak
from ..slowloris import Trickle
from .base import Scenario as Base

DEFAULT_S = 600
IDLE = 5000
HEADER_TIMEOUT_S = 5
SLOW_CONNS = 4
SLOW_GAP_S = 1.0  # one byte a second: the ~90-byte head would take 90 s
HUP_EVERY_S = 30
ADD_EVERY_S = 10
TRACE_EVERY_S = 60
ADD_BYTES = 64 << 10
# More than a worker's open-file cache holds (FDC_ENTRIES, 256, in cache/worker.c), each
# the size of an add, so that they also fill the hot cache (2M over the workers).
SEED_FILES = 300
SEED_BYTES = ADD_BYTES
SEED_CONNS = 16  # a file missed by a worker on all of them: 2^-16 per file with two workers
SEED_S = 5
MIXES = (("bits", "cab", 16, "head-get=50,range1m=25,get=25"),
         ("do-ranges", "payload", 16, "range1m=100"),
         ("express", "psf", 16, "small-ranges=100"))


class Scenario(Base):
    name = "soak"
    uses_servers = False  # its store is made from the content store's files

    def __init__(self):
        self.out = None
        self.na = None

    def na_of(self, run, column):
        return self.na if column == "updcache" else "-"

    def duration(self, run):
        return run.opts.duration if run.opts.duration_set else DEFAULT_S

    def make_store(self, run):
        """Hard links of the hot, .cab and .psf files in WSUS layout, imported."""
        src = run.wpath("soak-src")
        for s in ("hot", "cab", "psf"):
            for f in run.store.files(s):
                d = os.path.join(src, os.path.basename(os.path.dirname(f)))
                os.makedirs(d, exist_ok=True)
                os.link(f, os.path.join(d, os.path.basename(f)))
        self.seed_urls = run.wpath("soak-seed-urls.txt")
        with open(self.seed_urls, "w") as urls:
            for _ in range(SEED_FILES):
                data = os.urandom(SEED_BYTES)
                sha1 = hashlib.sha1(data).hexdigest().upper()
                d = os.path.join(src, sha1[38:])
                os.makedirs(d, exist_ok=True)
                with open(os.path.join(d, sha1 + ".cab"), "wb") as f:
                    f.write(data)
                urls.write("/Content/%s/%s.cab %d %s\n" % (sha1[38:], sha1, SEED_BYTES,
                                                          hashlib.sha256(data).hexdigest()))
        self.store = run.wpath("soak-store")
        conf = run.wpath("soak.conf")
        with open(conf, "w") as f:
            f.write("[server]\nstore = %s\n" % self.store)
        env = dict(os.environ, UPDCACHE_NO_PROGRESS="1")
        if spawn.run([run.updcache, "import", "--config", conf, src], run.wpath("soak-import.log"), 600, env=env):
            return "updcache import into the soak store failed"
        self.key = run.wpath("soak.key")
        if spawn.run([run.updcache, "keygen", "--out", self.key], run.wpath("soak-keygen.log"), 60):
            return "updcache keygen failed"
        return None

    def run(self, run):
        if not run.have_updcached():
            self.na = "n/a (updcached not built yet)"
            return
        if run.gen.name != "updcache-bench":
            self.na = "n/a (needs updcache-bench)"
            return
        why = self.make_store(run)
        d = self.duration(run)
        srv = UpdcachedSoak(run, self.store, HEADER_TIMEOUT_S, d + 300)
        if why or not srv.start():
            self.na = "n/a (%s)" % (why or "did not start")
            run.failed(self.name)
            return
        self.conf = os.path.join(srv.prefix, "updcached.conf")
        note("soak: %d s against updcached (pid %d, port %d) ..." % (d, srv.proc.pid, srv.port))
        self.out = self.soak(run, srv, d)
        srv.stop()
        o = self.out
        bad = []
        if o["failed"]:
            bad.append("%d failed responses" % o["failed"])
        if not o["alive"]:
            bad.append("the daemon died")
        if o["add_failed"] or o["add_not_served"]:
            bad.append("%d adds failed, %d not served" % (o["add_failed"], o["add_not_served"]))
        if o["verify_rc"] != 0:
            bad.append("verify --fast exit %s" % o["verify_rc"])
        if o["slow"].not_cut or not o["slow"].cut:
            bad.append("%d slowloris connections not cut off, %d cut" % (o["slow"].not_cut, o["slow"].cut))
        if bad:
            note("ERROR: soak: " + "; ".join(bad) + " (logs in %s)" % run.work)
            run.failed(self.name)

    def sample(self, srv):
        parts = procfs.rss_parts_kib(srv.pids)
        return {"rss_mib": srv.rss_kib() / 1024, "anon_mib": parts["anon"] / 1024,
                "file_mib": parts["file"] / 1024, "fds": procfs.open_fds(srv.proc.pid)}

    def add_file(self, run, i):
        data = os.urandom(ADD_BYTES)
        path = run.wpath("soak-add", "add-%03d.cab" % i)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        sha1 = hashlib.sha1(data).hexdigest().upper()
        return path, "/Content/%s/%s.cab" % (sha1[38:], sha1)

    def warm(self, run, srv):
        """Every seed file fetched on SEED_CONNS connections, so on every worker; the
        result's failures count with the run's."""
        load = run.gen.start(["--urls", self.seed_urls, "-c", SEED_CONNS, "--mix", "get=100", "--verify-body"],
                             srv.port, SEED_S, run.wpath("soak-seed.json"))
        load.finish()
        return load.result()

    def soak(self, run, srv, d):
        fresh = self.sample(srv)
        warm = self.warm(run, srv)
        o = {"fresh": fresh, "warm": warm, "rest_before": self.sample(srv), "hups": 0, "adds": 0, "add_failed": 0, "add_not_served": 0,
             "add_skipped": 0, "verify_rc": None, "verify_line": "not run", "alive": True}
        loads = {}
        for name, url_set, conns, mix in MIXES:
            loads[name] = run.gen.start(["--urls", run.store.url_file(url_set), "-c", conns, "--mix", mix,
                                         "--verify-body"], srv.port, d, run.wpath("soak-%s.json" % name))
        loads["idle"] = run.gen.start(["--urls", run.store.url_file("hot"), "-c", 1, "--rate", 100,
                                       "--idle", IDLE, "--verify-body"], srv.port, d, run.wpath("soak-idle.json"))
        slow = Trickle(srv.port, SLOW_CONNS, SLOW_GAP_S, HEADER_TIMEOUT_S + 5)
        t0 = time.monotonic()
        # "start" once the idle connections are all open (opening 5,000 takes a while on a
        # busy core), at a quarter of the run at the latest.
        start_by = d / 4
        next_hup, next_add, add, verify, n_add = HUP_EVERY_S, ADD_EVERY_S, None, None, 0
        pending_check = None
        o["trace"], next_trace = [], 0.0
        while any(l.running() for l in loads.values()):
            t = time.monotonic() - t0
            if t >= next_trace and t < d:
                # Anon RSS over the run: flat once pools and caches reached their size.
                next_trace += TRACE_EVERY_S
                o["trace"].append((t, self.sample(srv)))
            slow.tick(keep_opening=t < d - HEADER_TIMEOUT_S - 5)
            if "start" not in o:
                now = self.sample(srv)
                if (now["fds"] or 0) >= IDLE + (o["rest_before"]["fds"] or 0) or t >= start_by:
                    o["start"], o["start_s"] = now, t
            if t >= d - 2 and "end" not in o:
                o["end"] = self.sample(srv)
            if t >= next_hup and t < d:
                next_hup += HUP_EVERY_S
                if srv.live():
                    os.kill(srv.proc.pid, signal.SIGHUP)
                    o["hups"] += 1
            if add and not add.running():
                if add.wait() == 0:
                    o["adds"] += 1
                    pending_check = add_url
                else:
                    o["add_failed"] += 1
                add = None
            if pending_check:
                # A published file is served at once (the daemon reads the index as it changes).
                status, body = probe.request(srv.port, pending_check, timeout=5)
                if status != 200 or len(body) != ADD_BYTES:
                    o["add_not_served"] += 1
                pending_check = None
            if t >= next_add and t < d - 5:
                next_add += ADD_EVERY_S
                if add:
                    o["add_skipped"] += 1  # the last one still runs
                else:
                    n_add += 1
                    path, add_url = self.add_file(run, n_add)
                    add = spawn.Bg([run.updcache, "add", "--config", self.conf, "--key", self.key, "--title",
                                    "soak add %d" % n_add, path], run.wpath("soak-add-%03d.log" % n_add), 120,
                                   env=dict(os.environ, UPDCACHE_NO_PROGRESS="1"))
            if verify is None and t >= d / 2:
                verify = spawn.Bg([run.updcache, "verify", "--fast", "--config", self.conf],
                                  run.wpath("soak-verify.log"), 600, env=dict(os.environ, UPDCACHE_NO_PROGRESS="1"))
            if not srv.live():
                o["alive"] = False
            time.sleep(0.25)
        o["end"] = o.get("end") or self.sample(srv)
        if "start" not in o:
            o["start"], o["start_s"] = o["end"], d
        for b in (add, verify):
            if b:
                b.wait()
        if add:
            o["adds" if add.rc == 0 else "add_failed"] += 1
        if verify:
            o["verify_rc"] = verify.rc
            with open(verify.log, errors="replace") as f:
                lines = [l.strip() for l in f if l.strip()]
            o["verify_line"] = lines[-1] if lines else "(no output)"
        slow.close()
        o["slow"] = slow
        o["alive"] = o["alive"] and srv.live()
        o["results"] = {k: l.result() for k, l in loads.items()}
        o["rcs"] = {k: l.finish() for k, l in loads.items()}
        # At rest again: the generators' connections closed; give the server a moment.
        for _ in range(40):
            o["rest_after"] = self.sample(srv)
            if o["rest_after"]["fds"] is not None and o["rest_after"]["fds"] <= o["rest_before"]["fds"]:
                break
            time.sleep(0.25)
        res = [r for r in list(o["results"].values()) + [warm] if r]
        missing = sum(1 for k in loads if not o["results"][k] or o["rcs"][k]) + (warm is None)
        o["responses"] = sum(r["requests"] for r in res)
        o["failed"] = sum(errors_of(r) for r in res) + missing
        o["missing_results"] = missing
        o["bytes"] = sum(r["bytes"] for r in res)
        o["bytes_verified"] = sum(r.get("bytes_verified", 0) for r in res)
        o["idle_held"] = (o["results"]["idle"] or {}).get("idle_open")
        o["duration_s"] = d
        run.runs[self.name].append({"round": 1, "server": "updcache", "generator": run.gen.name, "result": {
            k: v for k, v in o.items() if k != "slow"}, "slowloris": vars(slow) | {"conns": None}})
        return o

    def rows(self, t):
        o = self.out
        if not o:
            t.text_row("-", self.na or "n/a")
            return
        s = o["slow"]
        mib = lambda k: "%.1f" % o[k]["rss_mib"]
        fds = lambda k: str(o[k]["fds"])
        t.text_row("responses", str(o["responses"]))
        t.text_row("failed (must be 0)", "%d%s" % (o["failed"], " (%d generators without a result)" %
                                                             o["missing_results"] if o["missing_results"] else ""))
        t.text_row("bytes checked, GiB", "%.1f (%.1f SHA-256'd)" % (o["bytes"] / (1 << 30),
                                                                   o["bytes_verified"] / (1 << 30)))
        t.text_row("seeded before start", "%d files, %s GETs on %d conns; fresh: %s MiB, %s fds" % (
            SEED_FILES, (o["warm"] or {}).get("requests", "no result"), SEED_CONNS, mib("fresh"), fds("fresh")))
        t.text_row("RSS MiB start / end", "%s / %s" % (mib("start"), mib("end")))
        part = lambda k: "%.1f + %.1f" % (o[k]["anon_mib"], o[k]["file_mib"])
        t.text_row("RSS anon + file, MiB", "%s / %s" % (part("start"), part("end")))
        t.text_row("RSS anon + file at rest", "%s / %s" % (part("rest_before"), part("rest_after")))
        t.text_row("RSS anon MiB by %d s" % TRACE_EVERY_S, " ".join("%.1f" % v["anon_mib"] for _, v in o["trace"]))
        t.text_row("open fds start / end", "%s / %s" % (fds("start"), fds("end")))
        t.text_row("RSS MiB, fds at rest", "%s, %s / %s, %s" % (mib("rest_before"), fds("rest_before"),
                                                               mib("rest_after"), fds("rest_after")))
        t.text_row("idle conns held at end", "%s of %d" % (o["idle_held"], IDLE))
        t.text_row("SIGHUPs sent", "%d, daemon %s" % (o["hups"], "alive" if o["alive"] else "DIED"))
        t.text_row("adds done / failed", "%d / %d" % (o["adds"], o["add_failed"] + o["add_not_served"]))
        t.text_row("verify --fast", "exit %s" % o["verify_rc"])
        t.text_row("slowloris cut / not cut", "%d / %d (408: %d)" % (s.cut, s.not_cut, s.answered_408))

    def footnote(self, run):
        o = self.out
        if not o:
            return None
        s = o["slow"]
        return ("soak: %d s against updcached alone (header_timeout %d s); bits, do-ranges and express mixes "
                "(-c 16 each, --verify-body) and --idle %d at once on core %d; responses and bytes are the good "
                "ones, every one checked for status, length and Content-Range, whole GETs also for SHA-256; "
                "before the load, %d seed files of %d KiB fetched on %d connections (every worker's open-file and hot "
                "caches full, so adds replace entries); "
                "start = after %.0f s (all idle connections open, or a quarter of the run), end = 2 s before the load stopped; at rest = before / after the load; "
                "SIGHUP every %d s, `updcache add` of a %d KiB file every %d s (each then fetched: %d not "
                "served, %d skipped while the last still ran); verify --fast at %.0f s: %s; slowloris: %d "
                "connections at a time sending one byte every %.0f s, cut off after %s s (median), %d not "
                "connected" % (
                    o["duration_s"], HEADER_TIMEOUT_S, IDLE, run.gen_cpu, SEED_FILES, SEED_BYTES >> 10, SEED_CONNS,
                    o["start_s"],
                    HUP_EVERY_S, ADD_BYTES >> 10, ADD_EVERY_S, o["add_not_served"], o["add_skipped"],
                    o["duration_s"] / 2, o["verify_line"], SLOW_CONNS, SLOW_GAP_S,
                    stats.fmt("%.1f", stats.median(s.cut_after)), s.connect_failed))
