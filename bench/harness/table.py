"""The table bench/run prints: medians per server, then median (min-max) of the
per-round ratios; each scenario adds its own rows through Table."""
import platform

from . import stats
from .servers import content

# The chart shows the headline metrics only: throughput, CPU cost, memory per connection.
PLOTTED = {"gibps", "cpu_us", "cpu_gib", "rss_per_conn_kib"}


def cols(*c):
    """Scenario, metric, then one cell per server column (the first one wider)."""
    widths = [12, 26, 34] + [18] * (len(c) - 3)
    return "| ".join("%-*s" % (w, v) for w, v in zip(widths, c))


def rcol(v):
    return "| %-24s" % v


class Table:
    def __init__(self, run):
        self.run = run
        self.lines = []
        self.scen = None
        self.columns = tuple(c.column for c in content(run))

    def pairs(self):
        """updcache against both, or lighttpd/nginx while updcache is n/a."""
        if not self.run.servers.get("updcache") or not self.run.servers["updcache"].na:
            pairs = [("updcache", "nginx"), ("updcache", "lighttpd")]
            if "updcache-b" in self.columns:
                pairs += [("updcache-b", "lighttpd"), ("updcache-b", "updcache")]
            return pairs
        return [("lighttpd", "nginx")]

    def na(self, column):
        return self.scen.na_of(self.run, column)

    def cell(self, metric, form, column):
        na = self.na(column)
        if na:
            return na
        v = self.run.rec.get(self.scen.name, column, metric)
        return stats.fmt(form, stats.median(v)) if v else "-"

    def ratio_cell(self, metric, a, b, label):
        rec = self.run.rec
        va, vb = rec.get(self.scen.name, a, metric), rec.get(self.scen.name, b, metric)
        if self.na(a) or self.na(b) or not va or not vb:
            return "-"
        q = stats.ratios(va, vb)
        med = stats.median(q)
        if med is None:
            return "x"
        if self.plotted(metric):
            self.run.plot.append((label, "%s/%s" % (a, b), med, stats.minv(q), stats.maxv(q)))
        return "%.2f (%.2f-%.2f)" % (med, stats.minv(q), stats.maxv(q))

    def plotted(self, metric):
        return metric in PLOTTED or (metric == "rps" and self.scen.name not in ("bits", "do-ranges"))

    def row(self, label, metric, form):
        s = self.scen.name
        line = cols(s, label, *(self.cell(metric, form, c) for c in self.columns))
        for a, b in self.pairs():
            line += rcol(self.ratio_cell(metric, a, b, "%s %s" % (s, label)))
        self.lines.append(line)

    def text_row(self, label, *cells):
        """The same text in every server column that has one (e.g. updcache's only)."""
        cells = list(cells) + ["-"] * (len(self.columns) - len(cells))
        self.lines.append(cols(self.scen.name, label, *cells) + "".join(rcol("-") for _ in self.pairs()))

    def raw(self, line):
        self.lines.append(line)

    def errors_row(self):
        """Errors must be 0; when they are not, the row shows them."""
        rec = self.run.rec
        bad = any(v is None or v != 0 for c in self.columns for v in rec.get(self.scen.name, c, "errors") or [])
        if not bad:
            return

        def lst(c):
            if self.na(c):
                return "n/a"
            v = rec.get(self.scen.name, c, "errors")
            return " ".join("x" if x is None else str(x) for x in v) if v else "-"
        self.text_row("ERRORS per round", *(lst(c) for c in self.columns))

    def render(self, scenarios):
        run = self.run
        o = run.opts
        out = ["", "server benchmark, %s: %d cores (%s), kernel %s" % (
            run.date, run.ncpu, run.cpu_model, platform.release()),
            "servers on core %d (1 worker each), load generator (%s, 1 thread) on core %d; "
            "%d rounds of %d s after a %d s warm-up, servers alternating" % (
                run.server_cpu, run.gen.name, run.gen_cpu, o.rounds, o.duration, o.warm),
            "server columns: median over rounds; ratios: median (min-max) of the per-round ratios",
            cols("scenario", "metric", *self.columns) + "".join(rcol("%s/%s" % p) for p in self.pairs())]
        for s in scenarios:
            self.scen = s
            s.rows(self)
        out += self.lines
        others = []
        for s in scenarios:
            v = run.rec.get(s.name, "all", "others_pct")
            if v:
                others.append("%s %s/%s" % (s.name, stats.fmt("%.0f", stats.median(v)),
                                            stats.fmt("%.0f", stats.maxv(v))))
        if others:
            out.append("other processes' CPU during measured runs, % of one core (median/max): "
                       + ", ".join(others))
        for s in scenarios:
            line = s.footnote(run)
            if line:
                out.append(line)
        out.append("versions: %s" % run.versions)
        out.append("command: %s" % run.command)
        return "\n".join(out) + "\n"
