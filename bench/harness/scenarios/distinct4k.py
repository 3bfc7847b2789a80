"""distinct4k: 64 connections GET 10,000 distinct 4 KiB files in random order."""
from .base import LoadScenario


class Scenario(LoadScenario):
    name = "distinct4k"
    url_set = "distinct"
    conns = 64
