"""Matching a sheet's header row to cpm's fields, in English or Chinese."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

_IGNORED = re.compile(r"[\s_\-./:：*#]+")
_UNIT = re.compile(r"\([^()]*\)$|\[[^\[\]]*\]$")


def normalize_header(text: object) -> str:
    """`Customer ID`, `customer_id`, ` CUSTOMER-ID ` and `ｃｕｓｔｏｍｅｒ ｉｄ` all become `customerid`."""
    folded = unicodedata.normalize("NFKC", str(text)).casefold()
    return _IGNORED.sub("", folded)


def without_unit(key: str) -> str:
    """`金额(元)`, `amount(¥)` → `金额`, `amount`: a unit in brackets does not change the field."""
    return _UNIT.sub("", key)


@dataclass
class HeaderMatch:
    """Which column index feeds each field, and what was left over."""

    columns: dict[str, int] = field(default_factory=dict)  # field -> column index
    headers: dict[str, str] = field(default_factory=dict)  # field -> header as written
    ignored: list[str] = field(default_factory=list)  # headers not used

    def missing(self, required: Sequence[str]) -> list[str]:
        return [name for name in required if name not in self.columns]


def match_headers(
    row: Sequence[object],
    aliases: Mapping[str, Sequence[str]],
    overrides: Mapping[str, str] | None = None,
) -> HeaderMatch:
    """Map header cells to fields.

    `overrides` (from --map) maps a header as written to a field and wins over aliases. When two
    columns match one field, the one whose alias comes first in the field's list wins (so
    `实付金额` beats `金额`), and the other is reported as ignored.
    """
    forced = {normalize_header(k): v for k, v in (overrides or {}).items()}
    rank: dict[str, tuple[str, int]] = {}
    for name, names in aliases.items():
        for position, alias in enumerate([name, *names]):
            rank.setdefault(normalize_header(alias), (name, position))
    result = HeaderMatch()
    best: dict[str, tuple[int, int]] = {}  # field -> (priority, column)
    for index, cell in enumerate(row):
        text = "" if cell is None else str(cell).strip()
        if not text:
            continue
        key = normalize_header(text)
        if key in forced:
            target, priority = forced[key], -1
        elif key in rank:
            target, priority = rank[key]
        elif without_unit(key) in rank:
            target, priority = rank[without_unit(key)]
        else:
            result.ignored.append(text)
            continue
        current = best.get(target)
        if current is None or priority < current[0]:
            if current is not None:
                result.ignored.append(result.headers[target])
            best[target] = (priority, index)
            result.headers[target] = text
        else:
            result.ignored.append(text)
    result.columns = {name: column for name, (_, column) in best.items()}
    return result
