"""What the global options decide for every command."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cpm.config import Settings, load_settings
from cpm.db import Database
from cpm.errors import ConfigError


@dataclass
class State:
    db: Database
    config_path: Path | None = None
    quiet: bool = False
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        """Loaded on first use, so `cpm config init --force` can replace a broken file."""
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings

    def configured_language(self) -> str | None:
        """`language` in cpm.toml; None when it says nothing, or when the file cannot be read (the
        command that needs the settings says why)."""
        try:
            return self.settings.language
        except ConfigError:
            self._settings = None
            return None
