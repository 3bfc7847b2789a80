"""sync-1g: the sync scenario on one 1 GiB file (see sync.OneFile); on demand."""
from .sync import OneFile as Scenario  # noqa: F401
