"""The rejects file of `cpm import --skip-invalid`: the bad rows as they were, with the reason."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from cpm.io.files import atomic_output


def rejects_path(source: Path) -> Path:
    """Next to the imported file, named after all of its name: 订单.xlsx → 订单.xlsx.rejects.csv
    (so 订单.xlsx and 订单.csv never share one)."""
    return source.with_name(f"{source.name}.rejects.csv")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def write_rejects(path: Path, header: Sequence[Any], rows: Iterable[tuple[int, str, Sequence[Any]]]) -> None:
    """Write (row number, reason, original cells) as UTF-8 CSV with a BOM, so Excel shows Chinese."""
    with (
        atomic_output(path, what="rejects file") as temp,
        temp.open("w", encoding="utf-8-sig", newline="") as handle,
    ):
        writer = csv.writer(handle)
        writer.writerow(["row", "problem", *(_cell(h) for h in header)])
        for number, reason, cells in rows:
            writer.writerow([number, reason, *(_cell(c) for c in cells)])
