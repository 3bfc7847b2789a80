"""The load generators: updcache-bench (bench/loadgen), and wrk for what it can express
(the fallback, the cross-check on nginx, and TLS). Both give results in updcache-bench's
JSON shape, so the rest reads one format."""
import json
import os
import re
import shutil

from . import spawn
from .context import note


class Generator:
    def __init__(self, run):
        self.run = run
        self.have_wrk = shutil.which("wrk") is not None
        self.bin = None
        self.name = None

    def find(self):
        """updcache-bench if it exists; its source, if in the tree, is rebuilt first (make
        is incremental). A failed rebuild keeps an older binary, with a warning."""
        run = self.run
        build = os.path.join(run.repo, "build")
        cm = os.path.join(run.repo, "bench", "CMakeLists.txt")
        if run.opts.build and os.path.isdir(build) and os.path.exists(cm) and \
                "updcache-bench" in open(cm).read():
            log = run.wpath("gen-build.log")
            # The CMake target is updcache_bench (its output is named updcache-bench).
            if spawn.run(["make", "-C", build, "updcache_bench"], log, 600):
                note("warning: rebuilding updcache-bench failed (see %s)" % log)
        if os.access(run.gen_bin, os.X_OK):
            self.bin, self.name = run.gen_bin, "updcache-bench"
        elif self.have_wrk:
            self.name = "wrk"
            note("updcache-bench not built: wrk runs the scenarios it can express, the rest are n/a")
        else:
            return False
        return True

    def start(self, args, port, secs, json_path, extra=(), cpu=None):
        """One bounded run of updcache-bench in the background; the result is in json_path."""
        cmd = [self.bin, "--host", "127.0.0.1", "--port", port, "-t", 1, "-d", secs,
               "--timeout", 10] + list(args) + list(extra) + ["--json", json_path]
        cpu = self.run.gen_cpu if cpu is None else cpu
        return Load(spawn.Bg(spawn.pinned(cpu, cmd), json_path + ".log", secs + 60), json_path)

    def start_wrk(self, url, conns, secs, json_path, headers=()):
        cmd = ["wrk", "-t1", "-c%d" % conns, "-d%ds" % secs, "--timeout", "10s", "--latency"]
        for h in headers:
            cmd += ["-H", h]
        cmd.append(url)
        return Load(spawn.Bg(spawn.pinned(self.run.gen_cpu, cmd), json_path + ".log", secs + 60),
                    json_path, wrk_secs=secs)


class Load:
    """A generator run; finish() gives its exit status and leaves its JSON result."""

    def __init__(self, bg, json_path, wrk_secs=None):
        self.bg = bg
        self.json = json_path
        self.wrk_secs = wrk_secs

    def running(self):
        return self.bg.running()

    def finish(self):
        rc = self.bg.wait()
        if self.wrk_secs is not None and rc == 0:
            with open(self.bg.log) as f:
                res = wrk_to_json(f.read(), self.wrk_secs)
            with open(self.json, "w") as f:
                json.dump(res, f)
        return rc

    def result(self):
        """The JSON result, or None when there is none."""
        try:
            with open(self.json) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None


def _us(s):
    v = float(re.match(r"[0-9.]+", s).group())
    if s.endswith("us"):
        return v
    if s.endswith("ms"):
        return v * 1000
    if s.endswith("s"):
        return v * 1e6
    return v


def _bytes(s):
    v = float(re.match(r"[0-9.]+", s).group())
    for suffix, mul in (("KB", 1024), ("MB", 1 << 20), ("GB", 1 << 30)):
        if s.endswith(suffix):
            return v * mul
    return v


def wrk_to_json(text, dur):
    """wrk's figures in the generator's JSON shape. Latency '1.23ms' -> microseconds."""
    lat = {"p50": 0, "p90": 0, "p99": 0, "p999": None, "max": 0, "mean": 0}
    req = b = 0
    rps = 0.0
    err = {"connect": 0, "read": 0, "write": 0, "timeout": 0, "status": 0}
    for line in text.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] in ("50%", "90%", "99%") and len(f) > 1:
            lat["p" + f[0][:-1]] = _us(f[1])
        elif f[0] == "Latency" and len(f) > 3:
            lat["mean"], lat["max"] = _us(f[1]), _us(f[3])
        elif "requests in" in line:
            req, b = int(f[0]), _bytes(f[4].rstrip(","))
        elif line.strip().startswith("Socket errors"):
            n = [int(x) for x in re.findall(r"\d+", line)]
            err.update(zip(("connect", "read", "write", "timeout"), n))
        elif line.strip().startswith("Non-2xx"):
            err["status"] = int(f[-1])
        elif f[0] == "Requests/sec:":
            rps = float(f[1])
    return {"requests": req, "duration_s": dur, "rps": rps, "bytes": int(b),
            "bytes_per_s": b / dur, "latency_us": lat, "errors": err, "status": {},
            "generator": "wrk"}


def errors_of(res):
    """Every error counter, plus responses that are neither 2xx nor 304."""
    n = sum(v for v in (res.get("errors") or {}).values() if isinstance(v, (int, float)))
    n += sum(v for k, v in (res.get("status") or {}).items()
             if not re.fullmatch(r"2..|304", k))
    return int(n)
