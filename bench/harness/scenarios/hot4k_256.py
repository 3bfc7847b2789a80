"""hot4k-256: as hot4k-64 with 256 connections."""
from .base import LoadScenario


class Scenario(LoadScenario):
    name = "hot4k-256"
    url_set = "hot"
    conns = 256
    wrk_ok = True
