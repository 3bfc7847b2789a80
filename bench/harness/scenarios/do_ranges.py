"""do-ranges: Delivery Optimization's 1 MiB-aligned ranges over the .cab and .psf files."""
from .base import LoadScenario


class Scenario(LoadScenario):
    name = "do-ranges"
    url_set = "payload"
    conns = 16
    mix = "range1m=100"
    byte_bound = True
