"""Everything cpm prints: data to stdout, messages to stderr."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from cpm.errors import CpmError, InvalidInput
from cpm.models import ImportBatch
from cpm.services.import_batch import ImportSummary

MAX_PROBLEMS_SHOWN = 200

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)


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


def import_summary(summary: ImportSummary, *, dry_run: bool, rejects_file: str | None) -> None:
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
    table.add_row("inserted", f"{summary.inserted:,}")
    table.add_row("updated", f"{summary.updated:,}")
    table.add_row("unchanged", f"{summary.unchanged:,}")
    table.add_row("rejected rows", f"{summary.rejected_rows:,}")
    if noun == "orders":
        table.add_row("new customers", f"{summary.customers_created:,}")
    out.print(table)
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
        for problem in summary.problems[:MAX_PROBLEMS_SHOWN]:
            message(f"  {problem.describe(summary.file_name)}")
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
                + f" (sha256 {b.sha256[:12]})",
                markup=False,
            )
        return
    table = Table(title="Imports", title_justify="left")
    for name, justify in (
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
    ):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
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
        )
    out.print(table)
