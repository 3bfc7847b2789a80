"""cold (issue 10): 4 clients stream 256 MiB files that were dropped from the page cache
(posix_fadvise DONTNEED before each measured run) while 64 connections GET the hot 4 KiB
file: the hot requests' p99 shows whether the server's loop stalls on the disk. Two
updcache-bench instances at once, one per client group, both on the generator's core;
the warm-up warms the hot group only."""
import os

from .. import runner, stats, store
from ..loadgen import errors_of
from .base import SERVER_ROWS, LoadScenario
from .sync import resident

HOT_CONNS = 64
COLD_CONNS = 4
ROWS = (("hot requests/s", "hot_rps", "%.0f"), ("hot p99 latency, ms", "hot_p99_ms", "%.2f"),
        ("cold GiB/s", "cold_gibps", "%.2f"), ("cold p99 latency, ms", "cold_p99_ms", "%.2f"))


class Scenario(LoadScenario):
    name = "cold"
    url_set = "hot"
    conns = HOT_CONNS
    extra_metrics = ("hot_rps", "hot_p99_ms", "cold_gibps", "cold_p99_ms", "cold_resident_pct")

    def prepare(self, run):
        run.store.prepare_cold()

    def cold_args(self, run):
        return ["--urls", run.store.url_file("cold"), "-c", COLD_CONNS, "--mix", "get=100"]

    def generator(self, run):
        return run.gen.name, "hot: %s; cold: %s" % (" ".join(map(str, self.args(run))),
                                                     " ".join(map(str, self.cold_args(run))))

    def can_run(self, run):
        return run.gen.name == "updcache-bench"

    def before_measured(self, run, s):
        for f in run.store.files("cold"):
            fd = os.open(f, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)

    def start_measured(self, run, s, r):
        j = lambda group: run.wpath("run-cold-%s-%s-%d.json" % (group, s.key, r))
        return {"hot": run.gen.start(self.args(run), s.port, run.dur, j("hot"), ["--seed", r]),
                "cold": run.gen.start(self.cold_args(run), s.port, run.dur, j("cold"), ["--seed", r])}

    def keep(self, run, s, r, m):
        hot, cold = m.results["hot"], m.results["cold"]
        runner.raw_run(run, self.name, s, r, m, {"hot": hot, "cold": cold})
        runner.record_common(run, self.name, s, m, errors_of(hot) + errors_of(cold))
        runner.record_load(run, self.name, s, hot, m, prefix="hot_")
        runner.record_load(run, self.name, s, cold, m, prefix="cold_")
        if not cold["requests"]:
            # No cold file completed within the run: its histogram is empty, not 0 ms.
            run.rec.void_last(self.name, s.column, ("cold_p99_ms",))
        run.rec.add(self.name, s.column, "busy_pct", 100 * m.cpu_s / m.window)
        # How cold the run stayed: what of the cold set the run left in the page cache.
        pct = resident(run.store.files("cold"))
        run.rec.add(self.name, s.column, "cold_resident_pct", None if pct == "?" else float(pct))

    def rows(self, t):
        if not self.can_run(t.run):
            t.text_row("hot requests/s", "n/a (needs updcache-bench)")
            return
        for label, metric, form in ROWS + SERVER_ROWS:
            t.row(label, metric, form)
        t.errors_row()

    def footnote(self, run):
        if not any(run.rec.get(self.name, c, "cold_gibps") for c in run.servers):
            return None
        res = []
        for c in run.servers:
            v = run.rec.get(self.name, c, "cold_resident_pct")
            if v:
                res.append("%s %s%%" % (c, stats.fmt("%.0f", stats.median(v))))
        return ("cold: %d connections GET whole %d MiB files of %d (random order), dropped from the page cache "
                "(posix_fadvise DONTNEED) before each measured run, while %d connections GET the hot 4 KiB file: "
                "two updcache-bench instances on core %d; cold GiB/s counts whole files only (%d MiB steps per run); "
                "cold set in the page cache after a run (median): %s" % (
                    COLD_CONNS, store.COLD_MIB, store.COLD_FILES, HOT_CONNS, run.gen_cpu, store.COLD_MIB,
                    ", ".join(res) or "?"))
