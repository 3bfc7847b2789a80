"""fill-ingest (on demand only): fill on miss against ingest, as issue 14 measures it. A
root updcached publishes one 1 GiB file; in front of it an on-demand updcached (a fresh
store from `updcache sync --once` each round) gets one curl for it, cold. Timed: until
the client has every byte, and until the fill is published (the file renamed into the
front's Content/, so hashed whole and fsync'ed). Anchor, in the same rounds: `updcache
add` of the same file (from the page cache) into a fresh store, and curl -P8 (eight curl
processes, an eighth of the file each, from the root's plain port to /dev/null): what
the link gives with nothing checked. Every process is free to use every core. The
front's store is verified after each fill (outside the timing); a failed fill, add,
curl or verify makes the round x and the exit status 1."""
import os
import shutil
import time

from .. import blob, conf, spawn, stats
from ..context import note
from ..servers.updcached import UpdcachedFillRoot, UpdcachedOnDemand
from ..tlslab import Lab
from .base import Scenario as Base
from .fill import File

NAME = "fill.updcache.test"
SIZE = 1 << 30
SEED = 1400
STAMP = "v1 one=%d seed=%d" % (SIZE, SEED)
LIMIT = 300  # seconds for any one step
PARALLEL = 8  # curl processes of the anchor, as in sync


class Scenario(Base):
    name = "fill-ingest"
    needs_store = False
    uses_servers = False

    def __init__(self):
        self.na = None
        self.root = self.front = None

    def prepare(self, run):
        if not run.have_updcached():
            self.na = "n/a (updcached not built yet)"
            return
        self.lab = lab = Lab(run, NAME, os.path.join(run.cache, "fill-1g"))
        log = run.wpath("fill-ingest-store.log")
        lab.ensure_cert(log)
        have = lab.stamped(STAMP)
        need = (3 - have) * SIZE + (1 << 30)  # root, front, add store; the 5% floor
        if shutil.disk_usage(run.cache).free < need:
            return self.fail_na(run, "needs %d MiB free in %s" % (need >> 20, run.cache))
        if have:
            note("fill-ingest: reusing %s" % lab.store)
            return
        note("fill-ingest: publishing 1 GiB into %s (first run only) ..." % lab.store)
        lab.new_store(log)
        gen = os.path.join(lab.dir, "gen")
        os.makedirs(gen)
        f = os.path.join(gen, "fill-1g.cab")
        blob.write(f, SIZE, SEED)
        lab.add("bench fill 1 GiB", [f], log)
        shutil.rmtree(gen)
        lab.set_stamp(STAMP)

    def run(self, run):
        if self.na:
            return
        ls = spawn.output([run.updcache, "ls", "--files", "--config", self.lab.conf], 120) or ""
        rows = [r for r in (l.split("\t") for l in ls.splitlines()) if len(r) >= 5 and int(r[3]) == SIZE]
        if not rows:
            return self.fail_na(run, "the root store lacks its 1 GiB file")
        self.f = File(rows[0], self.lab.store)
        self.root = UpdcachedFillRoot(run, self.lab, key="updcache-root-1g")
        self.root.cpus = run.all_cpus
        if not self.root.start():
            return self.fail_na(run, "the root updcached did not start")
        with open(self.f.path, "rb") as fh:  # the root and add read it from the page cache
            while fh.read(1 << 20):
                pass
        od_dir = run.wpath("fill-ingest-od")
        os.makedirs(od_dir, exist_ok=True)
        self.od_store = os.path.join(od_dir, "store")
        self.od_conf = os.path.join(od_dir, "sync.conf")
        conf.render(run, "updcached-fill-od.conf.in", self.od_conf, 0, od_dir, self.od_store, lab=self.lab,
                    up_tls_port=self.root.port, content_port=self.root.port - 1)
        self.front = UpdcachedOnDemand(run, self.lab, self.root.port, self.od_store, key="updcache-od-1g")
        self.front.content_port = self.root.port - 1
        self.front.cpus = run.all_cpus
        for r in range(1, run.rounds + 1):
            steps = ["fill", "add", "curl"]
            order = steps[r % 3:] + steps[:r % 3]
            got = {step: getattr(self, step + "_run")(run, r) for step in order}
            self.record(run, r, got["fill"], got["add"], got["curl"])
        self.front.stop()
        self.root.stop()

    def fill_run(self, run, r):
        """(client MB/s, published MB/s, front CPU s), or Nones."""
        none = (None, None, None)
        shutil.rmtree(self.od_store, ignore_errors=True)
        log = run.wpath("fill-ingest-sync-%d.log" % r)
        env = dict(os.environ, UPDCACHE_NO_PROGRESS="1")
        if spawn.run([run.updcache, "sync", "--once", "--config", self.od_conf], log, LIMIT, env=env):
            note("ERROR: fill-ingest round %d: sync --once of the front's store failed (see %s)" % (r, log))
            run.failed(self.name)
            return none
        self.front.stop()
        if not self.front.start():
            note("ERROR: fill-ingest round %d: the front did not start (see %s)" % (r, self.front.prefix))
            run.failed(self.name)
            return none
        spawn.run(["sync", "-f", run.work], os.devnull, 120)  # earlier write-back is not charged
        published = os.path.join(self.od_store, self.f.rel)
        cpu0 = self.front.cpu_ticks()
        t0 = time.monotonic()
        out = run.wpath("fill-ingest-curl-%d.txt" % r)
        rc = spawn.run(spawn.pinned(run.all_cpus, ["curl", "-sS", "-m", LIMIT, "-o", "/dev/null", "-w",
                                                   "%{http_code} %{size_download}",
                                                   "http://127.0.0.1:%d%s" % (self.front.port, self.f.url)]),
                       out, LIMIT + 10)
        t_client = time.monotonic() - t0
        while not os.path.exists(published) and time.monotonic() - t0 < LIMIT:
            time.sleep(0.01)
        t_pub = time.monotonic() - t0
        cpu_s = (self.front.cpu_ticks() - cpu0) / os.sysconf("SC_CLK_TCK")
        with open(out, errors="replace") as fh:
            w = fh.read().split()
        why = None
        if rc or w[:2] != ["200", str(SIZE)]:
            why = "curl: exit %d, %s" % (rc, " ".join(w[:2]) or "no answer")
        elif not os.path.exists(published):
            why = "not published within %d s" % LIMIT
        else:
            vlog = run.wpath("fill-ingest-verify-%d.log" % r)
            if spawn.run([run.updcache, "verify", "--config", self.od_conf], vlog, LIMIT, env=env):
                why = "updcache verify of the front's store failed (see %s)" % vlog
        if why:
            note("ERROR: fill-ingest round %d: %s; the round's figures are x" % (r, why))
            run.failed(self.name)
            return none
        return SIZE / t_client / 1e6, SIZE / t_pub / 1e6, cpu_s

    def add_run(self, run, r):
        """`updcache add` of the root's file into a fresh store: MB/s and CPU s, or Nones."""
        d = run.wpath("fill-ingest-add")
        aconf, cmd = self.lab.fresh_add(d, "bench add", [self.f.path])
        log = run.wpath("fill-ingest-add-%d.log" % r)
        spawn.run(["sync", "-f", run.work], os.devnull, 120)
        c0 = os.times()
        t0 = time.monotonic()
        rc = spawn.run(spawn.pinned(run.all_cpus, cmd), log, LIMIT, env=dict(os.environ, UPDCACHE_NO_PROGRESS="1"))
        secs = time.monotonic() - t0
        c1 = os.times()
        got = self.lab.sha1s(aconf)
        shutil.rmtree(d, ignore_errors=True)
        if rc or got != [self.f.sha1]:
            note("ERROR: fill-ingest round %d: updcache add failed (exit %d, see %s)" % (r, rc, log))
            run.failed(self.name)
            return None, None
        return SIZE / secs / 1e6, (c1.children_user - c0.children_user) + (c1.children_system - c0.children_system)

    def curl_run(self, run, r):
        """The root's file in PARALLEL byte ranges, one curl process each, to /dev/null:
        MB/s, or None unless every range answered 206 with all its bytes."""
        part = SIZE // PARALLEL
        url = "http://127.0.0.1:%d%s" % (self.root.port - 1, self.f.url)
        args = "".join("-r %d-%d %s\n" % (i * part, SIZE - 1 if i == PARALLEL - 1 else (i + 1) * part - 1, url)
                       for i in range(PARALLEL))
        argf, out = run.wpath("fill-ingest-curl-args.txt"), run.wpath("fill-ingest-curlp-%d.txt" % r)
        with open(argf, "w") as fh:
            fh.write(args)
        t0 = time.monotonic()
        with open(argf) as args_in, open(out, "wb") as o:
            rc = spawn.Bg(spawn.pinned(run.all_cpus, ["xargs", "-P", PARALLEL, "-L", 1, "curl", "-sS", "-o",
                                                     "/dev/null", "-w", "%{http_code} %{size_download}\n"]),
                          out + ".err", LIMIT, stdout=o, stdin=args_in).wait()
        secs = time.monotonic() - t0
        with open(out) as fh:
            got = [l.split() for l in fh]
        if rc or sorted(g[0] for g in got) != ["206"] * PARALLEL or sum(int(g[1]) for g in got) != SIZE:
            note("ERROR: fill-ingest round %d: curl -P%d failed (exit %s, see %s)" % (r, PARALLEL, rc, out))
            run.failed(self.name)
            return None
        return SIZE / secs / 1e6

    def record(self, run, r, fill, add, curl):
        rec = lambda metric, v: run.rec.add(self.name, "updcache", metric, v)
        (client, pub, cpu), (a_mbps, a_cpu) = fill, add
        rec("curl_mbps", curl)
        rec("client_mbps", client)
        rec("pub_mbps", pub)
        rec("front_cpu_s", cpu)
        rec("add_mbps", a_mbps)
        rec("add_cpu_s", a_cpu)
        rec("pub_over_add", pub / a_mbps if None not in (pub, a_mbps) else None)
        rec("client_over_add", client / a_mbps if None not in (client, a_mbps) else None)
        f = lambda form, v: stats.fmt(form, v)
        note("fill-ingest round %d/%d: client done %s MB/s, published %s MB/s (front CPU %s s), add %s MB/s "
             "(CPU %s s), curl -P%d %s MB/s" % (r, run.rounds, f("%.0f", client), f("%.0f", pub), f("%.1f", cpu),
                                                f("%.0f", a_mbps), f("%.1f", a_cpu), PARALLEL, f("%.0f", curl)))

    def rows(self, t):
        if self.na:
            t.text_row("-", self.na)
            return
        g = lambda m: t.run.rec.get(self.name, "updcache", m) or []
        t.text_row("fill: client done, MB/s", stats.spread("%.0f", g("client_mbps")))
        t.text_row("fill: published, MB/s", stats.spread("%.0f", g("pub_mbps")))
        t.text_row("fill: front CPU s", stats.spread("%.2f", g("front_cpu_s")))
        t.text_row("add of the same file, MB/s", "-", stats.spread("%.0f", g("add_mbps")))
        t.text_row("add: CPU s", "-", stats.spread("%.2f", g("add_cpu_s")))
        t.text_row("curl -P%d from the root, MB/s" % PARALLEL, "-", stats.spread("%.0f", g("curl_mbps")))
        t.text_row("published / add (>= 0.8)", stats.spread("%.2f", g("pub_over_add")))
        t.text_row("client done / add", stats.spread("%.2f", g("client_over_add")))

    def footnote(self, run):
        if self.na:
            return None
        return ("fill-ingest: a root updcached (TLS + plain, 1 worker, the 1 GiB file in page cache) and in front "
                "of it updcached fill = on-demand (1 worker; a fresh store from `updcache sync --once` and a "
                "restart each round), one cold `curl -o /dev/null`; client done = curl's end, published = the "
                "file in the front's Content/ (whole-file SHA-1 + SHA-256 checked, fsync'ed, renamed), both from "
                "the curl's start; the front's store verified after each round; 'updcache add' of the same file "
                "into a fresh store, and curl -P%d of eighths of the file from the root's plain port to /dev/null, "
                "order rotating; every process on cores %s (unpinned); MB = 10^6 bytes; "
                "the add and curl figures stand in the nginx column" % (PARALLEL, run.all_cpus))

    def generator(self, run):
        return "curl, updcache add, curl -P%d" % PARALLEL, self.footnote(run) or ""
