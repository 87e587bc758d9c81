"""Merged cells read as a person sees them: every cell of a merged range holds the range's value.

A workbook stores a merged range's value in its first (top-left) cell only; the other cells are
empty. An export that merges a city over a block of members, or a store over its orders, would
otherwise leave all but the first row of the block without one. The ranges are kept by their
first row and filled as the rows stream past, so a big sheet is never held whole.

A range whose first cell is empty shows empty in Excel, whatever its other cells hide: it is read
so, every cell empty. A range given twice counts once, a reversed one (C5:A3) is the same as
A3:C5, and a range overlapping one above or left of it (which Excel itself refuses to make) is
ignored: the first is kept. So the ranges are apart, and filling costs no more than the cells.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from cpm.io.cells import is_blank

# (last row, first column, last column): rows numbered as Excel shows them, columns 0-based as
# the cells of a row are indexed.
Span = tuple[int, int, int]
# A header is at most this many rows tall: a cell merged further down is part of the data.
MAX_HEADER_ROWS = 4


class _Filling:
    """A range being filled: its rows, columns and value, and the watched columns it covers."""

    __slots__ = ("first", "last", "left", "right", "value", "watched")

    def __init__(self, first: int, last: int, left: int, right: int, value: Any) -> None:
        self.first, self.last, self.left, self.right, self.value = first, last, left, right, value
        self.watched: tuple[int, ...] = ()


class MergedRanges:
    """The merged ranges of one sheet, by first row, and how many of them were filled.

    While filling, it notes which cells of the watched columns (the key columns, once the header
    is known; every column before) hold a value copied from a row above: `copies`, by row. A
    totals row under a merged order number holds the number only as such a copy.
    """

    def __init__(self, by_row: dict[int, list[Span]]) -> None:
        self.by_row = by_row
        self.filled = 0  # ranges whose value was copied into their other cells
        self.copies: dict[int, set[int]] = {}  # row -> watched columns holding a copy from above
        self._watched: frozenset[int] | None = None  # None: every column
        self._active: list[_Filling] = []

    @classmethod
    def from_corners(
        cls,
        corners: Iterable[tuple[tuple[int, int], tuple[int, int]]],
        *,
        first_column: int = 0,
        width: int | None = None,
    ) -> MergedRanges | None:
        """From ((first row, first column), (last row, last column)), 0-based and counted from A1
        (as calamine gives them); `first_column` is the sheet column the row cells start at, and
        `width` how many cells a row has, when known (a range right of them fills nothing)."""
        ranges: set[tuple[int, int, int, int]] = set()
        for (row_a, column_a), (row_b, column_b) in corners:
            top, bottom = min(row_a, row_b) + 1, max(row_a, row_b) + 1
            left, right = min(column_a, column_b) - first_column, max(column_a, column_b) - first_column
            if width is not None:
                right = min(right, width - 1)
            left = max(left, 0)
            if right < left or (bottom == top and right == left):
                continue  # right of every cell, or a single cell
            ranges.add((top, left, bottom, right))
        by_row: dict[int, list[Span]] = {}
        # Per column, the last row taken by a range kept so far: ranges come by first row, so one
        # overlaps a kept range exactly when a column of it is taken down to its first row.
        taken: list[int] = []
        for top, left, bottom, right in sorted(ranges):
            if right >= len(taken):
                taken.extend([0] * (right + 1 - len(taken)))
            if max(taken[left : right + 1]) >= top:
                continue
            taken[left : right + 1] = [bottom] * (right + 1 - left)
            by_row.setdefault(top, []).append((bottom, left, right))
        return cls(by_row) if by_row else None

    def watch(self, columns: Iterable[int]) -> None:
        """Note copies in these columns only, from now on."""
        self._watched = frozenset(columns)
        for span in self._active:
            span.watched = self._covered(span.left, span.right)

    def _covered(self, left: int, right: int) -> tuple[int, ...]:
        watched = self._watched
        if watched is None:
            return tuple(range(left, right + 1))
        return tuple(sorted(column for column in watched if left <= column <= right))

    def fill(self, rows: Iterator[tuple[int, list[Any]]]) -> Iterator[tuple[int, list[Any]]]:
        """The rows, with each merged range's value in every cell of the range."""
        by_row = self.by_row
        last_start = max(by_row)
        active = self._active  # changed in place only, so that `end_header` may cut it
        copies = self.copies
        for number, cells in rows:
            if active:  # ranges from rows above
                for span in active:
                    left, right = span.left, span.right
                    cells[left : right + 1] = [span.value] * (right - left + 1)
                    if span.watched:
                        copies.setdefault(number, set()).update(span.watched)
                if any(span.last <= number for span in active):
                    active[:] = [span for span in active if span.last > number]
            starting = by_row.get(number)
            if starting:
                width = len(cells)
                for last, left, right in starting:
                    if left >= width:
                        continue
                    right = min(right, width - 1)
                    value = cells[left]
                    if is_blank(value):
                        value = cells[left] = ""  # shown empty, whatever the other cells hide
                    else:
                        self.filled += 1
                    cells[left + 1 : right + 1] = [value] * (right - left)
                    if last > number:
                        span = _Filling(number, last, left, right, value)
                        if value != "":
                            span.watched = self._covered(left, right)
                        active.append(span)
            elif not active and number >= last_start:
                yield number, cells
                yield from rows  # no range starts below: the rest is read as it is
                return
            yield number, cells

    def end_header(self, bottom: int, read: Sequence[tuple[int, list[Any]]]) -> None:
        """End at row `bottom`, the header's last row, every range starting at or above it.

        A header cell merged down past the header (城市 over rows 1–3 above the first members)
        names its column; its cells in the data rows are read empty, not as the header's name.
        `read`: the rows already read below `bottom`, which are emptied there too.
        """
        for first in range(1, bottom + 1):
            for last, left, right in self.by_row.get(first, ()):
                if last <= bottom:
                    continue
                for number, cells in read:
                    if bottom < number <= last and left < len(cells):
                        width = min(right, len(cells) - 1) + 1 - left
                        cells[left : left + width] = [""] * width
                        if number in self.copies:
                            self.copies[number].difference_update(range(left, left + width))
        self._active[:] = [span for span in self._active if span.first > bottom]

    def header_block(self, number: int) -> tuple[int, set[tuple[int, int]]]:
        """The last row of a header starting at row `number`, and the cells of it whose value is
        a copy from a merged cell to their left.

        A header cell merged down over two rows (客户编号 over rows 1–2, with 手机 and 邮箱 under
        a 联系方式 merged across) makes the header two rows tall: the data starts under both.
        Merged across, a header names the range's first column only, so no name is doubled.
        """
        bottom = number
        covering: list[tuple[int, int, int, int]] = []  # first row, last row, first col, last col
        for start in range(1, number + 1):
            covering.extend((start, *span) for span in self.by_row.get(start, ()) if span[0] >= number)
        row = number
        while row <= bottom:
            if row > number:
                covering.extend((row, *span) for span in self.by_row.get(row, ()))
            bottom = max(
                [bottom, *(last for first, last, _, _ in covering if last < number + MAX_HEADER_ROWS)]
            )
            row += 1
        copies = {
            (r, column)
            for first, last, left, right in covering
            for r in range(max(first, number), min(last, bottom) + 1)
            for column in range(left + 1, right + 1)
        }
        return bottom, copies
