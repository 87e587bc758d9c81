"""Reading an import sheet into checked rows: find the header, parse every cell, keep every problem.

Rows are parsed a chunk at a time, column by column, and each distinct cell of a column once:
a million order lines hold about a thousand dates, a few statuses and channels, and customer
codes that repeat. Every cell is still checked; equal cells simply share one check.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import chain, islice
from operator import itemgetter
from typing import Any

from cpm.errors import CellProblem, InvalidInput
from cpm.io.headers import HeaderMatch, match_headers, normalize_header
from cpm.io.sheets import Sheet
from cpm.io.totals import is_bare_totals_label, is_totals_label, may_hold_totals_label
from cpm.io.values import (
    MAX_CODE_LENGTH,
    BadValue,
    clean_text,
    is_blank,
    parse_code,
    parse_count,
    parse_date,
    parse_money,
    parse_money_floats,
    parse_money_texts,
    parse_points,
    parse_status,
)
from cpm.services.fields import CODE, COUNT, DATE, MONEY, POINTS, STATUS, TEXT, FieldSpec, aliases_of

HEADER_SEARCH_ROWS = 20  # exports often put a title or a blank line above the header
CHUNK_ROWS = 5000
# A column remembers at most this many distinct cells and their parsed values; one whose cells
# mostly differ (order numbers, phone numbers) stops remembering after a trial of some rows.
MEMORY_LIMIT = 1 << 16
MEMORY_TRIAL_ROWS = 20_000
REQUIRED = "a value is required here"

Progress = Callable[[int], None]


@dataclass(frozen=True)
class ReadOptions:
    """How to read the values of one file."""

    column_map: Mapping[str, str] = field(default_factory=dict)
    dayfirst: bool = False
    decimal_comma: bool = False
    # Owner's status words (normalised word -> completed/refunded/cancelled/pending), over cpm's own.
    status_words: Mapping[str, str] = field(default_factory=dict)


@dataclass
class ParsedRow:
    number: int
    values: dict[str, Any]
    problems: list[CellProblem]
    cells: list[Any]


@dataclass
class ParsedChunk:
    """Consecutive data rows, parsed column by column; a bad or blank cell's value is None."""

    numbers: list[int]  # row numbers as Excel shows them
    columns: dict[str, list[Any]]  # field -> one value per row, for the fields the sheet has
    problems: dict[int, list[CellProblem]]  # row number -> its problems, in column order
    cells: list[list[Any]]  # the raw cells of each row
    totals: list[tuple[int, str]] = field(default_factory=list)  # totals rows left out: (row, label)

    def rows(self) -> Iterator[ParsedRow]:
        columns = self.columns.items()
        problems = self.problems
        for position, (number, cells) in enumerate(zip(self.numbers, self.cells, strict=True)):
            values = {name: column[position] for name, column in columns}
            yield ParsedRow(number, values, problems.get(number, []), cells)


@dataclass
class ParsedSheet:
    """The header found, and an iterator over the data rows below it, a chunk at a time."""

    sheet: Sheet
    header: list[Any]
    match: HeaderMatch
    labels: dict[str, str]  # field -> how to name the column in a message
    chunks: Iterator[ParsedChunk]


def _parser_for(kind: str, options: ReadOptions) -> Callable[[Any], Any]:
    if kind == CODE:
        return parse_code
    if kind == TEXT:
        return clean_text
    if kind == DATE:
        dayfirst = options.dayfirst
        return lambda value: parse_date(value, dayfirst=dayfirst)
    if kind == MONEY:
        decimal_comma = options.decimal_comma
        return lambda value: parse_money(value, decimal_comma=decimal_comma)
    if kind == COUNT:
        return parse_count
    if kind == STATUS:
        words = dict(options.status_words)
        return lambda value: parse_status(value, words)
    if kind == POINTS:
        return parse_points
    raise AssertionError(f"unknown field kind {kind}")


class BadCell:
    """The parse of a bad cell: what was expected instead."""

    __slots__ = ("expected",)

    def __init__(self, expected: str) -> None:
        self.expected = expected


_MISSING = BadCell(REQUIRED)
_NUMBER_TYPES = {bool, int, float}
# What the readers give. Among these only numbers of different types can be equal (1 == 1.0 ==
# True) and parse differently, so those never share a memory; dates never equal datetimes.
_READER_TYPES = {str, type(None), bool, int, float, date, datetime, time, timedelta}
# Parses many distinct cells at once (given their types), or None to parse them one by one. It
# gives only good values: any cell it cannot read quickly (blank, bad or unusual) makes it decline.
_Many = Callable[[Sequence[Any], set[type]], list[Any] | None]


# The characters a code may hold that NFKC and the trimming leave as they are, among ASCII ones.
_PRINTABLE_ASCII = bytes(range(0x20, 0x7F))


def _stripped(texts: Sequence[Any], kinds: set[type], *, codes: bool) -> list[Any] | None:
    """clean_text, or parse_code if `codes`, of texts that are not blank, when it is str.strip().

    For codes it is when no text holds an invisible character and NFKC leaves every one as it
    is: printable ASCII (nearly every code; a check of bytes, as fast as copying them), or
    printable texts whose joining is in NFKC form. They are joined with a line break, which NFKC
    never combines with a neighbour, so the joining is in NFKC form exactly when each text is.
    """
    if kinds != {str}:
        return None
    stripped: list[Any] = list(map(str.strip, texts))
    if not all(stripped):
        return None
    if codes:
        if max(map(len, stripped)) > MAX_CODE_LENGTH:
            return None
        joined = "".join(stripped)
        if joined.isascii():
            if joined.encode().translate(None, _PRINTABLE_ASCII):
                return None
        elif not joined.isprintable() or not unicodedata.is_normalized("NFKC", "\n".join(stripped)):
            return None
    return stripped


def _money_many(texts_or_numbers: Sequence[Any], kinds: set[type]) -> list[Any] | None:
    if kinds == {str}:
        return parse_money_texts(texts_or_numbers)
    if kinds == {float}:
        return parse_money_floats(texts_or_numbers)
    return None


class ColumnReader:
    """Parses one column's cells a chunk at a time, each distinct cell once.

    Only the parsers' results are remembered, and a parser's result depends on the cell alone
    (and on the file's options), so a remembered result is the one parsing would give.
    """

    def __init__(self, parse: Callable[[Any], Any], *, required: bool, many: _Many | None = None) -> None:
        self.parse = parse
        self.blank: Any = _MISSING if required else None
        self.many = many
        # One memory per number type a chunk holds (None: no numbers), each with its bad cells.
        self.memory: dict[type | None, tuple[dict[Any, Any], set[Any]]] | None = {}
        self.rows_seen = 0
        self.parsed = 0

    def one(self, raw: Any) -> Any:
        """The value of one cell, _MISSING for a blank required one, BadCell for a bad one."""
        if raw is None or (raw.__class__ is str and (not raw or raw.isspace())):
            return self.blank
        try:
            return self.parse(raw)
        except BadValue as exc:
            return BadCell(str(exc))

    def _each(self, raws: Sequence[Any]) -> tuple[list[Any], bool]:
        values = [self.one(raw) for raw in raws]
        return values, any(value.__class__ is BadCell for value in values)

    def read(self, raws: Sequence[Any], kinds: set[type] | None = None) -> tuple[list[Any], bool]:
        """Each cell's value (or BadCell), and whether any cell is bad. `kinds`: the cells' types."""
        if kinds is None:
            kinds = set(map(type, raws))
        numbers = kinds & _NUMBER_TYPES
        if len(numbers) > 1 or not kinds <= _READER_TYPES:
            return self._each(raws)
        memory = self.memory
        if memory is None:  # the cells hardly repeat: read them all at once if they can be
            quick = self.many(raws, kinds) if self.many is not None else None
            if quick is not None:
                return quick, False
        known, known_bad = (
            memory.setdefault(next(iter(numbers), None), ({}, set())) if memory is not None else ({}, set())
        )
        distinct = set(raws)
        new = list(distinct.difference(known))
        self.rows_seen += len(raws)
        self.parsed += len(new)
        results = self.many(new, kinds) if self.many is not None and new else None
        if results is None:
            results = [self.one(raw) for raw in new]
            bad = {raw for raw, result in zip(new, results, strict=True) if result.__class__ is BadCell}
        else:
            bad = set()
        has_bad = bool(bad) or not known_bad.isdisjoint(distinct)
        if memory is not None and len(known) + len(new) <= MEMORY_LIMIT:
            known.update(zip(new, results, strict=True))
            known_bad |= bad
            table = known
        else:
            table = dict(zip(new, results, strict=True))
            hits = distinct.difference(table)
            table.update(zip(hits, map(known.__getitem__, hits), strict=True))
        if memory is not None and self.rows_seen > MEMORY_TRIAL_ROWS and self.parsed * 4 > self.rows_seen * 3:
            self.memory = None  # the cells hardly repeat: remembering costs more than it saves
        return list(map(table.__getitem__, raws)), has_bad


def column_reader(kind: str, options: ReadOptions, *, required: bool) -> ColumnReader:
    many: _Many | None = None
    if kind in (CODE, TEXT):
        codes = kind == CODE

        def many(texts: Sequence[Any], kinds: set[type]) -> list[Any] | None:
            return _stripped(texts, kinds, codes=codes)

    elif kind == MONEY and not options.decimal_comma:
        many = _money_many
    return ColumnReader(_parser_for(kind, options), required=required, many=many)


def column_label(header: str, field_name: str) -> str:
    return header if header == field_name else f"{header} ({field_name})"


def read_sheet(sheet: Sheet, fields: tuple[FieldSpec, ...], options: ReadOptions) -> ParsedSheet:
    """Find the header row and prepare to parse the rows under it.

    Raises InvalidInput when no row within the first 20 holds every required column.
    """
    aliases = aliases_of(fields)
    known = set(aliases)
    for source, target in options.column_map.items():
        if target not in known:
            raise InvalidInput(
                f"--map {source}={target}: {target!r} is not a field of this import",
                hint="Fields: " + ", ".join(sorted(known)),
            )
    required = [spec.name for spec in fields if spec.required]
    buffered: list[tuple[int, list[Any]]] = []
    header_at: int | None = None
    match: HeaderMatch | None = None
    first_nonblank: tuple[int, HeaderMatch, list[Any]] | None = None
    for number, cells in sheet.rows:
        buffered.append((number, cells))
        if all(is_blank(c) for c in cells):
            if len(buffered) >= HEADER_SEARCH_ROWS:
                break
            continue
        candidate = match_headers(cells, aliases, options.column_map)
        if first_nonblank is None:
            first_nonblank = (number, candidate, cells)
        if not candidate.missing(required):
            header_at, match = len(buffered) - 1, candidate
            break
        if len(buffered) >= HEADER_SEARCH_ROWS:
            break
    if first_nonblank is None:
        raise InvalidInput(
            f"{sheet.place()} has no data (no header row found)",
            hint="Check the file, or pick the right worksheet with --sheet NAME.",
        )
    if match is None or header_at is None:
        number, candidate, cells = first_nonblank
        missing = candidate.missing(required)
        # Once each: a title merged across the top fills every cell of its row.
        found = list(dict.fromkeys(str(c).strip() for c in cells if not is_blank(c)))
        suggestions = "; ".join(f"{name} (e.g. {', '.join(aliases[name][:3])})" for name in missing)
        raise InvalidInput(
            f"{sheet.place()}: missing required column(s): {suggestions}. "
            f"Header row {number} has: {', '.join(found)}",
            hint='Rename the column, or say which one it is with --map "your header=field".',
        )
    header, data_from = buffered[header_at][1], header_at + 1
    if sheet.merges is not None:
        header, match, data_from = _merged_header(sheet, buffered, header_at, aliases, options, match)
    present = {normalize_header(c): str(c).strip() for c in header if not is_blank(c)}
    for source in options.column_map:
        if normalize_header(source) not in present:
            raise InvalidInput(
                f"{sheet.place()}: --map names column {source!r}, which is not in header row "
                f"{buffered[header_at][0]}",
                hint="Columns in that row: " + ", ".join(present.values()),
            )
    labels = {name: column_label(match.headers[name], name) for name in match.columns}
    columns = [
        (spec.name, match.columns[spec.name], column_reader(spec.kind, options, required=spec.required))
        for spec in fields
        if spec.name in match.columns
    ]
    read_fields = [spec for spec in fields if spec.name in match.columns]  # in the order of `columns`
    keys = [position for position, spec in enumerate(read_fields) if spec.key]
    if sheet.merges is not None:
        sheet.merges.watch(columns[key][1] for key in keys)
    rest = chain(buffered[data_from:], sheet.rows)
    chunks = (_parse_chunk(part, columns, sheet, labels, keys) for part in _batched(rest))
    return ParsedSheet(sheet=sheet, header=header, match=match, labels=labels, chunks=chunks)


def _merged_header(
    sheet: Sheet,
    buffered: list[tuple[int, list[Any]]],
    header_at: int,
    aliases: dict[str, tuple[str, ...]],
    options: ReadOptions,
    match: HeaderMatch,
) -> tuple[list[Any], HeaderMatch, int]:
    """The header of a sheet with merged cells, its match, and where in `buffered` the data starts.

    A header cell merged down makes the header as tall as it (rows 1–2: 客户编号 merged over both,
    联系方式 merged across over 手机 and 邮箱): each column is named by the lowest cell of the
    block that names it, and the data starts below the block. A header merged across names its
    first column only, so no name is doubled. Rows read to find the block stay in `buffered`.
    """
    assert sheet.merges is not None
    number = buffered[header_at][0]
    bottom, copies = sheet.merges.header_block(number)
    while buffered[-1][0] < bottom and (following := next(sheet.rows, None)) is not None:
        buffered.append(following)
    block = [(row, cells) for row, cells in buffered[header_at:] if row <= bottom]
    width = max(len(cells) for _, cells in block)

    def named(column: int, rows: list[tuple[int, list[Any]]]) -> Any:
        for row, cells in reversed(rows):
            if column < len(cells) and (row, column) not in copies and not is_blank(cells[column]):
                return cells[column]
        return None

    found = list(match.columns)  # the fields the header row names: the block must name them too
    # The tallest block that names them: rows under it are data, and a header cell merged down
    # over some of them (城市 over rows 1–3) is an export's quirk whose name is no value of theirs.
    for height in range(len(block), 0, -1):
        header = [named(column, block[:height]) for column in range(width)]
        candidate = match_headers(header, aliases, options.column_map)
        if not candidate.missing(found):
            block = block[:height]
            break
    else:
        block, header, candidate = block[:1], buffered[header_at][1], match
    data_from = header_at + len(block)
    sheet.merges.end_header(block[-1][0], buffered[data_from:])
    return header, candidate, data_from


def _batched(rows: Iterator[tuple[int, list[Any]]]) -> Iterator[list[tuple[int, list[Any]]]]:
    while part := list(islice(rows, CHUNK_ROWS)):
        yield part


def _parse_chunk(
    part: list[tuple[int, list[Any]]],
    columns: list[tuple[str, int, ColumnReader]],
    sheet: Sheet,
    labels: dict[str, str],
    keys: list[int],
    copied: dict[int, set[int]] | None = None,
) -> ParsedChunk:
    numbers: list[int] = list(map(itemgetter(0), part))
    if copied is None:
        copied = _copied(sheet, numbers)
    cells: list[list[Any]] = list(map(itemgetter(1), part))
    narrowest, widest = min(map(len, cells)), max(map(len, cells))
    uniform = narrowest == widest > max(index for _, index, _ in columns)
    if uniform:
        everything = list(zip(*cells, strict=True))  # the columns, in one pass
        raw_columns: list[Sequence[Any]] = [everything[index] for _, index, _ in columns]
    else:
        raw_columns = [[row[index] if index < len(row) else None for row in cells] for _, index, _ in columns]
    # A text file's cells are all text, except where a short row was padded.
    kinds: set[type] | None = {str} if sheet.text_only and uniform else None
    read = [reader.read(raws, kinds) for (_, _, reader), raws in zip(columns, raw_columns, strict=True)]
    key_cells = [columns[key][1] for key in keys]
    empty, totals = _not_data(cells, raw_columns, read, keys, key_cells, numbers, copied)
    if empty or totals:
        # An empty line is not a row, nor is a totals or subtotal row (合计 300人, 朝阳店 小计).
        left_out = empty.union(position for position, _ in totals)
        kept = [item for position, item in enumerate(part) if position not in left_out]
        if kept:
            chunk = _parse_chunk(kept, columns, sheet, labels, keys, copied)
        else:
            chunk = ParsedChunk([], {name: [] for name, _, _ in columns}, {}, [])
        chunk.totals = sorted([*chunk.totals, *((numbers[position], label) for position, label in totals)])
        return chunk
    problems: dict[int, list[CellProblem]] = {}
    parsed: dict[str, list[Any]] = {}
    for (name, _, _), raws, (values, has_bad) in zip(columns, raw_columns, read, strict=True):
        parsed[name] = values
        if not has_bad:
            continue
        label = labels[name]
        for position, value in enumerate(values):
            if value.__class__ is BadCell:
                values[position] = None
                number = numbers[position]
                problem = CellProblem(sheet.name, number, label, raws[position], value.expected)
                problems.setdefault(number, []).append(problem)
    return ParsedChunk(numbers, parsed, problems, cells)


def _copied(sheet: Sheet, numbers: list[int]) -> dict[int, set[int]]:
    """The key cells of these rows holding a value copied from a merged cell above, by row; taken
    from the sheet's merged ranges, which keep them only until their rows are read."""
    copies = sheet.merges.copies if sheet.merges is not None else None
    if not copies:
        return {}
    found = {number: copies.pop(number) for number in numbers if number in copies}
    return {number: columns for number, columns in found.items() if columns}


_NUMBER_CELLS = {int, float}


def _may_hold(raws: Sequence[Any]) -> bool:
    """may_hold_totals_label of the text cells among `raws`."""
    try:
        return may_hold_totals_label(raws)
    except TypeError:
        return may_hold_totals_label([raw for raw in raws if raw.__class__ is str])


def _not_data(
    cells: list[list[Any]],
    raw_columns: list[Sequence[Any]],
    read: list[tuple[list[Any], bool]],
    keys: list[int],
    key_cells: list[int],
    numbers: list[int],
    copied: dict[int, set[int]],
) -> tuple[set[int], list[tuple[int, str]]]:
    """The positions of a chunk's empty lines, and of its totals rows with their label.

    Either kind of row has no real key: each key is blank, a totals label, a copy of a merged
    cell above (an order number merged over its lines and their 小计 row) or a number (a count
    such as =COUNTA(A2:A300) under the codes), which a chunk of data rows never has: each key
    column is looked at once, all its cells together, and only such rows further. A totals row's
    label is a key cell, else any text cell of the row (合计 under the name). A row whose key is a
    copy needs the label typed in the row, not copied; one whose key is a number needs it bare
    (`合计`, `合计 3人`, `Total`; not `王小计`, which may be a name).
    """
    open_rows: set[int] | None = None  # rows whose keys so far are all blank, a label, a copy or a number
    labels: dict[int, str] = {}
    copies: set[int] = set()  # rows with a key cell copied from above
    counted: set[int] = set()  # rows with a key cell holding a number
    bare_columns: list[int] | None = None
    for key, column in zip(keys, key_cells, strict=True):
        values, has_bad = read[key]
        rows = {position for position, value in enumerate(values) if value is _MISSING} if has_bad else set()
        raws = raw_columns[key]
        try:
            look = may_hold_totals_label(raws)
        except TypeError:  # not all text: numbers or dates among the cells
            look = _may_hold(raws)
            if bare_columns is None:  # the other columns read that may hold a label, looked at once
                bare_columns = [index for index in range(len(raw_columns)) if index not in keys]
                bare_columns = [index for index in bare_columns if _may_hold(raw_columns[index])]
            if not bare_columns:
                found_numbers = set()
            elif set(map(type, raws)) <= _NUMBER_CELLS:  # codes typed as numbers, each of them
                found_numbers = set(range(len(raws))) if open_rows is None else set(open_rows)
            else:
                found_numbers = {
                    position
                    for position, raw in enumerate(raws)
                    if raw.__class__ in _NUMBER_CELLS and (open_rows is None or position in open_rows)
                }
            rows |= found_numbers
            counted |= found_numbers
        if look:
            found = {raw for raw in set(raws) if is_totals_label(raw)}
            if found:
                for position, raw in enumerate(raws):
                    if raw in found:
                        rows.add(position)
                        labels.setdefault(position, raw)
        if copied:
            found_copies = {
                position for position, number in enumerate(numbers) if column in copied.get(number, ())
            }
            rows |= found_copies
            copies |= found_copies
        open_rows = rows if open_rows is None else open_rows & rows
        if not open_rows:
            return set(), []
    assert open_rows is not None
    empty: set[int] = set()
    totals: list[tuple[int, str]] = []
    labelled = labels.keys()
    # A number key with a bare label in another column the import reads (合计 under the name):
    # looked for a column at a time, as the keys were, for codes typed as numbers are common.
    counted_only = (counted - copies - labelled) & open_rows
    if counted_only:
        for index in bare_columns or ():
            raws = raw_columns[index]
            found = {raw for raw in set(raws) if is_bare_totals_label(raw)}
            for position in counted_only:
                if raws[position] in found:
                    labels.setdefault(position, raws[position])
        open_rows -= counted_only - labelled
    # A copied key with a label typed in the row, in any of its cells (小计 under 商品).
    copy_rows = (copies - labelled) & open_rows
    if copy_rows and not may_hold_totals_label(
        [cell for position in copy_rows for cell in cells[position] if cell.__class__ is str]
    ):
        open_rows -= copy_rows  # lines of merged orders: no label among them
        copy_rows = set()
    for position in sorted(open_rows):
        row = cells[position]
        label = labels.get(position)
        if label is None and position in copy_rows:
            typed = copied.get(numbers[position], set())
            accepts = is_bare_totals_label if position in counted else is_totals_label
            label = next(
                (cell for index, cell in enumerate(row) if index not in typed and accepts(cell)), None
            )
        elif label is None and position not in copies and position not in counted:
            label = next((cell for cell in row if is_totals_label(cell)), None)
        if label is not None:
            totals.append((position, label.strip()))
        elif all(is_blank(c) for c in row):
            empty.add(position)
    return empty, totals


def reject_reason(problems: list[CellProblem]) -> str:
    return "; ".join(f"{p.column}: {p.expected}" for p in problems)
