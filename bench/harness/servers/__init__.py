"""One module per server under test: its config, how it starts, when it is ready, its PIDs.

CONTENT lists the servers of the content scenarios, in table column order.
"""
from .updcached import Updcached
from .nginx import Nginx
from .lighttpd import Lighttpd

CONTENT = (Updcached, Nginx, Lighttpd)
COLUMNS = tuple(c.column for c in CONTENT)
