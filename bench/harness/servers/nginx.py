"""nginx: the content server (nginx.conf.in), and the TLS anchor of tls-meta
(nginx-tls.conf.in: the page of updcached as a static file, same certificate)."""
import os

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
