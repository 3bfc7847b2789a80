"""express: express downloads' many small ranges (1-16 KiB) of .psf files."""
from .base import LoadScenario


class Scenario(LoadScenario):
    name = "express"
    url_set = "psf"
    conns = 16
    mix = "small-ranges=100"
