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
        found = [str(c).strip() for c in cells if not is_blank(c)]
        suggestions = "; ".join(f"{name} (e.g. {', '.join(aliases[name][:3])})" for name in missing)
        raise InvalidInput(
            f"{sheet.place()}: missing required column(s): {suggestions}. "
            f"Header row {number} has: {', '.join(found)}",
            hint='Rename the column, or say which one it is with --map "your header=field".',
        )
    present = {normalize_header(c): str(c).strip() for c in buffered[header_at][1] if not is_blank(c)}
    for source in options.column_map:
        if normalize_header(source) not in present:
            raise InvalidInput(
                f"{sheet.place()}: --map names column {source!r}, which is not in header row "
                f"{buffered[header_at][0]}",
                hint="Columns in that row: " + ", ".join(present.values()),
            )
    header = buffered[header_at][1]
    labels = {name: column_label(match.headers[name], name) for name in match.columns}
    columns = [
        (spec.name, match.columns[spec.name], column_reader(spec.kind, options, required=spec.required))
        for spec in fields
        if spec.name in match.columns
    ]
    rest = chain(buffered[header_at + 1 :], sheet.rows)
    chunks = (_parse_chunk(part, columns, sheet, labels) for part in _batched(rest))
    return ParsedSheet(sheet=sheet, header=header, match=match, labels=labels, chunks=chunks)


def _batched(rows: Iterator[tuple[int, list[Any]]]) -> Iterator[list[tuple[int, list[Any]]]]:
    while part := list(islice(rows, CHUNK_ROWS)):
        yield part


def _parse_chunk(
    part: list[tuple[int, list[Any]]],
    columns: list[tuple[str, int, ColumnReader]],
    sheet: Sheet,
    labels: dict[str, str],
) -> ParsedChunk:
    numbers: list[int] = list(map(itemgetter(0), part))
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
    first_values, first_bad = read[0]  # a required column: every sheet has one
    if first_bad:
        # An empty line is not a row; only a row whose first required cell is blank can be one.
        empty = {
            position
            for position, value in enumerate(first_values)
            if value is _MISSING and all(is_blank(c) for c in cells[position])
        }
        if empty:
            kept = [item for position, item in enumerate(part) if position not in empty]
            if kept:
                return _parse_chunk(kept, columns, sheet, labels)
            return ParsedChunk([], {name: [] for name, _, _ in columns}, {}, [])
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


def reject_reason(problems: list[CellProblem]) -> str:
    return "; ".join(f"{p.column}: {p.expected}" for p in problems)
