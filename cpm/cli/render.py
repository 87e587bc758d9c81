"""Everything cpm prints: data to stdout, messages to stderr."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console, HighlighterType, JustifyMethod, OverflowMethod
from rich.style import Style
from rich.table import Table
from rich.text import Text

from cpm.errors import CpmError, InvalidInput
from cpm.io.text import is_hidden, visible
from cpm.models import ImportBatch
from cpm.services.import_batch import ImportSummary

MAX_PROBLEMS_SHOWN = 200


class DataConsole(Console):
    """A console on which every string is shown as the text it is.

    Whatever a string holds — a customer name, a file name, a message quoting a cell — is never
    read as Rich markup (`[/]`, `[link=…]`) or an emoji code, and its control, zero-width and bidi
    characters are written out (`\x1b`, `U+202E`). Every string Rich prints, table cells and
    titles included, passes through here; styled parts are built with `styled`, which does the same.
    """

    def render_str(
        self,
        text: str,
        *,
        style: str | Style = "",
        justify: JustifyMethod | None = None,
        overflow: OverflowMethod | None = None,
        emoji: bool | None = None,
        markup: bool | None = None,
        highlight: bool | None = None,
        highlighter: HighlighterType | None = None,
    ) -> Text:
        return super().render_str(
            visible(text),
            style=style,
            justify=justify,
            overflow=overflow,
            emoji=False,
            markup=False,
            highlight=highlight,
            highlighter=highlighter,
        )


def styled(*parts: str | tuple[str, str]) -> Text:
    """One line of text in parts, some with a style (`("C0001", "bold")`), shown as text."""
    line = Text()
    for part in parts:
        if isinstance(part, tuple):
            line.append(visible(part[0]), style=part[1])
        else:
            line.append(visible(part))
    return line


out = DataConsole(soft_wrap=True, highlight=False, markup=False, emoji=False)
err = DataConsole(stderr=True, soft_wrap=True, highlight=False, markup=False, emoji=False)


def _json_escape(match_text: str) -> str:
    code = ord(match_text)
    if code > 0xFFFF:  # JSON writes a character beyond the BMP as its UTF-16 pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def json_text(data: Any) -> str:
    """JSON for scripts, readable Chinese, and no character that a terminal would act on.

    json.dumps escapes the ASCII controls; the other hidden characters (C1 controls, bidi and
    zero-width characters, lone surrogates) are escaped the same way, so the text is still the
    exact value when parsed.
    """
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if text.replace("\n", "").isprintable():
        return text
    return "".join(_json_escape(c) if c != "\n" and is_hidden(c) else c for c in text)


def emit_json(data: Any) -> None:
    sys.stdout.write(json_text(data) + "\n")


def emit_csv(rows: list[dict[str, Any]], fields: Sequence[str] | None = None) -> None:
    """CSV with a header line, also when there are no rows (a script still learns the columns).

    Text cells are written in their visible form (README, Bad input): a CSV on a terminal or in
    Excel must not carry escape sequences or invisible characters; a newline stays (quoted).
    """
    names = list(rows[0]) if rows else list(fields or ())
    if not names:
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                key: json.dumps(value)
                if isinstance(value, list)
                else visible(value, keep="\n")
                if isinstance(value, str)
                else value
                for key, value in row.items()
            }
        )


def error(exc: CpmError, *, one_line: bool = False) -> None:
    """The one way a failure is shown: `Error: …`, every problem found, and how to fix it.

    Under --quiet (cron) it is one line: the message, the first problem, and the hint.
    """
    if one_line:
        parts = [f"Error: {exc.message}"]
        if isinstance(exc, InvalidInput) and exc.problems:
            parts.append(exc.problems[0].describe(exc.file_name))
        if exc.hint:
            parts.append(f"Hint: {exc.hint}")
        err.print(" — ".join(parts).replace("\n", " "), markup=False)
        return
    err.print(f"Error: {exc.message}", markup=False)
    if isinstance(exc, InvalidInput) and exc.problems:
        for problem in exc.problems[:MAX_PROBLEMS_SHOWN]:
            err.print(f"  {problem.describe(exc.file_name)}", markup=False)
        hidden = len(exc.problems) - MAX_PROBLEMS_SHOWN
        if hidden > 0:
            columns: dict[str, int] = {}
            for problem in exc.problems[MAX_PROBLEMS_SHOWN:]:
                columns[problem.column] = columns.get(problem.column, 0) + 1
            detail = ", ".join(f"{name}: {count}" for name, count in columns.items())
            err.print(f"  … and {hidden} more ({detail})", markup=False)
    if exc.hint:
        err.print(f"Hint: {exc.hint}", markup=False)


def message(text: str) -> None:
    err.print(text, markup=False)


TOTALS_ROWS_SHOWN = 5


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def totals_rows_line(rows: list[tuple[int, str]], *, only: bool = False) -> str:
    """`skipped 1 totals row: row 2994 (合计)`; for many, the first few and how many more.

    `only`: the sheet has no other rows (`No data rows: only totals rows (row 2: 合计)`)."""
    more = len(rows) - TOTALS_ROWS_SHOWN
    rest = f" and {more:,} more" if more > 0 else ""
    if only:
        shown = ", ".join(f"row {number}: {label}" for number, label in rows[:TOTALS_ROWS_SHOWN])
        return f"No data rows: only totals rows ({shown}{rest}). Nothing to import."
    shown = ", ".join(f"row {number} ({label})" for number, label in rows[:TOTALS_ROWS_SHOWN])
    return f"Skipped {_plural(len(rows), 'totals row')}: {shown}{rest}"


def import_summary(summary: ImportSummary, *, dry_run: bool, rejects_file: str | None) -> None:
    """The counts of an import; under --dry-run what it would do ("would insert"), and the rows
    --skip-invalid would leave out, listed instead of written to a rejects file."""
    noun = summary.kind
    where = f"{summary.file_name}" + (f" (sheet {summary.sheet})" if summary.sheet else "")
    head = "Checked" if dry_run else "Imported"
    out.print(f"{head} {noun} from {where}", markup=False)
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("rows read", f"{summary.rows_read:,}")
    if noun == "orders":
        table.add_row("orders in file", f"{summary.records:,}")
    table.add_row("would insert" if dry_run else "inserted", f"{summary.inserted:,}")
    table.add_row("would update" if dry_run else "updated", f"{summary.updated:,}")
    table.add_row("unchanged", f"{summary.unchanged:,}")
    table.add_row("would reject rows" if dry_run else "rejected rows", f"{summary.rejected_rows:,}")
    if noun == "orders":
        table.add_row(
            "would create customers" if dry_run else "new customers", f"{summary.customers_created:,}"
        )
    out.print(table)
    if summary.totals_rows:
        message(totals_rows_line(summary.totals_rows, only=summary.rows_read == 0))
    if summary.merged_ranges:
        message(
            f"Filled {_plural(summary.merged_ranges, 'merged range')}: each cell of a merged range "
            "holds the range's value."
        )
    if summary.ignored_columns:
        message("Ignored columns: " + ", ".join(summary.ignored_columns))
    if summary.repeat_of is not None:
        message(
            f"Nothing to read: this is the file of import #{summary.repeat_of}, read the same way, and no "
            f"{noun} were imported since, so every row is unchanged."
        )
    elif summary.imported_before and not dry_run:
        first_id, first_at = summary.imported_before[0]
        message(f"Note: this exact file was imported before (import #{first_id}, {first_at:%Y-%m-%d %H:%M}).")
    if rejects_file:
        message(f"{summary.rejected_rows} bad row(s) written to {rejects_file}")
    elif dry_run and summary.rejects:
        message(f"Would reject {_plural(summary.rejected_rows, 'row')} (a dry run writes no rejects file):")
    if rejects_file or (dry_run and summary.rejects):
        for problem in summary.problems[:MAX_PROBLEMS_SHOWN]:
            message(f"  {problem.describe(summary.file_name)}")
        hidden = len(summary.problems) - MAX_PROBLEMS_SHOWN
        if hidden > 0:
            message(f"  … and {hidden:,} more")
    if dry_run:
        message("Dry run: nothing was written.")


def imports_table(batches: list[ImportBatch]) -> None:
    if not batches:
        message("No imports yet. Import a file with `cpm import customers FILE` or `cpm import orders FILE`.")
        return
    if out.width < 110:
        # Too narrow for a table that keeps the file name readable: one line per import.
        for b in batches:
            where = b.file_name + (f" [{b.sheet}]" if b.sheet else "")
            out.print(
                f"#{b.id} {b.imported_at:%Y-%m-%d %H:%M} UTC {b.kind} {where}: read {b.rows_read:,}, "
                f"new {b.inserted:,}, changed {b.updated:,}, same {b.unchanged:,}, rejected {b.rejected:,}"
                + (f", new customers {b.customers_created:,}" if b.customers_created else "")
                + f" (sha256 {b.sha256[:12]})"
                + (f" — undone {b.undone_at:%Y-%m-%d %H:%M} UTC" if b.undone_at else ""),
                markup=False,
            )
        return
    undone = any(b.undone_at for b in batches)
    table = Table(title="Imports", title_justify="left")
    columns: list[tuple[str, JustifyMethod]] = [
        ("#", "right"),
        ("when (UTC)", "left"),
        ("kind", "left"),
        ("file", "left"),
        ("read", "right"),
        ("new", "right"),
        ("changed", "right"),
        ("same", "right"),
        ("rejected", "right"),
        ("new cust.", "right"),
        ("sha256", "left"),
    ]
    if undone:
        columns.append(("undone (UTC)", "left"))
    for name, justify in columns:
        table.add_column(name, justify=justify, no_wrap=True)
    for b in batches:
        table.add_row(
            str(b.id),
            f"{b.imported_at:%Y-%m-%d %H:%M}",
            b.kind,
            b.file_name + (f" [{b.sheet}]" if b.sheet else ""),
            f"{b.rows_read:,}",
            f"{b.inserted:,}",
            f"{b.updated:,}",
            f"{b.unchanged:,}",
            f"{b.rejected:,}",
            f"{b.customers_created:,}",
            b.sha256[:12],
            *((f"{b.undone_at:%Y-%m-%d %H:%M}" if b.undone_at else "",) if undone else ()),
        )
    out.print(table)
