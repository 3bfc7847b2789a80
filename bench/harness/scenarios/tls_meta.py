"""tls-meta: the TLS metadata endpoint (SPEC section 6), a ServerSyncWebService page of
500 envelopes over keep-alive TLS, against nginx serving the same bytes as a static file
over TLS with the same certificate. It runs its own two servers; lighttpd is not
measured. The load generator is wrk whatever else is built (updcache-bench speaks no
TLS); answers other than 200 void the round's rates and make the exit status 1."""
import json
import os
import time

from .. import blob, runner
from ..context import note
from ..loadgen import errors_of
from ..servers.nginx import NginxTLS
from ..servers.updcached import UpdcachedTLS
from ..tlslab import Lab
from .base import REQUEST_ROWS, SERVER_ROWS, Scenario as Base

NAME = "bench.updcache.test"
UPDATES = 500
FILE_BYTES = 300
# A change here changes the stamp, which republishes the updates.
STAMP = "v1 updates=%dx%dB name=%s" % (UPDATES, FILE_BYTES, NAME)
CONNS = 32
PATH = "/ServerSyncWebService/updates?since=0&limit=%d" % UPDATES


class Scenario(Base):
    name = "tls-meta"
    needs_store = False
    uses_servers = False
    can_run = staticmethod(lambda run: True)

    def __init__(self):
        self.na = {}  # table column -> why it has no figures
        self.servers = {}
        self.page_bytes = None
        self.lab = None

    def na_of(self, run, column):
        return self.na.get(column)

    def prepare(self, run):
        if not run.gen.have_wrk or not run.have_updcached():
            return
        self.lab = lab = Lab(run, NAME, os.path.join(run.cache, "tls"))
        log = run.wpath("tls-store.log")
        lab.ensure_cert(log)
        if lab.stamped(STAMP):
            note("tls-meta: reusing %s" % lab.store)
            return
        t0 = time.monotonic()
        note("tls-meta: publishing %d signed updates into %s (first run only) ..." % (UPDATES, lab.store))
        lab.new_store(log)
        gen = os.path.join(lab.dir, "gen")
        os.makedirs(gen)
        # One small file per update, each different (slices of one stream): one envelope each.
        data = b"".join(blob.stream(UPDATES * FILE_BYTES, 500))
        for i in range(UPDATES):
            f = os.path.join(gen, "u.%04d" % i)
            with open(f, "wb") as out:
                out.write(data[i * FILE_BYTES:(i + 1) * FILE_BYTES])
            lab.add("bench update %d" % (i + 1), [f], log)
            os.unlink(f)
        os.rmdir(gen)
        lab.set_stamp(STAMP)
        note("tls-meta: store ready in %.0f s" % (time.monotonic() - t0))

    def fail(self, run, why):
        """The scenario cannot be measured as it should: no figures for either server."""
        self.na["updcache"] = self.na["nginx"] = "n/a (%s)" % why
        run.failed(self.name)
        note("ERROR: tls-meta: %s (logs in %s)" % (why, run.work))

    def fetch_page(self, run, u):
        """The page as updcached serves it, saved as the file nginx serves: it must hold
        UPDATES envelopes, and a second request must answer the same bytes."""
        hdr = {"Authorization": "Bearer " + u.cookie}
        s1, page = self.lab.request(u.port, PATH, headers=hdr)
        s2, again = self.lab.request(u.port, PATH, headers=hdr)
        if s1 != 200 or s2 != 200:
            return self.fail(run, "the page request to updcached failed")
        try:
            n = len(json.loads(page)["updates"])
        except (ValueError, KeyError, TypeError):
            n = "none"
        if n != UPDATES:
            return self.fail(run, "the page holds %s updates, not %d" % (n, UPDATES))
        if page != again:
            return self.fail(run, "two requests for the page answered different bytes")
        os.makedirs(run.wpath("nginx-tls"), exist_ok=True)
        with open(run.wpath("nginx-tls", "page.json"), "wb") as f:
            f.write(page)
        self.page_bytes = len(page)
        return page

    def run(self, run):
        if not run.gen.have_wrk:
            self.na = {"updcache": "n/a (needs wrk)", "nginx": "n/a (needs wrk)"}
            return
        if not run.have_updcached():
            self.na = {"updcache": "n/a (updcached not built yet)",
                       "nginx": "n/a (the page comes from updcached)"}
            return
        u = UpdcachedTLS(run, self.lab)
        live = []
        page = None
        if u.start():
            page = self.fetch_page(run, u)
        else:
            self.na["updcache"] = u.na
        if page:
            live.append(u)
            n = NginxTLS(run, self.lab, PATH, self.page_bytes)
            if not n.start():
                self.na["nginx"] = n.na
            elif self.lab.request(n.port, PATH)[1] != page:
                self.fail(run, "nginx does not serve the page's bytes")
                live = []
            else:
                live.append(n)
        elif "nginx" not in self.na:
            self.na["nginx"] = "n/a (the page comes from updcached)"
        self.servers = {s.column: s for s in live}
        if live:
            note("tls-meta: page of %d envelopes, %d bytes" % (UPDATES, self.page_bytes))
        for r in range(1, run.rounds + 1 if live else 1):
            for i in range(len(live)):
                s = live[(i + r - 1) % len(live)]
                self.measure(run, s, r)
                note("tls-meta round %d/%d %s: %s" % (r, run.rounds, s.column,
                                                      runner.summary(run, self.name, s.column)))
        for s in live:
            s.stop()

    def wrk(self, run, s, secs, json_path):
        return run.gen.start_wrk("https://127.0.0.1:%d%s" % (s.port, PATH), CONNS, secs, json_path,
                                 headers=["Authorization: Bearer %s" % self.cookie])

    def measure(self, run, s, r):
        """As runner.measure, with wrk over TLS: a warm-up run, then the measured run."""
        if s.column == "updcache":
            # A fresh cookie each round: cookie_ttl (1h) never runs out however long the run.
            cookie = self.lab.new_cookie(s.port)
            if cookie:
                s.cookie = cookie
            else:
                note("warning: tls-meta: no new cookie; keeping the last one")
        self.cookie = self.servers["updcache"].cookie
        warm = run.wpath("warm-tls-meta-%s.json" % s.column)
        load = self.wrk(run, s, run.warm, warm)
        res = load.result() if load.finish() == 0 else None
        if res is None:
            note("warning: warm-up of tls-meta on %s failed (see %s.log)" % (s.column, warm))
        m = runner.Measured(s, {}, s.rss_kib(), errors_of(res) if res else None)
        json_path = run.wpath("run-tls-meta-%s-%d.json" % (s.column, r))
        m.loads = {"main": self.wrk(run, s, run.dur, json_path)}
        if not m.sample(s):
            note("ERROR: tls-meta on %s, round %d: wrk failed (exit %s, see %s.log)" % (
                s.column, r, m.rcs["main"], json_path))
            run.failed(self.name)
            runner.record_fail(run, self, s)
            return
        m.peak_kib = m.peak_kib or s.rss_kib()
        res = m.results["main"]
        runner.raw_run(run, self.name, s, r, m, res, generator="wrk")
        runner.record_common(run, self.name, s, m, errors_of(res))
        runner.record_load(run, self.name, s, res, m)
        err = run.rec.last(self.name, s.column, "errors")
        if err != 0:
            note("ERROR: tls-meta on %s, round %d: %s answers other than 200 or socket errors "
                 "(see %s.log, %s.log); the round's figures are x" % (s.column, r, err, json_path, warm))
            run.failed(self.name)
            run.rec.void_last(self.name, s.column, ("rps", "gibps", "p99_ms", "cpu_us", "cpu_gib", "busy_pct"))

    def rows(self, t):
        if self.na.get("updcache") and self.na.get("nginx"):
            t.text_row("requests/s", self.na["updcache"], self.na["nginx"], "-")
            return
        for label, metric, form in REQUEST_ROWS + SERVER_ROWS:
            t.row(label, metric, form)
        t.errors_row()

    def footnote(self, run):
        if not self.page_bytes:
            return None
        proto = lambda c: getattr(self.servers.get(c), "proto", None) or "?"
        return ("tls-meta: wrk -t1 -c%d on core %d, keep-alive HTTP/1.1 over TLS, GET %s (%d envelopes, "
                "%d bytes; nginx serves the same bytes as a static file); updcache %s, nginx %s" % (
                    CONNS, run.gen_cpu, PATH, UPDATES, self.page_bytes, proto("updcache"), proto("nginx")))

    def generator(self, run):
        args = ("wrk -t1 -c%d -d%ds --timeout 10s --latency -H 'Authorization: Bearer <downstream cookie>' "
                "https://127.0.0.1:<port>%s" % (CONNS, run.dur, PATH))
        return "wrk", "%s; %s" % (args, self.footnote(run) or "")
