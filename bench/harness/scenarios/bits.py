"""bits: the BITS mix on .cab files of 2-64 MiB: HEAD then GET, 1 MiB ranges, whole GETs."""
from .base import LoadScenario


class Scenario(LoadScenario):
    name = "bits"
    url_set = "cab"
    conns = 16
    mix = "head-get=50,range1m=25,get=25"
    byte_bound = True
