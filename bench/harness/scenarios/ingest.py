"""ingest: bench/ingest (`updcache add` against the hashing limit and the shell pipeline)
on both cores; its key figures in the updcache column."""
import json
import math

from .. import spawn
from ..context import note
from .base import Scenario as Base

ROWS = (("ram.add_ch", "add MB/s, tmpfs copy+hash"), ("disk.add_overall", "add MB/s, disk overall"),
        ("disk.add_overall.toL", "add / hashing limit L"), ("disk.vs_wall", "add / sha+cp+sync pipeline"))


def r2(x):
    """Rounded to 2 decimals and printed as short as it goes (1186.5, 968, 0.6)."""
    v = math.floor(x * 100 + 0.5) / 100
    return ("%.2f" % v).rstrip("0").rstrip(".")


class Scenario(Base):
    name = "ingest"
    needs_store = False
    uses_servers = False

    def __init__(self):
        self.res = None

    def run(self, run):
        args = ["--size-mib", 64, "--files", 4, "--rounds", 1] if run.opts.quick else \
            ["--size-mib", 512, "--files", 8, "--rounds", 3]
        self.cmd = "bench/ingest " + " ".join(map(str, args))
        note("ingest: %s (on both cores) ..." % self.cmd)
        out = run.wpath("ingest.json")
        # bench/ingest uses both cores; undo this process's pinning for it.
        rc = spawn.run(spawn.pinned("0,1", [run.repo + "/bench/ingest"] + args + ["--keep", "--json", out]),
                       run.wpath("ingest.log"), 1800)
        if rc:
            note("warning: bench/ingest failed (see %s)" % run.wpath("ingest.log"))
            run.keep_work = True
            return
        with open(out) as f:
            self.res = json.load(f)
        run.runs[self.name].append({"round": None, "server": "updcache", "generator": "bench/ingest",
                                    "result": self.res})

    def rows(self, t):
        if not self.res:
            t.text_row("-", "n/a (bench/ingest failed)")
            return
        for k, label in ROWS:
            per = self.res["per_round"][k]
            t.text_row(label, "%s (%s-%s)" % (r2(self.res["median"][k]), r2(min(per)), r2(max(per))))

    def generator(self, run):
        return run.gen.name, ""
