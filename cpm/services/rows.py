"""Reading an import sheet into checked rows: find the header, parse every cell, keep every problem."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from cpm.errors import CellProblem, InvalidInput
from cpm.io.headers import HeaderMatch, match_headers, normalize_header
from cpm.io.sheets import Sheet
from cpm.io.values import (
    BadValue,
    clean_text,
    is_blank,
    parse_count,
    parse_date,
    parse_money,
    parse_points,
    parse_status,
)
from cpm.services.fields import CODE, COUNT, DATE, MONEY, POINTS, STATUS, TEXT, FieldSpec, aliases_of

HEADER_SEARCH_ROWS = 20  # exports often put a title or a blank line above the header
MAX_CODE_LENGTH = 64

Progress = Callable[[int], None]


@dataclass(frozen=True)
class ReadOptions:
    """How to read the values of one file."""

    column_map: Mapping[str, str] = field(default_factory=dict)
    dayfirst: bool = False
    decimal_comma: bool = False


@dataclass
class ParsedRow:
    number: int
    values: dict[str, Any]
    problems: list[CellProblem]
    cells: list[Any]


@dataclass
class ParsedSheet:
    """The header found, and an iterator over the data rows below it."""

    sheet: Sheet
    header: list[Any]
    match: HeaderMatch
    labels: dict[str, str]  # field -> how to name the column in a message
    rows: Iterator[ParsedRow]


def _parse_code(value: Any) -> str:
    text = clean_text(value)
    if len(text) > MAX_CODE_LENGTH:
        raise BadValue(f"longer than {MAX_CODE_LENGTH} characters")
    return text


def _parser_for(kind: str, options: ReadOptions) -> Callable[[Any], Any]:
    if kind == CODE:
        return _parse_code
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
        return parse_status
    if kind == POINTS:
        return parse_points
    raise AssertionError(f"unknown field kind {kind}")


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
        (spec.name, match.columns[spec.name], _parser_for(spec.kind, options), spec.required)
        for spec in fields
        if spec.name in match.columns
    ]
    rest = chain(buffered[header_at + 1 :], sheet.rows)
    sheet_name = sheet.name

    def parsed() -> Iterator[ParsedRow]:
        for number, cells in rest:
            width = len(cells)
            values: dict[str, Any] = {}
            problems: list[CellProblem] = []
            blank = True
            for name, index, parse, is_required in columns:
                raw = cells[index] if index < width else None
                if raw is None or (raw.__class__ is str and (not raw or raw.isspace())):
                    values[name] = None
                    if is_required:
                        problems.append(
                            CellProblem(sheet_name, number, labels[name], raw, "a value is required here")
                        )
                    continue
                blank = False
                try:
                    values[name] = parse(raw)
                except BadValue as exc:
                    values[name] = None
                    problems.append(CellProblem(sheet_name, number, labels[name], raw, str(exc)))
            if blank and all(is_blank(c) for c in cells):
                continue  # an empty line is not a row
            yield ParsedRow(number, values, problems, cells)

    return ParsedSheet(sheet=sheet, header=header, match=match, labels=labels, rows=parsed())


def reject_reason(problems: list[CellProblem]) -> str:
    return "; ".join(f"{p.column}: {p.expected}" for p in problems)
