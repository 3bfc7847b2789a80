"""The scenarios, one module each, in the order the table shows them.

DEFAULT runs without names on the command line; sync-1g, fill, fill-ingest and soak run
only when named."""
from . import (access, bits, cold, distinct4k, do_ranges, express, file_1m, fill, fill_ingest, file_256m, hot4k_64,
               hot4k_256, idle_1000, idle_10000, ingest, soak, sync, sync_1g, tls_meta)

MODULES = (hot4k_64, hot4k_256, distinct4k, file_1m, file_256m, cold, bits, do_ranges, express,
           idle_1000, idle_10000, tls_meta, ingest, sync, sync_1g, access, fill, fill_ingest, soak)
ALL = tuple(m.Scenario.name for m in MODULES)
ON_DEMAND = ("sync-1g", "fill", "fill-ingest", "soak")
DEFAULT = tuple(n for n in ALL if n not in ON_DEMAND)
# Left out of --quick when three servers have to share the 5-minute budget.
QUICK_SKIP_3 = ("hot4k-256", "idle-1000")


def make(names):
    by_name = {m.Scenario.name: m.Scenario for m in MODULES}
    return [by_name[n]() for n in names]
