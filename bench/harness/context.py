"""The state of one bench/run invocation, shared by every module: paths, settings,
recorded figures, and what failed."""
import collections
import os
import sys

SERVER_CPU = 1
GEN_CPU = 0


def note(msg):
    sys.stderr.write("bench/run: %s\n" % msg)
    sys.stderr.flush()


class Fatal(Exception):
    """A step that the rest cannot do without failed: exit status 1."""


class Records:
    """Per-round values by (scenario, server, metric); None is a failed run, so that
    lists stay aligned with rounds."""

    def __init__(self):
        self.v = collections.defaultdict(list)

    def add(self, scen, server, metric, value):
        self.v[(scen, server, metric)].append(value)

    def get(self, scen, server, metric):
        return self.v.get((scen, server, metric))

    def last(self, scen, server, metric):
        v = self.v.get((scen, server, metric))
        return v[-1] if v else None

    def void_last(self, scen, server, metrics):
        for m in metrics:
            v = self.v.get((scen, server, m))
            if v:
                v[-1] = None


class Run:
    def __init__(self, opts, repo):
        self.opts = opts
        self.repo = repo
        self.updcache = os.environ.get("UPDCACHE_BIN") or os.path.join(repo, "build/tools/updcache")
        self.updcached = os.environ.get("UPDCACHED_BIN") or os.path.join(repo, "build/cache/updcached")
        self.updcached_b = os.environ.get("UPDCACHED_B_BIN")  # a second build, its own column
        self.gen_bin = os.path.join(repo, "build/bench/updcache-bench")
        self.server_cpu = SERVER_CPU
        self.gen_cpu = GEN_CPU
        self.ncpu = os.cpu_count()  # before this process pins itself to one core
        self.all_cpus = "0-%d" % (self.ncpu - 1)  # taskset for a process free to use them all
        self.rec = Records()
        self.runs = collections.defaultdict(list)  # scenario -> raw run records for --out
        self.plot = []  # rows of the ratio chart
        self.failed_in = []
        self.keep_work = False
        self.work = None
        self.gen = None  # loadgen.Generator
        self.servers = {}  # table column -> the content scenarios' server
        self.started = []  # every server started, for the cleanup

    @property
    def rounds(self):
        return self.opts.rounds

    @property
    def dur(self):
        return self.opts.duration

    @property
    def warm(self):
        return self.opts.warm

    @property
    def cache(self):
        return self.opts.cache

    def wpath(self, *parts):
        return os.path.join(self.work, *parts)

    def failed(self, scen):
        """The scenario's figures are not to be trusted: exit status 1, logs kept."""
        self.keep_work = True
        if scen not in self.failed_in:
            self.failed_in.append(scen)

    def have_updcached(self):
        return os.access(self.updcached, os.X_OK)
