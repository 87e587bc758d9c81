"""cpm.toml: loading, defaults and validation.

Every setting has a built-in default, so a shop can run without a config file. A malformed file
or an out-of-range value is a ConfigError that names the key.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cpm.errors import ConfigError

DEFAULT_CONFIG_NAME = "cpm.toml"


@dataclass(frozen=True)
class Settings:
    """The effective settings of one run."""

    currency: str = "CNY"
    source: str = "built-in defaults"

    def version(self) -> str:
        """A short hash of the settings that change results, recorded wherever results are stored."""
        values = {k: v for k, v in asdict(self).items() if k != "source"}
        blob = json.dumps(values, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


def load_settings(path: Path | None) -> Settings:
    """Read `path` (or ./cpm.toml when it exists) over the defaults."""
    explicit = path is not None
    chosen = path if path is not None else Path(DEFAULT_CONFIG_NAME)
    if not chosen.exists():
        if explicit:
            raise ConfigError(
                f"config file {chosen} not found",
                hint="Create one with `cpm config init`, or leave out --config to use the defaults.",
            )
        return Settings()
    try:
        data = tomllib.loads(chosen.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {chosen}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {chosen} is not valid TOML: {exc}") from exc
    return _settings_from(data, source=str(chosen))


def _settings_from(data: dict[str, Any], *, source: str) -> Settings:
    currency = data.get("currency", Settings.currency)
    if not isinstance(currency, str) or not (1 <= len(currency.strip()) <= 8):
        raise ConfigError(
            f"{source}: key 'currency' must be a short currency code such as \"CNY\", got {currency!r}"
        )
    return Settings(currency=currency.strip().upper(), source=source)
