"""access (issue 12): what access tracking costs. hot4k-64 and distinct4k against two
updcached, one with access tracking (the default) and one with
UPDCACHED_NO_ACCESS_TRACKING=1, alternated in each round like the content servers. Each
serves its own copy of the content store (files hard-linked, index copied by mdb_copy),
as two daemons cannot share one store. Target: tracking costs at most 2% of requests/s
and 2% more CPU per request."""
import os
import shutil

from .. import runner, spawn, stats
from ..context import note
from ..servers.updcached import Updcached
from ..table import cols, rcol
from . import distinct4k, hot4k_64
from .base import Scenario as Base

LOADS = (hot4k_64.Scenario, distinct4k.Scenario)
ROWS = (("requests/s", "rps", "%.0f"), ("server CPU us/request", "cpu_us", "%.1f"),
        ("p99 latency, ms", "p99_ms", "%.2f"))


class Tracking(Updcached):
    def __init__(self, run, on, root):
        self.column = "on" if on else "off"
        super().__init__(run, "updcache-access-" + self.column, root=root)
        if not on:
            self.env = {"UPDCACHED_NO_ACCESS_TRACKING": "1"}


def copy_store(run, src, dst, log):
    """Files hard-linked (same page cache), everything else copied, the index by mdb_copy:
    a consistent snapshot even while another daemon writes to it."""
    shutil.rmtree(dst, ignore_errors=True)
    os.makedirs(dst)
    for name in sorted(os.listdir(src)):
        path = os.path.join(src, name)
        if name == "Content":
            if spawn.run(["cp", "-al", path, dst], log, 600):
                return False
        elif name == "index":
            os.makedirs(os.path.join(dst, name))
            if spawn.run(["mdb_copy", path, os.path.join(dst, name)], log, 600):
                return False
        elif os.path.isdir(path):
            shutil.copytree(path, os.path.join(dst, name), symlinks=True)
    return True


def sub(cls):
    """A load of LOADS recorded under its own name (access:NAME), not the content one's."""
    return type("Access" + cls.__name__, (cls,), {"name": "access:" + cls.name, "load": cls.name})()


class Scenario(Base):
    name = "access"
    uses_servers = False

    def __init__(self):
        self.subs = [sub(c) for c in LOADS]
        self.servers = []
        self.na = None

    def can_run(self, run):
        return run.gen.name == "updcache-bench"

    def prepare(self, run):
        if not run.have_updcached():
            self.na = "n/a (updcached not built yet)"
            return
        for on in (True, False):
            root = run.wpath("access-%s" % ("on" if on else "off"), "store")
            if not copy_store(run, run.store.dir, root, run.wpath("access-copy.log")):
                self.na = "n/a (store copy failed: see access-copy.log)"
                run.keep_work = True
                return
            self.servers.append(Tracking(run, on, root))

    def run(self, run):
        if self.na or not self.can_run(run):
            return
        try:
            for s in self.servers:
                s.start()
            for sub in self.subs:
                runner.run_rounds(run, sub, self.servers)
            for sub in self.subs:
                run.runs[self.name] += [dict(r, load=sub.load) for r in run.runs.pop(sub.name, [])]
        finally:
            for s in self.servers:
                s.stop()
            for s in self.servers:
                shutil.rmtree(os.path.dirname(s.root), ignore_errors=True)

    def rows(self, t):
        if self.na or not self.can_run(t.run):
            t.text_row("requests/s", self.na or "n/a (needs updcache-bench)")
            return
        rec = t.run.rec
        for sub in self.subs:
            for label, metric, form in ROWS:
                on, off = rec.get(sub.name, "on", metric), rec.get(sub.name, "off", metric)
                if not on or not off:
                    continue
                q = stats.ratios(on, off)
                cell = lambda v: stats.fmt(form, stats.median(v))
                t.raw(cols(self.name, "%s %s" % (sub.load, label), "on %s, off %s" % (cell(on), cell(off)),
                           "-", "-") + rcol("on/off %s" % stats.spread("%.3f", q)))
            errs = [e for c in ("on", "off") for e in rec.get(sub.name, c, "errors") or []]
            if any(e is None or e != 0 for e in errs):
                t.text_row("%s ERRORS" % sub.load, " ".join("x" if e is None else str(e) for e in errs))

    def footnote(self, run):
        if self.na:
            return None
        return ("access: updcache with access tracking (on) and with UPDCACHED_NO_ACCESS_TRACKING=1 "
                "(off), each on its own copy of the store, alternated; target on/off >= 0.98 "
                "requests/s and <= 1.02 CPU per request")
