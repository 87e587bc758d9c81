"""What every import shares: the request, the summary, one streaming pass, and the batch record."""

from __future__ import annotations

import functools
import gc
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlmodel import Session, col, select

from cpm import __version__
from cpm.errors import CellProblem, InvalidInput
from cpm.io.sheets import Sheet
from cpm.models import Correction, ImportBatch
from cpm.services.rows import ParsedChunk, ParsedRow, ParsedSheet, ReadOptions, reject_reason


@dataclass(frozen=True)
class ImportRequest:
    """One file to import and how to treat it."""

    sheet: Sheet
    path: Path
    sha256: str
    options: ReadOptions = field(default_factory=ReadOptions)
    skip_invalid: bool = False
    progress: Callable[[int], None] | None = None
    read_options: str | None = None  # `read_options_key` of how the file is read, to record
    restore_forgotten: bool = False  # write the personal data of forgotten customers again


@dataclass
class Rejected:
    """A row left out under --skip-invalid, with the reason, for the rejects file."""

    row: int
    reason: str
    cells: list[Any]


@dataclass
class ImportSummary:
    kind: str
    file_name: str
    sheet: str | None
    sha256: str
    rows_read: int = 0
    records: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected_rows: int = 0
    customers_created: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    header: list[Any] = field(default_factory=list)
    rejects: list[Rejected] = field(default_factory=list)
    problems: list[CellProblem] = field(default_factory=list)
    batch_id: int | None = None
    imported_before: list[tuple[int, datetime]] = field(default_factory=list)
    repeat_of: int | None = None  # the import this one repeats unread (see `repeat_of_last_import`)
    totals_rows: list[tuple[int, str]] = field(default_factory=list)  # (row, label), left out as no data
    merged_ranges: int = 0  # merged ranges whose value was copied into each of their cells


@functools.cache
def _import_code_digest() -> str:
    """A digest of the code that turns a file into rows (cpm/io and cpm/services): a cpm whose
    reading or checking changed in any way reads a file again rather than trust an earlier import."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256(__version__.encode())
    for source in sorted([*root.glob("io/*.py"), *root.glob("services/*.py")]):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def read_options_key(
    *, path: Path, sheet: str | None, options: ReadOptions, skip_invalid: bool, encoding: str | None = None
) -> str:
    """How a file is read, as canonical JSON: the same bytes read the same way give the same rows.

    The suffix is part of it (a .tsv is split at tabs, a .csv where its first lines say, a .xlsx
    must be a workbook), and so is the code that reads."""
    return json.dumps(
        {
            "cpm": _import_code_digest(),
            "suffix": path.suffix.lower(),
            "sheet": sheet,
            "encoding": encoding,
            "map": sorted(options.column_map.items()),
            "dayfirst": options.dayfirst,
            "decimal_comma": options.decimal_comma,
            "status_words": sorted(options.status_words.items()),
            "skip_invalid": skip_invalid,
        },
        ensure_ascii=False,
        sort_keys=True,
    )


P = ParamSpec("P")
R = TypeVar("R")


def without_cycle_collection(work: Callable[P, R]) -> Callable[P, R]:
    """Run `work` with Python's cycle collector paused, and resume it after.

    An import of a million rows makes millions of short-lived lists and tuples but next to no
    reference cycles, while it holds lists of a million values; every full collection would walk
    all of them again, which cost a quarter of the import's time. Memory no longer referenced is
    still freed at once.
    """

    @functools.wraps(work)
    def paused(*args: P.args, **kwargs: P.kwargs) -> R:
        if not gc.isenabled():
            return work(*args, **kwargs)
        gc.disable()
        try:
            return work(*args, **kwargs)
        finally:
            gc.enable()

    return paused


DAYFIRST_WORD = "--dayfirst"


def _hint(problems: list[CellProblem]) -> str:
    if sum(DAYFIRST_WORD in p.expected for p in problems) * 2 >= len(problems):
        return "The dates look like day/month/year: run the import again with --dayfirst."
    return "Fix the cells listed or import the good rows with --skip-invalid; bad rows go to a rejects file."


class ImportPass:
    """One streaming pass over a file's rows, remembering problems by row.

    Cells are kept only under --skip-invalid, where a rejects file needs them; otherwise a row is
    dropped as soon as it is merged, so memory follows the number of records, not of cells.
    """

    def __init__(self, session: Session, kind: str, request: ImportRequest, parsed: ParsedSheet) -> None:
        self.request = request
        self.parsed = parsed
        self.bad: dict[int, list[CellProblem]] = {}
        self.cells: dict[int, list[Any]] = {}
        self.summary = ImportSummary(
            kind=kind,
            file_name=request.path.name,
            sheet=request.sheet.name,
            sha256=request.sha256,
            ignored_columns=parsed.match.ignored,
            header=list(parsed.header),
        )
        self.summary.imported_before = _earlier_imports(session, kind=kind, sha256=request.sha256)

    def chunks(self) -> Iterator[ParsedChunk]:
        """The parsed rows, a chunk at a time; each chunk's problems are recorded first."""
        progress = self.request.progress
        keep_cells = self.request.skip_invalid
        count = 0
        totals = self.summary.totals_rows
        for chunk in self.parsed.chunks:
            totals.extend(chunk.totals)
            if not chunk.numbers:
                continue
            count += len(chunk.numbers)
            if progress is not None:
                progress(count)
            if keep_cells:
                self.cells.update(zip(chunk.numbers, chunk.cells, strict=True))
            self.bad.update(chunk.problems)
            yield chunk
        self.summary.rows_read = count
        merges = self.request.sheet.merges
        self.summary.merged_ranges = merges.filled if merges is not None else 0
        if count == 0 and not totals:
            # A sheet of totals rows alone (a day without sales) imports nothing, and says so.
            raise InvalidInput(
                f"{self.request.sheet.place()} has a header row but no data rows",
                hint="Export the data again with its rows, or pick the right worksheet with --sheet NAME.",
            )

    def rows(self) -> Iterator[ParsedRow]:
        for chunk in self.chunks():
            yield from chunk.rows()

    def problem(self, row: int, field_name: str, value: Any, expected: str) -> None:
        label = self.parsed.labels.get(field_name, field_name)
        self.bad.setdefault(row, []).append(CellProblem(self.parsed.sheet.name, row, label, value, expected))

    def refuse_or_reject(self) -> None:
        """Without --skip-invalid any problem stops the import; with it, bad rows are set aside."""
        bad = self.bad
        problems = [p for number in sorted(bad) for p in bad[number]]
        self.summary.problems = problems
        if not problems:
            return
        request = self.request
        if not request.skip_invalid:
            count = len(problems)
            raise InvalidInput(
                f"{request.sheet.place()}: {count} problem{'s' if count != 1 else ''} in "
                f"{len(bad)} row{'s' if len(bad) != 1 else ''}; nothing was imported",
                problems=problems,
                file_name=request.path.name,
                hint=_hint(problems),
            )
        self.summary.rejects = [
            Rejected(row=n, reason=reject_reason(bad[n]), cells=list(self.cells.get(n, [])))
            for n in sorted(bad)
        ]
        self.summary.rejected_rows = len(bad)

    def record_batch(self, session: Session) -> ImportBatch:
        """The import's own row, written first so every stored row can point at it."""
        batch = ImportBatch(
            kind=self.summary.kind,
            file_name=self.request.path.name,
            file_path=str(self.request.path.resolve()),
            sha256=self.request.sha256,
            sheet=self.request.sheet.name,
            read_options=self.request.read_options,
            imported_at=datetime.now(UTC),
        )
        session.add(batch)
        session.flush()
        return batch

    def finish_batch(self, session: Session, batch: ImportBatch) -> ImportSummary:
        summary = self.summary
        batch.rows_read = summary.rows_read
        batch.inserted = summary.inserted
        batch.updated = summary.updated
        batch.unchanged = summary.unchanged
        batch.rejected = summary.rejected_rows
        batch.customers_created = summary.customers_created
        session.add(batch)
        session.flush()
        summary.batch_id = batch.id
        return summary


def _earlier_imports(session: Session, *, kind: str, sha256: str) -> list[tuple[int, datetime]]:
    earlier = session.exec(
        select(ImportBatch.id, ImportBatch.imported_at)
        .where(ImportBatch.sha256 == sha256, ImportBatch.kind == kind)
        .order_by(col(ImportBatch.id))
    ).all()
    return [(int(i), at) for i, at in earlier if i is not None]


def _corrected_since(session: Session, moment: datetime) -> bool:
    """Whether any correction (an undone import, a voided order, an edited customer …) was made
    after `moment`."""
    found = session.exec(select(Correction.id).where(col(Correction.made_at) >= moment).limit(1))
    return found.first() is not None


def repeat_of_last_import(
    session: Session, *, kind: str, path: Path, sha256: str, read_options: str
) -> ImportSummary | None:
    """The summary of importing a file that is known to change nothing, without reading it.

    That is so when the newest import of this kind was the very same file (same SHA-256), read
    the same way (`read_options_key`: suffix, sheet, --encoding, --map, --dayfirst, --decimal-comma,
    --skip-invalid, cpm's reading code), with no rows rejected: every row it holds was stored
    then, and nothing but an import of this kind writes these rows (other kinds only add
    customers that are missing, never change one). Imports never delete, and with no undo or
    other correction made since (and that import not undone) every row is still as that import
    left it. The new import is recorded all the same. Returns None when the file must be read.
    """
    if kind not in ("orders", "customers"):
        return None  # opening points are posted row by row, each under its own key
    last = session.exec(
        select(ImportBatch).where(ImportBatch.kind == kind).order_by(col(ImportBatch.id).desc()).limit(1)
    ).first()
    if last is None or last.sha256 != sha256 or last.read_options != read_options or last.rejected:
        return None
    if last.undone_at is not None or _corrected_since(session, last.imported_at):
        return None  # rows it stored may have been taken back or corrected since: read the file
    records = last.inserted + last.updated + last.unchanged
    batch = ImportBatch(
        kind=kind,
        file_name=path.name,
        file_path=str(path.resolve()),
        sha256=sha256,
        sheet=last.sheet,
        read_options=read_options,
        imported_at=datetime.now(UTC),
        rows_read=last.rows_read,
        unchanged=records,
    )
    summary = ImportSummary(
        kind=kind,
        file_name=path.name,
        sheet=last.sheet,
        sha256=sha256,
        rows_read=last.rows_read,
        records=records,
        unchanged=records,
        imported_before=_earlier_imports(session, kind=kind, sha256=sha256),
        repeat_of=last.id,
    )
    session.add(batch)
    session.flush()
    summary.batch_id = batch.id
    return summary
