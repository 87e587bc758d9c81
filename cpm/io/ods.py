"""What an .ods file's content.xml holds, looked at before calamine reads it.

calamine reads every sheet of an .ods when it opens the file, so a sheet too large to hold must be
found first, and named. And calamine gives a formula's error (`#N/A`, `#DIV/0!`, `Err:502`) as the
text or number LibreOffice shows in the cell, where an .xlsx error cell reads as empty; the cells
marked as errors are found here so that both formats read alike.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cpm.io.extent import Extent, member_blocks

_TAG = re.compile(rb"<(/?)table:(table|table-row|table-cell|covered-table-cell)(?=[\s/>])([^>]*)>")
_NAME = re.compile(rb'table:name="([^"]*)"')
_ROWS_REPEATED = re.compile(rb'table:number-rows-repeated="([0-9]+)"')
_COLUMNS_REPEATED = re.compile(rb'table:number-columns-repeated="([0-9]+)"')
# A cell holds something for calamine when it has a value, a value type or a formula.
_HOLDS = re.compile(
    rb"office:(?:value|string-value|date-value|time-value|boolean-value|value-type)=|"
    rb"table:formula="
)
_ERROR = re.compile(rb'calcext:value-type="error"')
_ROWS_SPANNED = re.compile(rb'table:number-rows-spanned="([0-9]+)"')
_COLUMNS_SPANNED = re.compile(rb'table:number-columns-spanned="([0-9]+)"')
_MAX_COLUMNS = 16384  # calamine reads no cell past column XFD, however often it is repeated
_ENTITIES = {b"&amp;": b"&", b"&lt;": b"<", b"&gt;": b">", b"&quot;": b'"', b"&apos;": b"'"}


@dataclass
class OdsTable:
    """One sheet: the extent of its cells, its error cells (0-based row -> column spans), and its
    merged ranges as calamine gives an .xlsx's: ((first row, first column), (last row, last
    column)), 0-based (calamine gives none for an .ods)."""

    name: str
    extent: Extent | None = None
    errors: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    merges: list[tuple[tuple[int, int], tuple[int, int]]] = field(default_factory=list)


def _unescape(raw: bytes) -> str:
    for entity, character in _ENTITIES.items():
        raw = raw.replace(entity, character)
    return raw.decode("utf-8", "replace")


def _tags(blocks: Iterator[bytes]) -> Iterator[tuple[bytes, bytes, bytes]]:
    carry = b""
    for block in blocks:
        data = carry + block if carry else block
        end = data.rfind(b"<")
        for tag in _TAG.finditer(data, 0, max(end, 0)):
            yield tag.group(1), tag.group(2), tag.group(3)
        carry = data[max(end, 0) :]
    for tag in _TAG.finditer(carry):
        yield tag.group(1), tag.group(2), tag.group(3)


def _repeats(pattern: re.Pattern[bytes], attributes: bytes) -> int:
    found = pattern.search(attributes)
    return max(int(found.group(1)), 1) if found else 1


def read_tables(path: Path) -> list[OdsTable]:
    """Every sheet of the .ods at `path`, in order, with rows and columns counted as calamine
    counts them (a repeated row or cell is that many rows or cells)."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("content.xml")
    tables: list[OdsTable] = []
    table: OdsTable | None = None
    bounds: list[int] = []  # first row, last row, first column, last column of the current table
    row = column = 0
    row_repeats = 1
    for closing, name, attributes in _tags(member_blocks(path, info)):
        if name == b"table":
            if closing:
                if table is not None and bounds:
                    table.extent = Extent(bounds[0] + 1, bounds[1] + 1, bounds[2] + 1, bounds[3] + 1)
                table, bounds = None, []
            elif table is None:
                found = _NAME.search(attributes)
                table = OdsTable(_unescape(found.group(1)) if found else "")
                tables.append(table)
                row = 0
            continue
        if table is None:
            continue
        if name == b"table-row":
            if closing or attributes.endswith(b"/"):
                row += row_repeats
                row_repeats = 1
            else:
                row_repeats, column = _repeats(_ROWS_REPEATED, attributes), 0
            continue
        if closing:
            continue
        width = _repeats(_COLUMNS_REPEATED, attributes)
        if name == b"table-cell" and b"-spanned=" in attributes and column < _MAX_COLUMNS:
            down, across = _repeats(_ROWS_SPANNED, attributes), _repeats(_COLUMNS_SPANNED, attributes)
            if down > 1 or across > 1:
                last_column = min(column + across, _MAX_COLUMNS) - 1
                table.merges.append(((row, column), (row + down - 1, last_column)))
        if column < _MAX_COLUMNS and _HOLDS.search(attributes):
            last_row, last_column = row + row_repeats - 1, min(column + width, _MAX_COLUMNS) - 1
            if bounds:
                bounds = [
                    min(bounds[0], row),
                    max(bounds[1], last_row),
                    min(bounds[2], column),
                    max(bounds[3], last_column),
                ]
            else:
                bounds = [row, last_row, column, last_column]
            if _ERROR.search(attributes):
                for error_row in range(row, min(last_row, row + (1 << 20)) + 1):
                    table.errors.setdefault(error_row, []).append((column, last_column))
        column += width
    return tables
