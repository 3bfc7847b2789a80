"""256m: 4 connections GET one whole 256 MiB file (from the page cache)."""
from .base import LoadScenario


class Scenario(LoadScenario):
    name = "256m"
    url_set = "256m"
    conns = 4
    byte_bound = True
    wrk_ok = True
