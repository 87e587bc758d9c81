"""What the global options decide for every command."""

from __future__ import annotations

from dataclasses import dataclass

from cpm.config import Settings
from cpm.db import Database


@dataclass
class State:
    db: Database
    settings: Settings
    quiet: bool = False
