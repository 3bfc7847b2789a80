"""bench/run: the order of things, and the cleanup whatever happens."""
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from . import cli, results, scenarios, spawn, store
from .context import Fatal, Run, note
from .loadgen import Generator
from .servers import content
from .table import Table

TOOLS = ("nginx", "lighttpd", "curl", "taskset", "openssl", "xargs")


def versions():
    def first(cmd, pattern):
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        m = re.search(pattern, (p.stdout + p.stderr).decode(errors="replace"))
        return m.group(1) if m else None
    return "nginx %s, lighttpd %s, wrk %s" % (first(["nginx", "-v"], r"nginx/(\S+)"),
                                            first(["lighttpd", "-v"], r"lighttpd/(\S+)"),
                                            first(["wrk", "-v"], r"^wrk (\S+)") or "n/a")


def cpu_model():
    out = spawn.output(["lscpu"]) or ""
    m = re.search(r"^Model name:\s*(.*)$", out, re.M)
    return m.group(1).strip() if m else "?"


def check_tools(run):
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        raise cli.UsageError("missing: %s (tools/deps.sh installs them)" % " ".join(missing))
    if not os.access(run.updcache, os.X_OK):
        raise cli.UsageError("%s is missing; build first" % run.updcache)
    if run.ncpu < 2:
        raise cli.UsageError("needs 2 cores: one for the server, one for the load generator")


def interrupted(signum, frame):
    raise KeyboardInterrupt


def execute(run, scens):
    if any(s.needs_store for s in scens):
        run.store.prepare()
    if any(s.uses_servers for s in scens):
        for cls in content(run):
            srv = cls(run)
            run.servers[srv.column] = srv
            srv.start()
        if all(s.na for s in run.servers.values()):
            raise Fatal("no server started")
    for s in scens:
        s.prepare(run)
    for s in scens:
        s.run(run)
    t = Table(run)
    text = t.render(scens)
    sys.stdout.write(text)
    sys.stdout.flush()
    with open(run.wpath("table.txt"), "w") as f:
        f.write(text)
    results.write(run, scens, text)
    results.plot(run, t.pairs())


def main(argv, repo):
    try:
        opts = cli.parse(argv, repo)
        run = Run(opts, repo)
        check_tools(run)
    except cli.UsageError as e:
        note(str(e))
        sys.stderr.write("see bench/run --help\n")
        return 2
    names = opts.scenarios or cli.default_scenarios(opts.quick, run.have_updcached())
    scens = scenarios.make(names)
    run.command = "bench/run" + ("".join(" " + a for a in argv))
    run.date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    run.day = time.strftime("%Y-%m-%d", time.gmtime())
    run.cpu_model = cpu_model()
    run.versions = versions()
    os.makedirs(opts.cache, exist_ok=True)
    run.work = tempfile.mkdtemp(prefix="run.", dir=opts.cache)
    os.chmod(run.work, 0o755)  # the servers' workers (www-data) write their logs below it
    run.store = store.Store(run)
    signal.signal(signal.SIGTERM, interrupted)
    # This process and everything it starts (generator, curl) stay off the server core.
    os.sched_setaffinity(0, {run.gen_cpu})
    # The idle scenarios hold 10,000 sockets in the generator.
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    rc = 0
    try:
        run.gen = Generator(run)
        if not run.gen.find():
            note("neither updcache-bench nor wrk is available")
            rc = 2
        else:
            execute(run, scens)
            if run.failed_in:
                note("ERROR: %s did not measure cleanly: its figures are x or n/a (see the notes above)"
                     % ", ".join(run.failed_in))
                rc = 1
    except Fatal as e:
        note(str(e))
        rc = 1
    except KeyboardInterrupt:
        rc = 130
    finally:
        for s in run.started:
            s.stop()
        # A downstream store an interrupted sync run left (2 GiB); its logs stay.
        shutil.rmtree(run.wpath("sync-ds", "store"), ignore_errors=True)
        # The fill scenario's on-demand store and nginx caches (up to 272 MiB each).
        for d in ("fill-od/store", "nginx-lock/cache", "nginx-slice/cache"):
            shutil.rmtree(run.wpath(*d.split("/")), ignore_errors=True)
        if rc == 0 and not run.keep_work:
            shutil.rmtree(run.work, ignore_errors=True)
        else:
            run.keep_work = True
            note("logs kept in %s" % run.work)
    return rc
