"""idle-1000: memory per idle keep-alive connection, 1,000 of them."""
from .base import IdleScenario


class Scenario(IdleScenario):
    name = "idle-1000"
    idle = 1000
