"""One module per server under test: its config, how it starts, when it is ready, its PIDs.

CONTENT lists the servers of the content scenarios, in table column order; with
UPDCACHED_B_BIN set, content() adds a second build of updcached as a fourth column.
"""
from .updcached import Updcached, UpdcachedB
from .nginx import Nginx
from .lighttpd import Lighttpd

CONTENT = (Updcached, Nginx, Lighttpd)


def content(run):
    return CONTENT + ((UpdcachedB,) if run.updcached_b else ())
