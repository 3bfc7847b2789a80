"""nginx: the content server (nginx.conf.in), and the TLS anchor of tls-meta
(nginx-tls.conf.in: the page of updcached as a static file, same certificate)."""
import os
import shutil

from .. import conf, probe
from .base import Server


class Nginx(Server):
    column = "nginx"
    template = "nginx.conf.in"

    def configure(self, port):
        for d in ("logs", "tmp", "conf"):
            os.makedirs(os.path.join(self.prefix, d), exist_ok=True)
        path = os.path.join(self.prefix, "conf", "nginx.conf")
        conf.render(self.run, self.template, path, port, self.prefix, self.root,
                    lab=getattr(self, "lab", None))
        return path

    def command(self, path):
        return ["nginx", "-p", self.prefix + "/", "-c", path,
                "-e", os.path.join(self.prefix, "logs", "error.log")]


class NginxTLS(Nginx):
    """Serves prefix/page.json; ready when it answers the whole page."""
    template = "nginx-tls.conf.in"

    def __init__(self, run, lab, path, page_bytes, key="nginx-tls"):
        super().__init__(run, key)
        self.lab = lab
        self.path = path
        self.page_bytes = page_bytes
        self.proto = None

    def ready(self):
        status, body = self.lab.request(self.port, self.path, timeout=1)
        return status == 200 and len(body) == self.page_bytes

    def started_note(self):
        self.proto = self.lab.cipher(self.port)
        return ", " + self.proto


class NginxCache(Nginx):
    """A caching proxy in front of an upstream port (nginx-fill.conf.in): proxy_cache with
    proxy_cache_lock, and with slice=True the slice module as lancache sets it. Ready when
    its own /bench-ready answers (no request reaches the upstream)."""
    template = "nginx-fill.conf.in"
    PLAIN = ("            proxy_cache_key $uri;\n"
             "            proxy_cache_valid 200 206 1d;")
    SLICE = ("            slice 1m;\n"
             "            proxy_cache_key $uri$slice_range;\n"
             "            proxy_set_header Range $slice_range;\n"
             "            proxy_cache_valid 200 206 1d;")

    def __init__(self, run, key, slice_=False):
        super().__init__(run, key)
        self.slice = slice_
        self.upstream_port = None

    def configure(self, port):
        for d in ("logs", "tmp", "conf", "cache"):
            os.makedirs(os.path.join(self.prefix, d), exist_ok=True)
        path = os.path.join(self.prefix, "conf", "nginx.conf")
        conf.render(self.run, self.template, path, port, self.prefix, upstream_port=self.upstream_port,
                    slice="on" if self.slice else "", slice_lines=self.SLICE if self.slice else self.PLAIN)
        if os.geteuid() == 0:
            # The worker (www-data) writes the cache and its temp files.
            for d in ("cache", "tmp"):
                shutil.chown(os.path.join(self.prefix, d), user="www-data")
        return path

    def ready(self):
        status, _ = probe.request(self.port, "/bench-ready", timeout=1)
        return status == 200

    def cold(self):
        """An empty cache: the directory emptied while nginx is stopped."""
        self.stop()
        shutil.rmtree(os.path.join(self.prefix, "cache"), ignore_errors=True)
        return self.start()
