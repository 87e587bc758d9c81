"""`cpm import customers|orders FILE` and `cpm imports`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from sqlmodel import Session

from cpm.cli import order_cmd, render
from cpm.cli.report_cmd import quoted_argument
from cpm.cli.state import State
from cpm.config import MAX_STATUS_WORD
from cpm.db import ensure_current, session_scope
from cpm.io.delimited import text_encoding
from cpm.io.rejects import rejects_path, write_rejects
from cpm.io.sheets import check_readable_file, file_sha256, open_sheet
from cpm.io.text import is_hidden
from cpm.io.values import STATUSES, status_word
from cpm.services import import_undo, importing
from cpm.services.fields import FIELDS_BY_KIND
from cpm.services.rows import ReadOptions

app = typer.Typer(
    help="Import customers or orders from .xlsx, .xlsm, .xls, .csv or .tsv files.", no_args_is_help=True
)

FileArg = Annotated[
    Path,
    typer.Argument(metavar="FILE", help="The .xlsx/.xlsm/.xls/.csv/.tsv file to import.", show_default=False),
]
SheetOpt = Annotated[str | None, typer.Option("--sheet", help="Worksheet to read [default: the first].")]
MapOpt = Annotated[
    list[str] | None,
    typer.Option("--map", help='Say which field a column is: --map "原列名=field" (repeatable).'),
]
EncodingOpt = Annotated[
    str | None,
    typer.Option(
        "--encoding",
        help="Encoding of a CSV/TSV file, e.g. gb18030, big5, cp1252 "
        "[default: UTF-8 or UTF-16, else GB18030 if it reads as Chinese].",
        show_default=False,
    ),
]
DayFirstOpt = Annotated[bool, typer.Option("--dayfirst", help="Read 05/01/2024 as 5 January.")]
DecimalCommaOpt = Annotated[bool, typer.Option("--decimal-comma", help="Read 1.234,50 as 1234.50.")]
SkipInvalidOpt = Annotated[
    bool,
    typer.Option(
        "--skip-invalid",
        help="Import the good rows; write the bad ones to FILE.rejects.csv next to FILE "
        "(订单.xlsx → 订单.xlsx.rejects.csv). With --dry-run, list them instead.",
    ),
]
StatusMapOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--status-map",
        help='Say what a status word means: --status-map "已发货=completed" (repeatable; completed, '
        "refunded, cancelled or pending). Over [import.status_words] in cpm.toml and cpm's own words.",
        show_default=False,
    ),
]
RestoreForgottenOpt = Annotated[
    bool,
    typer.Option(
        "--restore-forgotten",
        help="Write the file's name, phone, e-mail, city, birthday and tags of customers erased by "
        "`cpm customer forget` (they are no longer forgotten) [default: leave them erased].",
    ),
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Check the file and show the counts; write nothing.")
]


def _column_map(kind: str, values: list[str] | None) -> dict[str, str]:
    fields = {spec.name for spec in FIELDS_BY_KIND[kind]}
    mapping: dict[str, str] = {}
    for value in values or []:
        source, sep, target = value.rpartition("=")
        if not sep or not source.strip() or not target.strip():
            raise typer.BadParameter(f'{value!r} should look like "column header=field"', param_hint="--map")
        if target.strip() not in fields:
            raise typer.BadParameter(
                f"{target.strip()!r} is not a field of {kind}; fields: {', '.join(sorted(fields))}",
                param_hint="--map",
            )
        mapping[source.strip()] = target.strip()
    return mapping


def _status_map(settings_words: tuple[tuple[str, str], ...], values: list[str] | None) -> dict[str, str]:
    """cpm.toml's [import.status_words], then each --status-map WORD=STATUS over it."""
    words = dict(settings_words)
    for value in values or []:
        word, sep, status = value.rpartition("=")
        looked_up = status_word(word)
        if not sep or not looked_up or any(map(is_hidden, looked_up)) or len(looked_up) > MAX_STATUS_WORD:
            raise typer.BadParameter(
                f'{quoted_argument(value)} should look like "status word=completed"',
                param_hint="--status-map",
            )
        if status.strip().casefold() not in STATUSES:
            raise typer.BadParameter(
                f"{quoted_argument(status)} is not a status; use one of {', '.join(STATUSES)}",
                param_hint="--status-map",
            )
        words[looked_up] = status.strip().casefold()
    return words


def _encoding(name: str | None) -> str | None:
    if name is None:
        return None
    try:
        return text_encoding(name)
    except LookupError:
        raise typer.BadParameter(
            f"{name!r} is not a text encoding Python knows (e.g. utf-8, gb18030, big5, cp1252)",
            param_hint="--encoding",
        ) from None


def progress_total(sheet_rows: int) -> int:
    """The data rows to expect in a sheet of `sheet_rows` rows: all but the header."""
    return max(sheet_rows - 1, 1)


def progress_callback(bar: Progress, task: TaskID, total: int) -> Callable[[int], None]:
    """Moves the bar to the rows read so far. A title row above the header, blank lines and
    totals rows make the rows read fewer than expected; a count beyond the total grows the total,
    so the bar never shows more done than in all."""
    shown = total

    def advance(done: int) -> None:
        nonlocal shown
        if done > shown:
            shown = done
            bar.update(task, total=shown, completed=done)
        else:
            bar.update(task, completed=done)

    return advance


@contextmanager
def _progress(quiet: bool, total: int, label: str) -> Iterator[Callable[[int], None] | None]:
    if quiet or not sys.stderr.isatty():
        yield None
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=render.err, transient=True) as bar:
        expected = progress_total(total)
        task = bar.add_task(label, total=expected)
        yield progress_callback(bar, task, expected)


def _run_import(
    ctx: typer.Context,
    kind: str,
    file: Path,
    *,
    sheet: str | None,
    encoding: str | None,
    column_map: list[str] | None,
    dayfirst: bool,
    decimal_comma: bool,
    skip_invalid: bool,
    dry_run: bool,
    status_map: list[str] | None = None,
    restore_forgotten: bool = False,
) -> None:
    state: State = ctx.obj
    mapping = _column_map(kind, column_map)
    words = _status_map(state.settings.status_words, status_map) if kind == "orders" else {}
    codec = _encoding(encoding)
    ensure_current(state.db)  # say `cpm init` before complaining about the file
    check_readable_file(file)
    sha256 = file_sha256(file)
    options = ReadOptions(
        column_map=mapping, dayfirst=dayfirst, decimal_comma=decimal_comma, status_words=words
    )
    read_as = importing.read_options_key(
        path=file, sheet=sheet, options=options, skip_invalid=skip_invalid, encoding=codec
    )
    with session_scope(state.db, write=True, dry_run=dry_run) as session:
        repeated = importing.repeat_of_last_import(
            session, kind=kind, path=file, sha256=sha256, read_options=read_as
        )
    if repeated is not None and not restore_forgotten:  # restoring reads the file again
        if not state.quiet:
            render.import_summary(repeated, dry_run=dry_run, rejects_file=None)
        return
    opened = open_sheet(file, sheet=sheet, encoding=codec)

    def action(session: Session, request: importing.ImportRequest) -> importing.ImportSummary:
        if kind == "points":
            return importing.import_points(session, request, settings=state.settings, today=date.today())
        if kind == "orders":
            return importing.import_orders(session, request)
        return importing.import_customers(session, request)

    rejects_file: Path | None = None
    with _progress(state.quiet, opened.total_rows, f"Reading {file.name}") as progress:
        request = importing.ImportRequest(
            sheet=opened,
            path=file,
            sha256=sha256,
            options=options,
            skip_invalid=skip_invalid,
            progress=progress,
            read_options=read_as,
            restore_forgotten=restore_forgotten,
        )
        with session_scope(state.db, write=True, dry_run=dry_run) as session:
            summary = action(session, request)
            if summary.rejects and not dry_run:
                # Written inside the transaction: if the rejects cannot be saved, nothing is imported.
                rejects_file = rejects_path(file)
                write_rejects(
                    rejects_file, summary.header, ((r.row, r.reason, r.cells) for r in summary.rejects)
                )
    if not state.quiet:
        render.import_summary(
            summary, dry_run=dry_run, rejects_file=str(rejects_file) if rejects_file else None
        )


def _import_command(kind: str, doc: str) -> Callable[..., None]:
    """One `cpm import KIND FILE` command; the kinds differ only in their fields and help (and
    orders, which have statuses, take --status-map)."""

    def command(
        ctx: typer.Context,
        file: FileArg,
        sheet: SheetOpt = None,
        encoding: EncodingOpt = None,
        column_map: MapOpt = None,
        dayfirst: DayFirstOpt = False,
        decimal_comma: DecimalCommaOpt = False,
        skip_invalid: SkipInvalidOpt = False,
        dry_run: DryRunOpt = False,
    ) -> None:
        _run_import(
            ctx,
            kind,
            file,
            sheet=sheet,
            encoding=encoding,
            column_map=column_map,
            dayfirst=dayfirst,
            decimal_comma=decimal_comma,
            skip_invalid=skip_invalid,
            dry_run=dry_run,
        )

    def orders_command(
        ctx: typer.Context,
        file: FileArg,
        sheet: SheetOpt = None,
        encoding: EncodingOpt = None,
        column_map: MapOpt = None,
        status_map: StatusMapOpt = None,
        dayfirst: DayFirstOpt = False,
        decimal_comma: DecimalCommaOpt = False,
        skip_invalid: SkipInvalidOpt = False,
        dry_run: DryRunOpt = False,
    ) -> None:
        _run_import(
            ctx,
            kind,
            file,
            sheet=sheet,
            encoding=encoding,
            column_map=column_map,
            dayfirst=dayfirst,
            decimal_comma=decimal_comma,
            skip_invalid=skip_invalid,
            dry_run=dry_run,
            status_map=status_map,
        )

    def customers_command(
        ctx: typer.Context,
        file: FileArg,
        sheet: SheetOpt = None,
        encoding: EncodingOpt = None,
        column_map: MapOpt = None,
        dayfirst: DayFirstOpt = False,
        decimal_comma: DecimalCommaOpt = False,
        skip_invalid: SkipInvalidOpt = False,
        dry_run: DryRunOpt = False,
        restore_forgotten: RestoreForgottenOpt = False,
    ) -> None:
        _run_import(
            ctx,
            kind,
            file,
            sheet=sheet,
            encoding=encoding,
            column_map=column_map,
            dayfirst=dayfirst,
            decimal_comma=decimal_comma,
            skip_invalid=skip_invalid,
            dry_run=dry_run,
            restore_forgotten=restore_forgotten,
        )

    chosen: Callable[..., None] = command
    if kind == "orders":
        chosen = orders_command
    elif kind == "customers":
        chosen = customers_command
    chosen.__doc__ = doc
    return chosen


app.command("customers")(
    _import_command(
        "customers",
        """Import customers, keyed by customer_code.

    Optional fields: name, phone, email, city, joined_on, birthday, sales_rep, tags.
    """,
    )
)
app.command("orders")(
    _import_command(
        "orders",
        """Import orders, keyed by order_no; several lines with one order_no are one order.

    Required: order_no, customer_code, order_date, amount. Optional: quantity, channel, sales_rep,
    status, refunded_amount, customer_name. Unknown customers are created. A pending order
    (awaiting payment) is stored and counted nowhere until a later import says otherwise.
    """,
    )
)
app.command("points")(
    _import_command(
        "points",
        """Import opening points balances from an older programme (one ledger row per file row).

    Required: customer_code, points. Optional: earned_on (default today), expires_on (default
    earned_on + expiry_months), note. Importing the same file again posts nothing.
    """,
    )
)


imports_app = typer.Typer(
    help="List recorded imports (`cpm imports`), or take one back (`cpm imports undo N`)."
)


@imports_app.callback(invoke_without_command=True)
def imports(
    ctx: typer.Context,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, max=1_000_000_000, help="Show only the newest N.")
    ] = None,
) -> None:
    """List recorded imports, newest first: file, SHA-256 and what each one did (undone ones
    marked as such); `cpm imports undo N` takes import N back."""
    if ctx.invoked_subcommand is not None:
        return
    state: State = ctx.obj
    with session_scope(state.db) as session:
        batches = importing.list_imports(session, limit=limit)
        render.imports_table(batches)


@imports_app.command("undo")
def undo(
    ctx: typer.Context,
    batch: Annotated[
        int,
        typer.Argument(
            metavar="N",
            min=1,
            max=1_000_000_000,
            help="The import's number (# in `cpm imports`).",
            show_default=False,
        ),
    ],
    reason: Annotated[str | None, typer.Option("--reason", help="Why (kept with the correction).")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what the undo would do; write nothing.")
    ] = False,
) -> None:
    """Take back import N: rows it created are removed, rows it changed get their earlier values,
    opening points it posted are reversed. Refused while a later import depends on it."""
    state: State = ctx.obj
    why = order_cmd.checked_reason(reason, required=False)
    with session_scope(state.db, write=True, dry_run=dry_run) as session:
        summary = import_undo.undo_import(session, batch, reason=why, today=date.today())
    if not state.quiet:
        render.message(undo_text(summary, dry_run=dry_run))


def _rows(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def undo_text(summary: import_undo.UndoSummary, *, dry_run: bool) -> str:
    """What an undo did (or would do), in one paragraph."""
    parts: list[str] = []
    deleted = [
        _rows(summary.deleted.get(t, 0), n) for t, n in (("orders", "order"), ("customers", "customer"))
    ]
    kept = [
        _rows(summary.marked_removed.get(t, 0), n)
        for t, n in (("orders", "order"), ("customers", "customer"))
    ]
    restored = [
        _rows(summary.restored.get(t, 0), n) for t, n in (("orders", "order"), ("customers", "customer"))
    ]
    parts.append(f"{'would delete' if dry_run else 'deleted'} {' and '.join(deleted)} it created")
    if any(summary.marked_removed.values()):
        parts.append(
            f"{'would keep' if dry_run else 'kept'} {' and '.join(kept)} marked removed "
            "(the ledger or a correction names them; no report or award counts them)"
        )
    parts.append(f"{'would give' if dry_run else 'gave'} {' and '.join(restored)} back their earlier values")
    if summary.points_reversed:
        parts.append(
            f"{'would reverse' if dry_run else 'reversed'} "
            f"{_rows(summary.points_reversed, 'opening-points row')} ({summary.points:+,} points)"
        )
    what = f"import {summary.batch_id} ({summary.kind}, {summary.file_name})"
    head = f"{'Would undo' if dry_run else 'Undid'} {what}: "
    tail = (
        " (dry run: nothing was written)"
        if dry_run
        else ". Run `cpm award` to take back the points of orders that are gone or changed."
    )
    return head + "; ".join(parts) + tail
