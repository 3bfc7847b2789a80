"""bench/run's command line: the same options, scenario names and exit statuses as the
bash script it replaced (0 done, 1 a step failed, 2 bad usage or missing tools)."""
import os
import sys

from .scenarios import ALL, DEFAULT, QUICK_SKIP_3, ON_DEMAND

DEFAULT_CACHE = "/var/tmp/updcache-bench"
TOO_BROAD = {"/", "/var", "/var/tmp", "/tmp", "/home", "/root"}


class UsageError(Exception):
    pass


class Opts:
    quick = False
    build = True
    rounds = 3
    duration = 10
    warm = 2
    rounds_set = False
    duration_set = False

    def __init__(self, repo):
        self.out = os.path.join(repo, "bench", "results")
        self.cache = DEFAULT_CACHE
        self.scenarios = []


def usage():
    return """usage: bench/run [--quick] [--rounds N] [--out DIR] [options] [SCENARIO...]

Benchmark updcached against nginx and lighttpd serving the same store on 127.0.0.1.
Prints one table of medians and of per-round ratios; writes raw results to --out.

  --quick          2 rounds of 3-second runs (1 s warm-up), ingest on small files; with
                   three servers also without %(skip)s; about 5 minutes on a
                   2-core machine once the stores are generated
  --rounds N       rounds per scenario (default 3, --quick 2)
  --duration S     seconds per measured run (default 10, --quick 3); soak: its length
                   (default 600)
  --out DIR        result files (default bench/results of this repo)
  --cache DIR      the generated stores, kept between runs (default %(cache)s)
  --no-build       use build/bench/updcache-bench as it is (no make)
  --help           this text

UPDCACHED_BIN=/path/to/updcached measures another build of the daemon, UPDCACHE_BIN=/path/to/updcache
another build of the tool (sync, add, ingest). UPDCACHED_B_BIN=/path/to/updcached adds that build
as a fourth column (updcache-b) of the content scenarios, alternated with the others in the same
rounds, with its ratios to lighttpd and to updcache: an A/B that host drift between runs does not blur.

scenarios (default all but %(ondemand)s): %(all)s

The load generator is build/bench/updcache-bench (rebuilt with make when its source is
in the tree); without it, wrk runs the scenarios it can express and the others are n/a.
Server and generator are pinned to different cores, one server worker; each round runs
every server once, in rotating order, and ratios are taken within a round.

cold: 4 clients stream 256 MiB files dropped from the page cache before each run
(posix_fadvise DONTNEED) while 64 connections GET the hot 4 KiB file; two generator
instances at once; rows: the hot requests' rate and p99 and the cold GiB/s.

tls-meta: GET /ServerSyncWebService/updates?since=0&limit=500 (500 envelopes) with a
downstream cookie over keep-alive TLS, wrk -t1 -c32, against nginx serving a static file of
the same bytes over TLS (same certificate); lighttpd is not measured. Needs wrk; responses
other than 200 make its rates x and the exit status 1.

sync: `updcache sync --once` (parallel 8) into a fresh downstream store from a root updcached
with TLS publishing 16x128 MiB = 2 GiB (--quick: 8x128 MiB = 1 GiB) as signed updates of 4
files, in rotating order with `updcache add` of the same files into a fresh store and curl
-P8 fetching them to /dev/null, every process free to use every core (issue 14); the
hashing limit L = cores/(1/sha1 + 1/sha256 + 1/xxh128) is measured each round as
bench/ingest does. Rows: the rates (MB = 10^6 bytes), L, and sync / add. A sync or add
run that fails or does not verify makes its round x, exit status 1.

sync-1g (on demand): the same on one 1 GiB file, where no second file can take the other
core: only the split of one file's digests over the cores can.

access: hot4k-64 and distinct4k against two updcached on copies of the store (files
hard-linked, index by mdb_copy), one with access tracking and one with
UPDCACHED_NO_ACCESS_TRACKING=1, alternated; rows: both figures and on/off per round.

fill (on demand only): fill on miss (SPEC section 13, issue 13). A root updcached (TLS and
plain port, files in page cache) and in front of it, in turn: updcached with fill =
on-demand (store from `updcache sync --once`), nginx proxy_cache + proxy_cache_lock, nginx
proxy_cache + slice 1m (as lancache), Varnish 7 (builtin VCL, streaming). Each case cold
at the front: a) one curl, a 256 MiB file; b) 32 curls at once, the same file; c) 200
random 1 MiB ranges (not block-aligned, fixed seed), 8 clients; d) a relay flipping one
bit between front and root, one curl, a 16 MiB file. Every byte is checked against the
published file (a wrong one makes the case x); rows: completion time, TTFB, bytes taken
from the root (its access log), wrong bytes delivered under tamper, the clients' CPU and
context switches (a and b are bound by the clients' core), and updcache over the best
peer per round. Targets of issue 13 in the footnote. --rounds as elsewhere; about 2
minutes a round. UC_FILL_CASES=b (any of abcd) runs only those cases. The root and each
front are pinned to the server core; UC_FILL_FRONT_CPUS=all lets each front use every
core instead (the root and the clients stay pinned), every front alike.

fill-ingest (on demand only): issue 14's fill figure. A root updcached publishing a 1 GiB
file and an on-demand updcached in front (a fresh store each round); one cold curl; the
time until the client is done and until the fill is published, against `updcache add` of
the same file in the same rounds, unpinned. Rows: the rates and published / add.

soak (on demand only, updcached alone): the bits, do-ranges and express mixes at once with
bodies checked, 5,000 idle keep-alive connections, a slowloris trickle that must be cut
off by header_timeout, a SIGHUP every 30 s, an `updcache add` every 10 s and one
`updcache verify --fast` while it runs, for --duration seconds (default 600). Failed
responses, a daemon that dies, a failed add or verify, or a slowloris connection the
server does not cut off make the exit status 1.
Exit status: 0 done, 1 a step failed, 2 bad usage or missing tools.
""" % {"skip": " and ".join(QUICK_SKIP_3), "cache": DEFAULT_CACHE, "all": " ".join(ALL),
       "ondemand": " ".join(ON_DEMAND)}


def _uint(name, v):
    if v is None or not v.isdigit() or v.startswith("0"):
        raise UsageError("%s needs a positive whole number, not '%s'" % (name, v or ""))
    return int(v)


def parse(argv, repo):
    o = Opts(repo)
    args = list(argv)
    while args:
        a = args.pop(0)
        nxt = args[0] if args else None
        if a == "--quick":
            o.quick = True
        elif a == "--no-build":
            o.build = False
        elif a in ("--rounds", "--duration"):
            v = _uint(a, nxt)
            args.pop(0)
            if a == "--rounds":
                o.rounds, o.rounds_set = v, True
            else:
                o.duration, o.duration_set = v, True
        elif a in ("--out", "--cache"):
            if not nxt:
                raise UsageError("%s needs a directory" % a)
            args.pop(0)
            setattr(o, a[2:], nxt)
        elif a in ("-h", "--help"):
            sys.stdout.write(usage())
            sys.exit(0)
        elif a.startswith("-"):
            raise UsageError("unknown option '%s'" % a)
        elif a in ALL:
            o.scenarios.append(a)
        else:
            raise UsageError("unknown scenario '%s'" % a)
    if o.quick:
        if not o.rounds_set:
            o.rounds = 2
        if not o.duration_set:
            o.duration = 3
        o.warm = 1
    cache = os.path.realpath(o.cache)
    if cache in TOO_BROAD:
        raise UsageError("'%s' is too broad; name a subdirectory" % o.cache)
    o.cache = cache
    os.makedirs(o.out, exist_ok=True)
    o.out = os.path.realpath(o.out)
    return o


def default_scenarios(quick, have_updcached):
    """Quick mode with three servers drops two scenarios to stay near 5 minutes."""
    skip = QUICK_SKIP_3 if quick and have_updcached else ()
    return [s for s in DEFAULT if s not in skip]
