"""The cells an .xlsx worksheet really holds, found before the reader allocates room for them.

calamine holds a sheet as a dense grid of 32-byte cells from the first cell that holds a value to
the last, whatever the sheet's `<dimension>` tag says (it may be missing, too small or false). One
stray value at XFD1048576 asks for 550 GB; the allocation fails and aborts the process, with no
exception to catch. So the cells are looked at first, and a grid that cannot fit is refused.

Looking costs one pass over the sheet's XML, a tenth of what reading it costs: a bound is found by
one regular expression that skips every cell written the usual way (`<c r="B7"`) inside the bounds
seen so far. Only a sheet whose bound is too large, or written in an unusual way (cells without
their reference, namespace prefixes), is followed cell by cell as calamine places them.
"""

from __future__ import annotations

import functools
import queue
import re
import threading
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

MAX_SHEET_CELLS = 50_000_000
_BLOCK = 1 << 22  # bytes of XML looked at a time
_LOCAL_HEADER = 30  # bytes before a zip member's name in its local header


@dataclass(frozen=True)
class Extent:
    """Rows and columns (1-based, as Excel numbers them) from the first value to the last."""

    first_row: int
    last_row: int
    first_column: int
    last_column: int

    @property
    def cells(self) -> int:
        return (self.last_row - self.first_row + 1) * (self.last_column - self.first_column + 1)


def column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


def column_letters(number: int) -> str:
    letters = ""
    while number > 0:
        number, remainder = divmod(number - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def member_blocks(path: Path, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """A zip member's content, inflated a block at a time, never more than a block in memory.

    The compressed bytes are inflated directly: zipfile's own reader also computes a CRC, which
    costs as much as the inflating, and the reader checks the file anyway.
    """
    if info.flag_bits & 1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        with zipfile.ZipFile(path) as archive, archive.open(info) as stream:
            while block := stream.read(_BLOCK):
                yield block
        return
    with path.open("rb") as handle:
        handle.seek(info.header_offset)
        header = handle.read(_LOCAL_HEADER)
        if len(header) < _LOCAL_HEADER or not header.startswith(b"PK\x03\x04"):
            raise zipfile.BadZipFile(f"no local header for {info.filename}")
        name_length = int.from_bytes(header[26:28], "little")
        extra_length = int.from_bytes(header[28:30], "little")
        handle.seek(info.header_offset + _LOCAL_HEADER + name_length + extra_length)
        remaining = info.compress_size
        if info.compress_type == zipfile.ZIP_STORED:
            while remaining > 0 and (block := handle.read(min(_BLOCK, remaining))):
                remaining -= len(block)
                yield block
            return
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        while not inflater.eof:
            pending = inflater.unconsumed_tail
            if not pending:
                pending = handle.read(min(1 << 20, remaining))
                remaining -= len(pending)
                if not pending:
                    break
            if block := inflater.decompress(pending, _BLOCK):
                yield block


def _read_ahead(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """The same blocks, inflated by a second thread while the ones before are looked at: zlib lets
    other threads run while it inflates, so looking costs little more than inflating."""
    ready: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=4)
    stop = threading.Event()

    def offer(item: bytes | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def inflate() -> None:
        try:
            for block in blocks:
                if not offer(block):
                    return
            offer(None)
        except BaseException as exc:  # handed to the reader, which raises it
            offer(exc)

    worker = threading.Thread(target=inflate, name="cpm-inflate", daemon=True)
    worker.start()
    try:
        while (item := ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _tag_aligned(blocks: Iterator[bytes]) -> Iterator[tuple[bytes, int]]:
    """(data, end): data[:end] ends before the last tag of the block, which begins the next one.

    A `<` never appears in XML text unescaped, so no tag is ever cut in two.
    """
    carry = b""
    for block in blocks:
        data = carry + block if carry else block
        end = data.rfind(b"<")
        if end <= 0:
            carry = data
            continue
        yield data, end
        carry = data[end:]
    if carry:
        yield carry, len(carry)


# --- the bound: one regular expression over cells written the usual way -------------------------

_CELL_REF = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,10})"')
_ROW_NUMBER = re.compile(rb'<row r="([0-9]{1,10})"')
_PREFIXED_CELL = re.compile(rb":c[\s/>]")  # <x:c …>: a namespace prefix, which calamine allows


def _columns_up_to(last: int) -> str:
    """A pattern for column letters up to column `last` (AB: any single letter, AA, AB)."""
    bound = column_letters(last)
    if not bound:
        return "(?!)"
    if len(bound) == 1:
        return f"[A-{bound}]"
    alternatives = [f"[A-Z]{{1,{len(bound) - 1}}}"]
    for position, letter in enumerate(bound):
        if letter > "A":
            rest = len(bound) - position - 1
            alternatives.append(
                bound[:position] + f"[A-{chr(ord(letter) - 1)}]" + f"[A-Z]{{{rest}}}" * bool(rest)
            )
    alternatives.append(bound)
    return "(?:" + "|".join(alternatives) + ")"


def rows_allowed(last: int) -> int:
    """The largest row number `_unusual_cell` lets pass for `last`: its first digit rounded up
    (1049902 -> 1999999), so the pattern stays one simple test, and the bound within twice `last`."""
    digits = str(last)
    return (int(digits[0]) + 1) * 10 ** (len(digits) - 1) - 1 if last else 0


def _rows_up_to(last: int) -> str:
    if not last:
        return "(?!)"
    digits = str(last)
    if len(digits) == 1:
        return f"[0-{digits}]"
    # Possessive: a number is read once, never tried again in other splits.
    return f"[0-{digits[0]}]?+[0-9]{{1,{len(digits) - 1}}}+"


@functools.lru_cache(maxsize=64)
def _unusual_cell(last_column: int, last_row: int) -> re.Pattern[bytes]:
    """A cell tag that is not `<c r="REF"` with REF inside (last_column, rows_allowed(last_row))."""
    return re.compile(
        ('<c(?! r="' + _columns_up_to(last_column) + _rows_up_to(last_row) + '")[\\s/>]').encode()
    )


def _usual_bound(blocks: Iterator[bytes]) -> tuple[int, int] | None:
    """(last row, last column) that no cell passes, or None for a sheet not written the usual way."""
    last_row, last_column = 0, 0
    for data, end in _tag_aligned(blocks):
        if _PREFIXED_CELL.search(data, 0, end):
            return None
        # Rows come in order, so the last row tag of the block bounds the cells before it; a cell
        # beyond it is found by the pattern like any other.
        row_tag = data.rfind(b'<row r="', 0, end)
        if row_tag >= 0 and (number := _ROW_NUMBER.match(data, row_tag)):
            last_row = max(last_row, int(number.group(1)))
        start = 0
        while found := _unusual_cell(last_column, last_row).search(data, start, end):
            cell = _CELL_REF.match(data, found.start())
            if cell is None:
                return None  # a cell without its reference first: placed by counting
            last_column = max(last_column, column_number(cell.group(1).decode()))
            last_row = max(last_row, int(cell.group(2)))
            start = found.end()
    return rows_allowed(last_row), last_column


# --- the extent: cells followed as calamine places them -----------------------------------------

_TAG = re.compile(rb"<(/?)(?:[\w.-]+:)?(row|c)(?=[\s/>])([^>]*)>")
_REFERENCE = re.compile(rb'(?:^|\s)r="([A-Z]*)([0-9]*)"')
_CELL_END = re.compile(rb"</(?:[\w.-]+:)?c\s*>")
# A cell with a value has a <v> or an <is>, even an empty one: calamine keeps an empty string.
# A cell with only formatting (<c r="XFD1048576" s="1"/>) has neither, and calamine skips it.
_VALUE = re.compile(rb"<(?:[\w.-]+:)?(?:v|is)[\s/>]")


def _exact_extent(blocks: Iterator[bytes]) -> Extent | None:
    """The extent of the cells with a value, placed as calamine places them (None: no value).

    A row without `r` follows the one before it, a cell without `r` the cell before it in its row.
    """
    row, column = 0, 0  # where the next row and the next cell go, 0-based as in calamine
    rows: list[int] = []
    columns: list[int] = []
    carry = b""
    for block in chain(blocks, [b""]):
        data = carry + block if carry else block
        last = not block
        end = len(data) if last else data.rfind(b"<")
        stop = end
        for tag in _TAG.finditer(data, 0, max(end, 0)):
            closing, name, attributes = tag.groups()
            empty = attributes.endswith(b"/")
            reference = _REFERENCE.search(attributes)
            if name == b"row":
                if not closing and reference and reference.group(2):
                    row = int(reference.group(2)) - 1
                if closing or empty:
                    row, column = row + 1, 0
                continue
            if closing:
                continue
            valued = False
            if not empty:
                closed = _CELL_END.search(data, tag.end())
                if closed is None and not last:
                    stop = tag.start()  # the cell goes on in the next block: read it whole there
                    break
                valued = _VALUE.search(data, tag.end(), closed.start() if closed else len(data)) is not None
            if reference and reference.group(1) and reference.group(2):
                cell_row = int(reference.group(2)) - 1
                column = column_number(reference.group(1).decode()) - 1
            else:
                cell_row = row
            if valued:
                rows.append(cell_row)
                columns.append(column)
            column += 1
        carry = data[max(stop, 0) :]
        if len(rows) > 1 << 16:  # keep only the bounds, not every cell
            rows, columns = [min(rows), max(rows)], [min(columns), max(columns)]
    if not rows:
        return None
    return Extent(min(rows) + 1, max(rows) + 1, min(columns) + 1, max(columns) + 1)


def xlsx_sheet_extent(path: Path, part: str) -> Extent | None:
    """The extent calamine will allocate for the sheet in zip member `part`, or a bound of it
    within MAX_SHEET_CELLS (None: the sheet holds no value)."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(part)
    bound = _usual_bound(_read_ahead(member_blocks(path, info)))
    if bound is not None:
        last_row, last_column = bound
        if last_row * last_column <= MAX_SHEET_CELLS:
            return Extent(1, last_row, 1, last_column) if last_row and last_column else None
    return _exact_extent(_read_ahead(member_blocks(path, info)))
