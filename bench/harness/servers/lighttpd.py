"""lighttpd 1.4 (lighttpd.conf.in), single-threaded, run with -D in the background."""
import os
import shutil

from .. import conf
from .base import Server


class Lighttpd(Server):
    column = "lighttpd"

    def configure(self, port):
        path = os.path.join(self.prefix, "lighttpd.conf")
        conf.render(self.run, "lighttpd.conf.in", path, port, self.prefix, self.root)
        if os.geteuid() == 0:
            # lighttpd writes its error log after dropping privileges; let it.
            shutil.chown(self.prefix, user="www-data")
        return path

    def command(self, path):
        return ["lighttpd", "-D", "-f", path]
