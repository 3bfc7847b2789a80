"""What the scenarios share. A Scenario prepares what it needs, runs, and adds its rows
to the table; LoadScenario is one updcache-bench load against each content server in
alternated rounds (runner.py), with the rows of a request-bound or a byte-bound load."""
from .. import runner
from ..context import note
from ..loadgen import errors_of

# The rows of a scenario about requests (small files), or about bytes (large files, ranges).
REQUEST_ROWS = (("requests/s", "rps", "%.0f"), ("p99 latency, ms", "p99_ms", "%.2f"),
                ("server CPU us/request", "cpu_us", "%.1f"))
BYTE_ROWS = (("GiB/s", "gibps", "%.2f"), ("p99 latency, ms", "p99_ms", "%.2f"),
             ("server CPU s/GiB", "cpu_gib", "%.3f"))
SERVER_ROWS = (("server core busy, %", "busy_pct", "%.0f"), ("server RSS peak, MiB", "rss_mib", "%.1f"))


class Scenario:
    name = None
    needs_store = True  # the content store
    uses_servers = True  # and the content servers
    extra_metrics = ()

    def prepare(self, run):
        """Stores and the like, before any scenario runs."""

    def run(self, run):
        raise NotImplementedError

    def rows(self, t):
        raise NotImplementedError

    def footnote(self, run):
        return None

    def fail_na(self, run, why):
        """The scenario cannot run (or stopped): its rows say why, the exit status is 1."""
        self.na = "n/a (%s)" % why
        run.failed(self.name)
        note("ERROR: %s: %s (logs in %s)" % (self.name, why, run.work))

    def na_of(self, run, column):
        s = run.servers.get(column)
        return s.na if s else None

    def generator(self, run):
        """For the JSON results: the generator and its arguments."""
        return run.gen.name, ""


class LoadScenario(Scenario):
    url_set = None
    conns = None
    mix = "get=100"
    byte_bound = False
    wrk_ok = False  # wrk (without updcache-bench) can express it
    restart_each_run = False
    warm_up = True

    def args(self, run):
        return ["--urls", run.store.url_file(self.url_set), "-c", self.conns, "--mix", self.mix]

    def generator(self, run):
        return run.gen.name, " ".join(str(a) for a in self.args(run))

    def can_run(self, run):
        return run.gen.name == "updcache-bench" or self.wrk_ok

    def _start(self, run, s, secs, json_path, extra):
        if run.gen.name == "updcache-bench":
            return run.gen.start(self.args(run), s.port, secs, json_path, extra)
        path, _ = run.store.first(self.url_set)
        return run.gen.start_wrk("http://127.0.0.1:%d%s" % (s.port, path), self.conns, secs, json_path)

    def start_warm(self, run, s, json_path, extra):
        return self._start(run, s, run.warm, json_path, extra)

    def before_measured(self, run, s):
        pass

    def start_measured(self, run, s, r):
        json_path = run.wpath("run-%s-%s-%d.json" % (self.name, s.key, r))
        return {"main": self._start(run, s, run.dur, json_path, ["--seed", r])}

    def keep(self, run, s, r, m):
        res = m.results["main"]
        runner.raw_run(run, self.name, s, r, m, res)
        runner.record_common(run, self.name, s, m, errors_of(res))
        runner.record_load(run, self.name, s, res, m)

    def after_run(self, run, s, r):
        pass

    def run(self, run):
        runner.run_rounds(run, self, [run.servers[c] for c in run.servers])

    def rows(self, t):
        if not self.can_run(t.run):
            t.text_row("requests/s", "n/a (needs updcache-bench)")
            return
        rows = BYTE_ROWS if self.byte_bound else REQUEST_ROWS
        if self.name in ("bits", "do-ranges"):
            rows = (("requests/s", "rps", "%.0f"),) + rows
        for label, metric, form in rows + SERVER_ROWS:
            t.row(label, metric, form)
        self.more_rows(t)
        t.errors_row()

    def more_rows(self, t):
        pass


class IdleScenario(LoadScenario):
    """N idle keep-alive connections beside a trickle of requests: memory per connection."""
    idle = None
    url_set = "hot"
    restart_each_run = True
    warm_up = False

    def args(self, run):
        return ["--urls", run.store.url_file("hot"), "-c", 1, "--rate", 100, "--idle", self.idle]

    def keep(self, run, s, r, m):
        res = m.results["main"]
        runner.raw_run(run, self.name, s, r, m, res)
        runner.record_common(run, self.name, s, m, errors_of(res))
        rec = lambda metric, v: run.rec.add(self.name, s.column, metric, v)
        held = res.get("idle_open") or 0
        rec("idle_open", held)
        rec("rss_rest_mib", m.rest_kib / 1024)
        rec("rss_idle_mib", m.peak_kib / 1024)
        rec("rss_per_conn_kib", (m.peak_kib - m.rest_kib) / held if held > 0 else None)

    def rows(self, t):
        if not self.can_run(t.run):
            t.text_row("RSS per idle conn", "n/a (needs updcache-bench)")
            return
        t.row("RSS at rest, MiB", "rss_rest_mib", "%.1f")
        t.row("RSS with N idle, MiB", "rss_idle_mib", "%.1f")
        t.row("idle conns held", "idle_open", "%.0f")
        t.row("RSS per idle conn, KiB", "rss_per_conn_kib", "%.2f")
        t.errors_row()
