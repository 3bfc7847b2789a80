"""1m: 16 connections GET one whole 1 MiB file."""
from .base import LoadScenario


class Scenario(LoadScenario):
    name = "1m"
    url_set = "1m"
    conns = 16
    byte_bound = True
    wrk_ok = True
