"""Varnish Cache 7 (Debian's varnishd) as a caching proxy in front of an upstream port:
the builtin VCL (-b), default streaming, malloc storage; run in the foreground (-F) with
its own working directory (-n). As root it drops its child to the varnish users (the
default unix jail), which works in a container as it is."""
import os
import shutil

from .. import probe
from .base import Server

VARNISHD = "/usr/sbin/varnishd"


class Varnish(Server):
    column = "varnish"

    def __init__(self, run, key="varnish", storage="malloc,2G"):
        super().__init__(run, key)
        self.storage = storage
        self.upstream_port = None

    def missing(self):
        return None if os.access(VARNISHD, os.X_OK) else "n/a (no %s)" % VARNISHD

    def configure(self, port):
        return None

    def command(self, _conf):
        return [VARNISHD, "-n", os.path.join(self.prefix, "vn"), "-F", "-a", "127.0.0.1:%d" % self.port,
                "-b", "127.0.0.1:%d" % self.upstream_port, "-s", self.storage]

    def ready(self):
        # Any answer will do: a path no file has is a 404 from the upstream, which the
        # scenario does not count (it counts the lines of its own file).
        status, _ = probe.request(self.port, "/bench-ready", timeout=1)
        return status is not None

    def cold(self):
        """A fresh cache: malloc storage is gone with the process."""
        self.stop()
        shutil.rmtree(os.path.join(self.prefix, "vn"), ignore_errors=True)
        return self.start()
