"""What every server shares: a free port, a start bounded in time, its PIDs, a stop that
signals only the processes it started."""
import os
import random
import subprocess
import time

from .. import probe, procfs, spawn
from ..context import note


def pick_port(pair=False):
    """A free port outside the ephemeral range (the idle scenarios open 10,000 client
    sockets there); with pair, P-1 is free too (updcached's TLS port and the plain port
    it implies). The caller retries if the server still fails to bind."""
    for _ in range(50):
        p = random.randint(10001, 29999)
        if probe.port_free(p) and (not pair or probe.port_free(p - 1)):
            return p
    return None


class Server:
    column = None  # the table column this server's figures go in
    template = None
    port_pair = False

    def __init__(self, run, key=None, root=None):
        self.run = run
        self.key = key or self.column  # names its directory and its log lines
        self.root = root
        self.prefix = run.wpath(self.key)
        self.port = None
        self.proc = None
        self.pids = []
        self.na = None  # why it has no figures
        self.env = None  # extra environment variables of the server process
        self.cpus = run.server_cpu  # taskset's core list: one core, or run.all_cpus

    # ----------------------------------------------------------- per server

    def command(self, conf):
        raise NotImplementedError

    def configure(self, port):
        """Render the config for port under prefix; the config's path."""
        raise NotImplementedError

    def ready(self):
        """The hot file answers 200 with its full size."""
        path, size = self.run.store.first("hot")
        status, body = probe.request(self.port, path, timeout=1)
        return status == 200 and len(body) == size

    def missing(self):
        """Why the server cannot run at all here, or None."""
        return None

    # ----------------------------------------------------------- shared

    def launch(self, port):
        if self not in self.run.started:
            self.run.started.append(self)  # stopped on the way out, whatever happens
        os.makedirs(self.prefix, exist_ok=True)
        conf = self.configure(port)
        log = open(os.path.join(self.prefix, "stdout.log"), "ab")
        env = dict(os.environ, **self.env) if self.env else None
        self.proc = subprocess.Popen(spawn.pinned(self.cpus, self.command(conf)), env=env,
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def wait_ready(self):
        """At most 10 s, and not at all once the process has died (e.g. the port was
        taken after all)."""
        for _ in range(100):
            if self.proc.poll() is not None:
                return False
            if self.ready():
                return True
            time.sleep(0.1)
        return False

    def start(self):
        self.na = self.missing()
        if self.na:
            return False
        for _ in range(5):
            port = pick_port(self.port_pair)
            if port is None:
                raise RuntimeError("no free port found")
            self.port = port
            self.launch(port)
            if self.wait_ready():
                # Its workers, listed once (no scan per RSS sample, on the generator's core).
                self.pids = [self.proc.pid] + procfs.children(self.proc.pid)
                note("%s: pid %d, port %d, on core(s) %s%s" % (
                    self.key, self.proc.pid, port, self.cpus, self.started_note()))
                return True
            self.stop()
        self.na = "n/a (did not start)"
        self.run.keep_work = True
        note("%s did not start: see %s (kept)" % (self.key, self.prefix))
        return False

    def started_note(self):
        return ""

    def stop(self):
        """TERM, then at most 5 s for it to exit; KILL (it and the workers it had) only if
        it is still there."""
        if not self.proc:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                note("%s (pid %d) ignored TERM for 5 s; killing it" % (self.key, self.proc.pid))
                for pid in self.pids or [self.proc.pid]:
                    try:
                        os.kill(pid, 9)
                    except OSError:
                        pass
                self.proc.wait(5)
        self.proc = None
        self.pids = []

    def restart(self):
        self.stop()
        return self.start()

    def live(self):
        return self.proc is not None and self.proc.poll() is None

    def cpu_ticks(self):
        return procfs.cpu_ticks(self.pids)

    def rss_kib(self):
        return procfs.rss_kib(self.pids)
