"""updcached: the plain content listener (updcached.conf.in), with its TLS companion
(updcached-tls.conf.in: tls-meta, and the root of sync), and as the soak runs it
(updcached-soak.conf.in)."""
import os

from .. import conf, probe
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


class UpdcachedB(Updcached):
    """Another build of updcached (UPDCACHED_B_BIN) on the same store, in the same rounds:
    an A/B of two builds alternated with the peers, not across runs minutes apart."""
    column = "updcache-b"

    def command(self, path):
        return [self.run.updcached_b, "--config", path]


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



class UpdcachedFillRoot(UpdcachedTLS):
    """The root of the fill scenario: UpdcachedTLS with its access log on
    (prefix/access.log), from which the scenario counts the bytes the fronts took."""
    template = "updcached-fill-root.conf.in"

    def __init__(self, run, lab, key="updcache-root"):
        super().__init__(run, lab, key)
        self.access_log = os.path.join(self.prefix, "access.log")


class UpdcachedOnDemand(Updcached):
    """An on-demand downstream (updcached-fill-od.conf.in) of an UpdcachedFillRoot: a store
    made by `updcache sync --once` with fill = on-demand, its plain port only, file bytes
    from content_port (the root's plain port or a relay in front of it). Ready when its
    port file is written and it answers (an unknown SHA-1: 404, no upstream request)."""
    template = "updcached-fill-od.conf.in"

    def __init__(self, run, lab, root_tls_port, store, key="updcache-od"):
        super().__init__(run, key, root=store)
        self.lab = lab
        self.root_tls_port = root_tls_port
        self.content_port = None

    def configure(self, port):
        path = os.path.join(self.prefix, "updcached.conf")
        conf.render(self.run, self.template, path, port, self.prefix, self.root, lab=self.lab,
                    up_tls_port=self.root_tls_port, content_port=self.content_port)
        return path

    def ready(self):
        status, _ = probe.request(self.port, "/Content/67/0123456789ABCDEF0123456789ABCDEF01234567.cab",
                                  timeout=1)
        return status == 404
