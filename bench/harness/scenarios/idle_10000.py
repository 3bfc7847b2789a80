"""idle-10000: memory per idle keep-alive connection, 10,000 of them."""
from .base import IdleScenario


class Scenario(IdleScenario):
    name = "idle-10000"
    idle = 10000
