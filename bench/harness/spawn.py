"""Processes with a deadline: every wait in bench/run is bounded.

A process past its deadline gets TERM, then KILL 5 s later (as timeout -k 5 does) and
exit status 124. Only processes started here are ever signalled.
"""
import subprocess
import time

TIMED_OUT = 124


def pinned(cpus, cmd):
    """cmd on the given cores (taskset keeps the command visible in ps and in logs)."""
    return ["taskset", "-c", str(cpus)] + [str(c) for c in cmd]


class Bg:
    def __init__(self, cmd, log, limit_s, env=None, stdout=None, stdin=subprocess.DEVNULL):
        self.log = log
        self._out = open(log, "wb")
        self.proc = subprocess.Popen([str(c) for c in cmd], stdin=stdin,
                                     stdout=stdout if stdout is not None else self._out,
                                     stderr=self._out if stdout is not None else subprocess.STDOUT,
                                     env=env)
        self.pid = self.proc.pid
        self.deadline = time.monotonic() + limit_s
        self.rc = None

    def running(self):
        if self.proc.poll() is not None:
            return False
        if time.monotonic() > self.deadline:
            self._stop()
            return False
        return True

    def _stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.rc = TIMED_OUT

    def wait(self):
        """Exit status, after at most the deadline (plus the 5 s of grace)."""
        if self.rc is None:
            try:
                rc = self.proc.wait(max(self.deadline - time.monotonic(), 0))
                self.rc = rc
            except subprocess.TimeoutExpired:
                self._stop()
        self._out.close()
        return self.rc


def run(cmd, log, limit_s, env=None, stdout=None):
    """Run to the end (bounded); the exit status."""
    return Bg(cmd, log, limit_s, env=env, stdout=stdout).wait()


def output(cmd, limit_s=30, env=None):
    """stdout of a short command, or None when it failed or took too long."""
    try:
        p = subprocess.run([str(c) for c in cmd], stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=limit_s, env=env)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return p.stdout.decode(errors="replace") if p.returncode == 0 else None
