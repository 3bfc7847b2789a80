"""What a run leaves in --out: the table, one JSON file per scenario with every raw run,
and the chart of the ratios (gnuplot, when installed)."""
import json
import os
import platform
import shutil

from . import spawn
from .context import note


def write(run, scenarios, table):
    out, day = run.opts.out, run.day
    with open(os.path.join(out, "%s-table.txt" % day), "w") as f:
        f.write(table)
    for s in scenarios:
        runs = run.runs.get(s.name)
        if not runs:
            continue
        gen, args = s.generator(run)
        doc = {"scenario": s.name, "date": run.date, "command": run.command, "generator": gen,
               "generator_args": args,
               "machine": {"cpu": run.cpu_model, "nproc": run.ncpu, "kernel": platform.release()},
               "versions": run.versions,
               "pinning": "servers on core %d, 1 worker; generator on core %d, 1 thread" % (
                   run.server_cpu, run.gen_cpu),
               "rounds": run.rounds, "duration_s": run.dur, "warmup_s": run.warm, "runs": runs}
        with open(os.path.join(out, "%s-%s.json" % (day, s.name)), "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
    note("wrote %s/%s-<scenario>.json" % (out, day))


def plot(run, pairs):
    if not shutil.which("gnuplot"):
        note("gnuplot missing: no chart")
        return
    if not run.plot:
        return
    out, day = run.opts.out, run.day
    tsv = os.path.join(out, "%s-ratios.tsv" % day)
    png = os.path.join(out, "%s-ratios.png" % day)
    with open(tsv, "w") as f:
        for row in run.plot:
            f.write("%s\t%s\t%.6f\t%.6f\t%.6f\n" % row)
    names = ["%s/%s" % p for p in pairs] + [""]
    cmd = ["gnuplot", "-e", "datafile='%s'; outfile='%s'; pair1='%s'; pair2='%s'" % (tsv, png, names[0], names[1]),
           "-e", "subtitle='%s, %d rounds of %d s, generator %s; servers on core %d, generator on core %d'" % (
               run.date, run.rounds, run.dur, run.gen.name, run.server_cpu, run.gen_cpu),
           os.path.join(run.repo, "bench", "plot.gp")]
    if spawn.run(cmd, run.wpath("gnuplot.log"), 120):
        note("gnuplot failed (see %s)" % run.wpath("gnuplot.log"))
        return
    note("wrote %s" % png)
