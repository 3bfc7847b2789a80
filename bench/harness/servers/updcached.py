"""updcached: the plain content listener (updcached.conf.in), with its TLS companion
(updcached-tls.conf.in: tls-meta, and the root of sync), and as the soak runs it
(updcached-soak.conf.in)."""
import os

from .. import conf
from .base import Server


class Updcached(Server):
    column = "updcache"
    template = "updcached.conf.in"

    def missing(self):
        return None if self.run.have_updcached() else "n/a (updcached not built yet)"

    def configure(self, port):
        path = os.path.join(self.prefix, "updcached.conf")
        conf.render(self.run, self.template, path, port, self.prefix, self.root, **self.fields())
        return path

    def fields(self):
        return {}

    def command(self, path):
        return [self.run.updcached, "--config", path]


class UpdcachedTLS(Updcached):
    """Ready when it hands out a downstream cookie (kept in cookie)."""
    template = "updcached-tls.conf.in"
    port_pair = True  # the plain port is the TLS port minus one (SPEC section 2)

    def __init__(self, run, lab, key="updcache-tls"):
        super().__init__(run, key, root=lab.store)
        self.lab = lab
        self.cookie = None
        self.proto = None

    def configure(self, port):
        path = os.path.join(self.prefix, "updcached.conf")
        conf.render(self.run, self.template, path, port, self.prefix, self.root, lab=self.lab)
        return path

    def ready(self):
        self.cookie = self.lab.new_cookie(self.port, timeout=1)
        return bool(self.cookie)

    def started_note(self):
        self.proto = self.lab.cipher(self.port)
        return ", " + self.proto


class UpdcachedSoak(Updcached):
    """A short header_timeout, so the slowloris connections are cut off within the run,
    and keep-alive longer than the run, so the idle connections outlive it."""
    template = "updcached-soak.conf.in"

    def __init__(self, run, root, header_timeout_s, keepalive_s):
        super().__init__(run, "updcache-soak", root=root)
        self.header_timeout_s = header_timeout_s
        self.keepalive_s = keepalive_s

    def fields(self):
        return {"header_timeout": "%ds" % self.header_timeout_s,
                "keepalive_timeout": "%ds" % self.keepalive_s}

