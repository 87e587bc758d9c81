"""Writing a meeting workbook: sheets of typed tables, KPI cards, charts and colour scales.

Rows are streamed through openpyxl's write-only mode, so memory stays flat however many customers
there are. Text that Excel would read as a formula (= + - @, or a leading tab / carriage return)
is always stored as a string. The file is written under a temporary name next to the target and
renamed only when complete, so a crash never leaves half a workbook under the real name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, LineChart, PieChart, Reference
from openpyxl.formatting.rule import ColorScaleRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from cpm.io.files import atomic_output
from cpm.io.text import visible

TEXT, INTEGER, MONEY, RATIO, DATE, DECIMAL = "text", "integer", "money", "ratio", "date", "decimal"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NOT_PLAIN = ("", "=", "#")  # first characters of text openpyxl would not store as plain text
_NUMBERS = (int, float)
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
HEADER_FONT = Font(bold=True, color="FFFFFF")
TITLE_FONT = Font(bold=True, size=16)
SUBTITLE_FONT = Font(italic=True, color="595959")
CARD_LABEL_FONT = Font(bold=True, color="595959")
CARD_VALUE_FONT = Font(bold=True, size=14)
UP_FONT = Font(bold=True, color="007A33")
DOWN_FONT = Font(bold=True, color="C00000")
CARD_FILL = PatternFill("solid", fgColor="F2F2F2")
CHART_ROWS = 18  # rows a chart of 8 cm takes, plus a gap


@dataclass(frozen=True)
class Column:
    header: str
    kind: str = TEXT
    width: float | None = None


@dataclass(frozen=True)
class Chart:
    """A chart over columns of the sheet's (first) table. `series` are 0-based column indexes."""

    kind: str  # line / bar / pie
    title: str
    category: int
    series: tuple[int, ...]
    y_title: str | None = None
    secondary: tuple[int, ...] = ()  # series drawn as a line on a second axis (line charts)
    rows: tuple[int, int] | None = None  # 0-based first and last data row to chart [default: all]


@dataclass(frozen=True)
class Card:
    """A KPI card: label, value, and the change against the previous period."""

    label: str
    value: Any
    kind: str
    previous: Any = None
    change: Any = None
    higher_is_better: bool = True


@dataclass
class Sheet:
    name: str
    columns: Sequence[Column] = ()
    rows: Iterable[Sequence[Any]] = ()
    title: str | None = None
    subtitle: str | None = None
    cards: Sequence[Card] = ()
    charts: Sequence[Chart] = ()
    color_scale_columns: tuple[int, int] | None = None  # first and last 0-based column to shade
    freeze: bool = True
    filters: bool = True
    notes: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class Formats:
    money: str = '"¥"#,##0.00'
    ratio: str = "0.0%"
    date: str = "yyyy-mm-dd"
    integer: str = "#,##0"
    decimal: str = "0.00"

    def for_kind(self, kind: str) -> str | None:
        return {
            MONEY: self.money,
            RATIO: self.ratio,
            DATE: self.date,
            INTEGER: self.integer,
            DECIMAL: self.decimal,
        }.get(kind)


def safe_text(value: str) -> bool:
    """Whether Excel would take this text for a formula if it were written as typed."""
    return not value.startswith(FORMULA_STARTS)


# Whitespace a cell keeps as it is; every other hidden character is written out (cpm.io.text):
# XML cannot hold most controls at all, and a bidi override would reverse what Excel shows.
_KEPT_IN_CELLS = "\n\t\r"


def _cell(ws: Any, value: Any, kind: str, formats: Formats, **style: Any) -> Any:
    if isinstance(value, str):
        cell = WriteOnlyCell(ws, value=visible(value, keep=_KEPT_IN_CELLS))
        # openpyxl stores "=…" as a formula; a string type makes it plain text whatever it starts with.
        cell.data_type = "s"
    else:
        if isinstance(value, datetime):
            value = value.date()
        cell = WriteOnlyCell(ws, value=value)
        number_format = formats.for_kind(kind)
        if number_format and value is not None:
            cell.number_format = number_format
    for key, item in style.items():
        setattr(cell, key, item)
    return cell


class _Rows:
    """Turns a table's rows into what a write-only sheet appends, cheaply: plain values where
    openpyxl writes them as they are, and one reused cell per formatted column for numbers and
    dates (a new styled cell per value costs more than writing it). Reusing is safe because a
    write-only sheet writes each appended row out before the next one is built."""

    def __init__(self, ws: Any, columns: Sequence[Column], formats: Formats) -> None:
        self.ws, self.formats = ws, formats
        self.kinds = [c.kind for c in columns]
        self.number_formats = [formats.for_kind(c.kind) for c in columns]
        # Created on first use, so number formats are registered in the order the cells need them.
        self.shared: list[Any] = [None] * len(columns)

    def cells(self, values: Sequence[Any]) -> list[Any]:
        if len(values) != len(self.kinds):
            raise ValueError(f"a row of {len(values)} values for {len(self.kinds)} columns")
        row: list[Any] = []
        for index, value in enumerate(values):
            kind = value.__class__
            if value is None:
                row.append(None)
            elif kind is str:
                # openpyxl reads "=…" as a formula and "#N/A"-like text as an error: those get a
                # text cell; every other string is written as text anyway.
                plain = value[:1] not in _NOT_PLAIN and value.isprintable()
                row.append(value if plain else _cell(self.ws, value, TEXT, self.formats))
            elif kind in _NUMBERS or (kind is date and self.kinds[index] == DATE):
                number_format = self.number_formats[index]
                if number_format is None:
                    row.append(value)
                    continue
                cell = self.shared[index]
                if cell is None:
                    cell = self.shared[index] = WriteOnlyCell(self.ws)
                    cell.number_format = number_format
                cell.value = value
                row.append(cell)
            else:
                row.append(_cell(self.ws, value, self.kinds[index], self.formats))
        return row


def _width(column: Column) -> float:
    if column.width is not None:
        return column.width
    base = {MONEY: 14, RATIO: 10, DATE: 12, INTEGER: 10, DECIMAL: 10}.get(column.kind, 16)
    header = sum(2 if ord(ch) > 0x2E80 else 1 for ch in column.header) + 3
    return float(max(base, header))


def _write_sheet(wb: Workbook, spec: Sheet, formats: Formats) -> None:
    # The stubs describe ordinary worksheets; write-only ones have the same attributes at run time.
    ws: Any = wb.create_sheet(spec.name[:31])
    for index, column in enumerate(spec.columns, start=1):
        ws.column_dimensions[get_column_letter(index)].width = _width(column)
    if spec.cards:
        for letter in "ABCD":
            ws.column_dimensions[letter].width = 26 if letter == "A" else 18
    preamble = sum(1 for text in (spec.title, spec.subtitle) if text) + len(spec.notes)
    preamble += 1 if preamble else 0
    preamble += len(spec.cards) + 2 if spec.cards else 0
    header_row = preamble + 1
    # Printed (or turned into PDF) every sheet fits the page width, so no column ends up alone.
    ws.page_setup.orientation = "landscape"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    # A summary, or a short table with charts, prints on one page; long tables run on.
    ws.page_setup.fitToHeight = 1 if spec.cards or spec.charts else 0
    if spec.freeze and spec.columns:
        # Write-only sheets write their view before the first row: the pane must be set now.
        ws.freeze_panes = f"A{header_row + 1}"
    row_number = 0

    def emit(cells: list[Any]) -> None:
        nonlocal row_number
        ws.append(cells)
        row_number += 1

    if spec.title:
        emit([_cell(ws, spec.title, TEXT, formats, font=TITLE_FONT)])
    if spec.subtitle:
        emit([_cell(ws, spec.subtitle, TEXT, formats, font=SUBTITLE_FONT)])
    for note in spec.notes:
        emit([_cell(ws, note, TEXT, formats, font=SUBTITLE_FONT)])
    if spec.title or spec.subtitle or spec.notes:
        emit([])
    if spec.cards:
        emit(
            [
                _cell(ws, text, TEXT, formats, font=HEADER_FONT, fill=HEADER_FILL)
                for text in ("KPI", "this period", "previous", "change")
            ]
        )
        for card in spec.cards:
            change_font = Font(bold=True)
            if isinstance(card.change, int | float) and card.change != 0:
                better = (card.change > 0) == card.higher_is_better
                change_font = UP_FONT if better else DOWN_FONT
            emit(
                [
                    _cell(ws, card.label, TEXT, formats, font=CARD_LABEL_FONT, fill=CARD_FILL),
                    _cell(ws, card.value, card.kind, formats, font=CARD_VALUE_FONT, fill=CARD_FILL),
                    _cell(ws, card.previous, card.kind, formats, fill=CARD_FILL),
                    _cell(ws, card.change, card.kind, formats, font=change_font, fill=CARD_FILL),
                ]
            )
        emit([])
    if not spec.columns:
        return
    assert row_number + 1 == header_row
    emit(
        [
            _cell(
                ws,
                c.header,
                TEXT,
                formats,
                font=HEADER_FONT,
                fill=HEADER_FILL,
                alignment=Alignment(wrap_text=True),
            )
            for c in spec.columns
        ]
    )
    table = _Rows(ws, spec.columns, formats)
    first_data = row_number + 1
    for values in spec.rows:
        emit(table.cells(values))
    last_data = row_number
    last_column = get_column_letter(len(spec.columns))
    if spec.filters and last_data >= first_data:
        ws.auto_filter.ref = f"A{header_row}:{last_column}{last_data}"
    if spec.color_scale_columns and last_data >= first_data:
        start, end = spec.color_scale_columns
        ws.conditional_formatting.add(
            f"{get_column_letter(start + 1)}{first_data}:{get_column_letter(end + 1)}{last_data}",
            ColorScaleRule(  # type: ignore[no-untyped-call]
                start_type="num",
                start_value=0,
                start_color="F8696B",
                mid_type="percentile",
                mid_value=50,
                mid_color="FFEB84",
                end_type="num",
                end_value=1,
                end_color="63BE7B",
            ),
        )
    if last_data < first_data:
        return
    # Charts go under the table, one below the other, so they print with it.
    anchor_row = last_data + 3
    for chart_spec in spec.charts:
        ws.add_chart(_chart(ws, chart_spec, header_row, first_data, last_data), f"A{anchor_row}")
        anchor_row += CHART_ROWS


def _straight_lines(chart: Any) -> None:
    """openpyxl smooths line series by default, which draws months that never happened."""
    if isinstance(chart, LineChart):
        for series in chart.series:
            series.smooth = False


def _chart(ws: Any, spec: Chart, header_row: int, first: int, last: int) -> Any:
    titles = True
    if spec.rows is not None:
        first, last = first + spec.rows[0], first + spec.rows[1]
        titles = False  # the header row is not next to the rows charted
    categories = Reference(ws, min_col=spec.category + 1, min_row=first, max_row=last)
    chart: Any
    if spec.kind == "pie":
        chart = PieChart()
    elif spec.kind == "bar":
        chart = BarChart()
        chart.type = "col"
    else:
        chart = LineChart()
    chart.title = spec.title
    chart.height, chart.width = 8, 16
    for column in spec.series:
        data = Reference(ws, min_col=column + 1, min_row=header_row if titles else first, max_row=last)
        chart.add_data(data, titles_from_data=titles)
    _straight_lines(chart)
    if not titles and len(spec.series) == 1:
        chart.legend = None  # one unnamed series: a legend would only say "Column E"
    chart.set_categories(categories)
    if spec.y_title and hasattr(chart, "y_axis"):
        chart.y_axis.title = spec.y_title
    if spec.secondary:
        extra = LineChart()
        for column in spec.secondary:
            extra.add_data(
                Reference(ws, min_col=column + 1, min_row=header_row, max_row=last), titles_from_data=True
            )
        extra.y_axis.axId = 200
        extra.y_axis.crosses = "max"
        _straight_lines(extra)
        chart += extra
    return chart


def write_workbook(path: Path, sheets: Iterable[Sheet], *, formats: Formats | None = None) -> None:
    """Write `sheets` to `path` atomically: a temporary file in the same folder, then a rename."""
    with atomic_output(path, what="workbook") as temp:
        wb = Workbook(write_only=True)
        for spec in sheets:
            _write_sheet(wb, spec, formats or Formats())
        wb.save(temp)
