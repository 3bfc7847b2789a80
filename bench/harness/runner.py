"""Alternated rounds, shared by the scenarios that load servers.

The machine is shared and its speed drifts by tens of percent within an hour, so each
scenario runs against every server in turn, round after round, and only ratios taken
within the same round are compared. Each run gets a warm-up run first; around the
measured run the server's CPU ticks and RSS are read from /proc, and so is the CPU
that others (other processes, kernel threads, steal) took meanwhile.
"""
import os
import shutil
import time

from . import loadgen, procfs
from .context import note

FAIL_METRICS = ("rps", "gibps", "p99_ms", "cpu_us", "cpu_gib", "busy_pct", "rss_mib", "errors",
                "rss_rest_mib", "rss_idle_mib", "rss_per_conn_kib", "idle_open")
SUMMARY_METRICS = ("rps", "gibps", "p99_ms", "cpu_us", "busy_pct", "rss_mib", "rss_per_conn_kib",
                   "hot_rps", "hot_p99_ms", "cold_gibps", "errors")


class Measured:
    """The server-side figures of one measured run."""

    def __init__(self, server, loads, rest_kib, warm_errors):
        self.loads = loads
        self.rest_kib = rest_kib
        self.warm_errors = warm_errors
        self.peak_kib = 0
        self.c0 = server.cpu_ticks()
        self.snap = procfs.SysSnap()
        self.t0 = time.monotonic()

    def sample(self, server):
        """RSS peak while the generators run; returns when the bounded generators end."""
        while any(l.running() for l in self.loads.values()):
            self.peak_kib = max(self.peak_kib, server.rss_kib())
            time.sleep(0.25)
        self.rcs = {k: l.finish() for k, l in self.loads.items()}
        c1 = server.cpu_ticks()
        # The window is a little longer than the duration (generator start, idle connections).
        self.window = time.monotonic() - self.t0
        self.others_s, self.steal_s, _ = procfs.others_since(self.snap, c1 - self.c0)
        self.cpu_s = (c1 - self.c0) / procfs.HZ
        self.results = {k: l.result() for k, l in self.loads.items()}
        return all(self.rcs[k] == 0 and self.results[k] for k in self.loads)


def warm_up(run, scen, s):
    """The warm-up run: fills caches on both sides, and is the one that checks bodies
    (--verify-body costs the generator CPU we do not want in the measured run). Its
    errors, or None when it failed."""
    json_path = run.wpath("warm-%s-%s.json" % (scen.name, s.key))
    extra = ["--verify-body"] if run.gen.name == "updcache-bench" else []
    load = scen.start_warm(run, s, json_path, extra)
    if load.finish() != 0:
        note("warning: warm-up of %s on %s failed (see %s.log)" % (scen.name, s.key, json_path))
    res = load.result()
    return loadgen.errors_of(res) if res else None


def measure(run, scen, s, r):
    if scen.restart_each_run:
        # A fresh server, so that "at rest" is not what an earlier run left allocated.
        if not s.restart():
            record_fail(run, scen, s)
            return
    warm_errors = warm_up(run, scen, s) if scen.warm_up else 0
    rest = s.rss_kib()
    for attempt in (1, 2):
        scen.before_measured(run, s)
        m = Measured(s, {}, rest, warm_errors)
        m.loads = scen.start_measured(run, s, r)
        if m.sample(s):
            break
        # Once more: a failure can be passing (e.g. the generator being relinked).
        for k, load in m.loads.items():
            note("warning: %s on %s, round %d, try %d: generator failed (exit %s, see %s.log)" % (
                scen.name, s.key, r, attempt, m.rcs[k], load.json))
            if os.path.exists(load.json + ".log"):
                shutil.copy(load.json + ".log", "%s.try%d.log" % (load.json, attempt))
        run.keep_work = True
    else:
        record_fail(run, scen, s)
        return
    if not m.peak_kib:
        m.peak_kib = s.rss_kib()
    scen.keep(run, s, r, m)


def record_fail(run, scen, s):
    for metric in FAIL_METRICS + scen.extra_metrics:
        run.rec.add(scen.name, s.column, metric, None)


def raw_run(run, scen_name, s, r, m, result, generator=None):
    """The raw result and the server-side figures, for the scenario's JSON file."""
    run.rec.add(scen_name, "all", "others_pct", 100 * m.others_s / m.window)
    run.runs[scen_name].append({
        "round": r, "server": s.column, "generator": generator or run.gen.name, "result": result,
        "server_cpu_s": m.cpu_s, "server_rss_rest_kib": m.rest_kib,
        "server_rss_peak_kib": m.peak_kib, "window_s": m.window, "others_cpu_s": m.others_s,
        "steal_s": m.steal_s, "warmup_errors": m.warm_errors})


def record_load(run, scen_name, s, res, m, prefix=""):
    """rate, bytes, p99, CPU per request and per GiB, busy: both per request and per GiB,
    the table shows which the scenario is about (small files or bytes)."""
    rec = lambda metric, v: run.rec.add(scen_name, s.column, prefix + metric, v)
    rec("rps", res["rps"])
    rec("gibps", res["bytes_per_s"] / (1 << 30))
    rec("cpu_us", m.cpu_s * 1e6 / res["requests"] if res["requests"] > 0 else None)
    rec("cpu_gib", m.cpu_s * (1 << 30) / res["bytes"] if res["bytes"] > 0 else None)
    rec("p99_ms", res["latency_us"]["p99"] / 1000)
    # Below ~90% the server waited for the generator (or for the host): then its CPU per
    # request says more than its requests/s.
    rec("busy_pct", 100 * m.cpu_s / m.window)


def record_common(run, scen_name, s, m, errors):
    if m.warm_errors is not None:
        errors += m.warm_errors
    run.rec.add(scen_name, s.column, "errors", errors)
    run.rec.add(scen_name, s.column, "rss_mib", m.peak_kib / 1024)


def summary(run, scen_name, column):
    """The last recorded figures of a server, for the progress log."""
    out = []
    for metric in SUMMARY_METRICS:
        if run.rec.get(scen_name, column, metric):
            v = run.rec.last(scen_name, column, metric)
            out.append("%s=%s" % (metric, "x" if v is None else "%.4g" % v))
    return " ".join(out)


def run_rounds(run, scen, servers):
    """Each round runs every server once; the order rotates so that no server always goes
    first (after the others have warmed the CPU, or while a neighbour is busy)."""
    live = [s for s in servers if not s.na]
    n = len(live)
    for r in range(1, run.rounds + 1):
        for i in range(n):
            s = live[(i + r - 1) % n]
            if not scen.can_run(run):
                record_fail(run, scen, s)
                continue
            measure(run, scen, s, r)
            note("%s round %d/%d %s: %s" % (scen.name, r, run.rounds, s.key,
                                            summary(run, scen.name, s.column)))
            scen.after_run(run, s, r)
