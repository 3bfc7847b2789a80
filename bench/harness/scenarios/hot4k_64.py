"""hot4k-64: 64 keep-alive connections GET one hot 4 KiB file; after each run on nginx, wrk
loads nginx the same way, so that the generator is seen not to be the weaker link."""
from .. import stats
from ..table import cols, rcol
from .base import LoadScenario


class Scenario(LoadScenario):
    name = "hot4k-64"
    url_set = "hot"
    conns = 64
    wrk_ok = True

    def after_run(self, run, s, r):
        if s.column == "nginx":
            cross_check(run, s, r)

    def more_rows(self, t):
        wrk = t.run.rec.get(self.name, "wrk", "rps")
        if not wrk:
            return
        q = stats.ratios(t.run.rec.get(self.name, "nginx", "rps") or [], wrk)
        spread = tuple(stats.fmt("%.2f", f(q)) for f in (stats.median, stats.minv, stats.maxv))
        t.raw(cols(self.name, "wrk requests/s (check)", "-", stats.fmt("%.0f", stats.median(wrk)), "-")
              + rcol("bench/wrk %s (%s-%s)" % spread))


def cross_check(run, s, r):
    """wrk beside updcache-bench on nginx, right after it, same connections and duration."""
    if not run.gen.have_wrk or run.gen.name != "updcache-bench" or s.na:
        return
    json_path = run.wpath("wrk-%d.json" % r)
    path, _ = run.store.first("hot")
    load = run.gen.start_wrk("http://127.0.0.1:%d%s" % (s.port, path), 64, run.dur, json_path)
    res = load.result() if load.finish() == 0 else None
    run.rec.add("hot4k-64", "wrk", "rps", res["rps"] if res else None)
    if res:
        run.runs["hot4k-64"].append({"round": r, "server": "nginx", "generator": "wrk", "result": res})
