"""Importing customers and orders: check every row, then write all of it or none of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from cpm.errors import CellProblem, InvalidInput
from cpm.io.sheets import Sheet
from cpm.io.values import CANCELLED, COMPLETED, REFUNDED
from cpm.models import ImportBatch
from cpm.services import bulk
from cpm.services.fields import CUSTOMER_FIELDS, ORDER_FIELDS
from cpm.services.rows import ParsedRow, ParsedSheet, ReadOptions, read_sheet, reject_reason

PROGRESS_EVERY = 5000
CUSTOMER_COLUMNS = ("name", "phone", "email", "city", "joined_on", "birthday", "sales_rep", "tags")
ORDER_OPTIONAL = ("quantity", "channel", "sales_rep")


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


@dataclass(frozen=True)
class ImportRequest:
    """One file to import and how to treat it."""

    sheet: Sheet
    path: Path
    sha256: str
    options: ReadOptions = field(default_factory=ReadOptions)
    skip_invalid: bool = False
    progress: Callable[[int], None] | None = None


def _start(session: Session, kind: str, request: ImportRequest, parsed: ParsedSheet) -> ImportSummary:
    summary = ImportSummary(
        kind=kind,
        file_name=request.path.name,
        sheet=request.sheet.name,
        sha256=request.sha256,
        ignored_columns=parsed.match.ignored,
        header=list(parsed.header),
    )
    earlier = session.exec(
        select(ImportBatch.id, ImportBatch.imported_at)
        .where(ImportBatch.sha256 == request.sha256, ImportBatch.kind == kind)
        .order_by(col(ImportBatch.id))
    ).all()
    summary.imported_before = [(int(i), at) for i, at in earlier if i is not None]
    return summary


def _collect(parsed: ParsedSheet, request: ImportRequest) -> list[ParsedRow]:
    rows = []
    for count, row in enumerate(parsed.rows, start=1):
        rows.append(row)
        if request.progress is not None and count % PROGRESS_EVERY == 0:
            request.progress(count)
    return rows


def _refuse_or_reject(
    summary: ImportSummary, request: ImportRequest, bad: dict[int, list[CellProblem]], rows: list[ParsedRow]
) -> None:
    """Without --skip-invalid any problem stops the import; with it, bad rows are set aside."""
    problems = [p for number in sorted(bad) for p in bad[number]]
    summary.problems = problems
    if not problems:
        return
    if not request.skip_invalid:
        count = len(problems)
        raise InvalidInput(
            f"{request.sheet.place()}: {count} problem{'s' if count != 1 else ''} in "
            f"{len(bad)} row{'s' if len(bad) != 1 else ''}; nothing was imported",
            problems=problems,
            file_name=request.path.name,
            hint="Fix the cells listed, or import the good rows with --skip-invalid "
            "(the bad ones go to a rejects file).",
        )
    by_number = {row.number: row for row in rows}
    summary.rejects = [
        Rejected(row=n, reason=reject_reason(bad[n]), cells=list(by_number[n].cells)) for n in sorted(bad)
    ]
    summary.rejected_rows = len(bad)


def _record_batch(session: Session, summary: ImportSummary, request: ImportRequest) -> ImportBatch:
    batch = ImportBatch(
        kind=summary.kind,
        file_name=request.path.name,
        file_path=str(request.path.resolve()),
        sha256=request.sha256,
        sheet=request.sheet.name,
        imported_at=datetime.now(UTC),
    )
    session.add(batch)
    session.flush()
    return batch


def _finish_batch(session: Session, batch: ImportBatch, summary: ImportSummary) -> None:
    batch.rows_read = summary.rows_read
    batch.inserted = summary.inserted
    batch.updated = summary.updated
    batch.unchanged = summary.unchanged
    batch.rejected = summary.rejected_rows
    batch.customers_created = summary.customers_created
    session.add(batch)
    session.flush()
    summary.batch_id = batch.id


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


# --- customers --------------------------------------------------------------------------------


def import_customers(session: Session, request: ImportRequest) -> ImportSummary:
    """Insert new customers and update changed ones, keyed by customer_code."""
    parsed = read_sheet(request.sheet, CUSTOMER_FIELDS, request.options)
    summary = _start(session, "customers", request, parsed)
    rows = _collect(parsed, request)
    summary.rows_read = len(rows)
    if not rows:
        raise InvalidInput(f"{request.sheet.place()} has a header row but no data rows")
    present = [c for c in CUSTOMER_COLUMNS if c in parsed.match.columns]
    bad: dict[int, list[CellProblem]] = {row.number: row.problems for row in rows if row.problems}
    first_row: dict[str, ParsedRow] = {}
    for row in rows:
        code = row.values["customer_code"]
        if row.number in bad or code is None:
            continue
        seen = first_row.get(code)
        if seen is None:
            first_row[code] = row
            continue
        differs = [c for c in present if seen.values[c] != row.values[c]]
        if differs:
            shown = ", ".join(f"{c} {seen.values[c]!r} vs {row.values[c]!r}" for c in differs)
            for culprit in (seen, row):
                bad.setdefault(culprit.number, []).append(
                    CellProblem(
                        request.sheet.name,
                        culprit.number,
                        parsed.labels["customer_code"],
                        code,
                        f"customer code appears on rows {seen.number} and {row.number} with "
                        f"different data ({shown}); keep one row per customer",
                    )
                )
    _refuse_or_reject(summary, request, bad, rows)
    rejected_codes = {row.values["customer_code"] for row in rows if row.number in bad}
    chosen = [r for code, r in first_row.items() if r.number not in bad and code not in rejected_codes]
    summary.records = len(chosen)

    batch = _record_batch(session, summary, request)
    sqlite = _is_sqlite(session)
    columns = ["customer_code", *present, "import_id"]
    values = ([bulk.db_value(r.values[c], sqlite=sqlite) for c in columns[:-1]] + [batch.id] for r in chosen)
    counts = bulk.upsert(
        session,
        table="customers",
        key="customer_code",
        columns=columns,
        compared=present,
        rows=values,
        total=len(chosen),
    )
    summary.inserted, summary.updated, summary.unchanged = counts.inserted, counts.updated, counts.unchanged
    _finish_batch(session, batch, summary)
    return summary


# --- orders -----------------------------------------------------------------------------------


@dataclass
class _OrderDraft:
    """The lines of one order_no, merged."""

    first: ParsedRow
    customer_code: str
    order_date: date
    amount: int = 0
    given_refund: int = 0
    implied_refund: int = 0
    quantity: int | None = None
    statuses: set[str] = field(default_factory=set)
    rows: list[int] = field(default_factory=list)
    channel: str | None = None
    sales_rep: str | None = None
    customer_name: str | None = None

    def status(self) -> str:
        for status in (COMPLETED, REFUNDED):
            if status in self.statuses:
                return status
        return CANCELLED if self.statuses else COMPLETED

    def refunded_amount(self) -> int:
        if self.status() == CANCELLED:
            return self.given_refund
        return self.given_refund + self.implied_refund

    def net_amount(self) -> int:
        return 0 if self.status() == CANCELLED else self.amount - self.refunded_amount()


def _add_line(draft: _OrderDraft, row: ParsedRow) -> None:
    values = row.values
    amount = values["amount"]
    draft.amount += amount
    status = values.get("status") or COMPLETED
    draft.statuses.add(status)
    refund = values.get("refunded_amount")
    if refund is not None:
        draft.given_refund += refund
    elif status != COMPLETED:
        # A refunded (or, within a live order, cancelled) line without a refund amount is a
        # refund of the whole line.
        draft.implied_refund += amount
    quantity = values.get("quantity")
    if quantity is not None:
        draft.quantity = (draft.quantity or 0) + quantity
    draft.channel = draft.channel or values.get("channel")
    draft.sales_rep = draft.sales_rep or values.get("sales_rep")
    draft.customer_name = draft.customer_name or values.get("customer_name")
    draft.rows.append(row.number)


def _merge_orders(
    rows: list[ParsedRow], parsed: ParsedSheet, bad: dict[int, list[CellProblem]]
) -> dict[str, _OrderDraft]:
    sheet = parsed.sheet.name
    labels = parsed.labels
    drafts: dict[str, _OrderDraft] = {}
    for row in rows:
        values = row.values
        order_no = values["order_no"]
        if order_no is None:
            continue
        draft = drafts.get(order_no)
        if draft is None:
            draft = _OrderDraft(
                first=row, customer_code=values["customer_code"], order_date=values["order_date"]
            )
            drafts[order_no] = draft
        elif row.number not in bad:
            for name, mine in (("customer_code", draft.customer_code), ("order_date", draft.order_date)):
                theirs = values[name]
                if mine is not None and theirs != mine:
                    shown = mine.isoformat() if isinstance(mine, date) else mine
                    bad.setdefault(row.number, []).append(
                        CellProblem(
                            sheet,
                            row.number,
                            labels[name],
                            theirs,
                            f"order {order_no} has {name} {shown} on row {draft.first.number}; "
                            "all lines of one order must agree",
                        )
                    )
        if row.number in bad:
            draft.rows.append(row.number)
            continue
        _add_line(draft, row)
    for order_no, draft in drafts.items():
        if any(n in bad for n in draft.rows):
            continue
        number = draft.first.number
        if draft.amount < 0:
            bad.setdefault(number, []).append(
                CellProblem(
                    sheet,
                    number,
                    labels["amount"],
                    f"{draft.amount / 100:.2f}",
                    f"order {order_no} adds up to a negative amount; "
                    "record refunds as a status or a refunded amount",
                )
            )
        elif draft.refunded_amount() > draft.amount:
            bad.setdefault(number, []).append(
                CellProblem(
                    sheet,
                    number,
                    labels.get("refunded_amount", labels["amount"]),
                    f"{draft.refunded_amount() / 100:.2f}",
                    f"order {order_no} refunds more than its amount {draft.amount / 100:.2f}",
                )
            )
    return drafts


def import_orders(session: Session, request: ImportRequest) -> ImportSummary:
    """Insert new orders and update changed ones, keyed by order_no; lines of one order merge.

    An order for a customer code that is not stored yet creates that customer.
    """
    parsed = read_sheet(request.sheet, ORDER_FIELDS, request.options)
    summary = _start(session, "orders", request, parsed)
    rows = _collect(parsed, request)
    summary.rows_read = len(rows)
    if not rows:
        raise InvalidInput(f"{request.sheet.place()} has a header row but no data rows")
    bad: dict[int, list[CellProblem]] = {row.number: row.problems for row in rows if row.problems}
    drafts = _merge_orders(rows, parsed, bad)
    if request.skip_invalid:
        # A bad line condemns its whole order: storing the other lines would store a wrong total.
        for order_no, draft in drafts.items():
            if any(n in bad for n in draft.rows):
                for number in draft.rows:
                    if number not in bad:
                        bad[number] = [
                            CellProblem(
                                parsed.sheet.name,
                                number,
                                parsed.labels["order_no"],
                                order_no,
                                "another line of the same order is invalid",
                            )
                        ]
    _refuse_or_reject(summary, request, bad, rows)
    good = [(no, d) for no, d in drafts.items() if not any(n in bad for n in d.rows)]
    summary.records = len(good)

    batch = _record_batch(session, summary, request)
    sqlite = _is_sqlite(session)
    names: dict[str, str | None] = {}
    for _, draft in good:
        if names.get(draft.customer_code) is None:
            names[draft.customer_code] = draft.customer_name
    summary.customers_created = bulk.insert_missing(
        session,
        table="customers",
        key="customer_code",
        columns=("customer_code", "name", "import_id"),
        rows=([code, name, batch.id] for code, name in names.items()),
    )
    customer_ids = bulk.fetch_pairs(session, "SELECT customer_code, id FROM customers")

    present = [c for c in ORDER_OPTIONAL if c in parsed.match.columns]
    refunds_known = "status" in parsed.match.columns or "refunded_amount" in parsed.match.columns
    columns = [
        "order_no",
        "customer_id",
        "order_date",
        "amount",
        "refunded_amount",
        "net_amount",
        "status",
        *present,
        "import_id",
    ]
    compared = ["customer_id", "order_date", "amount", *present]
    set_expressions: dict[str, str] = {}
    if refunds_known:
        compared += ["refunded_amount", "status"]
    else:
        # The file says nothing of refunds: keep the stored status and refund, recompute net.
        set_expressions = {
            "status": "orders.status",
            "refunded_amount": "CASE WHEN orders.refunded_amount > excluded.amount "
            "THEN excluded.amount ELSE orders.refunded_amount END",
            "net_amount": "CASE WHEN orders.status = 'cancelled' THEN 0 "
            "WHEN orders.refunded_amount > excluded.amount THEN 0 "
            "ELSE excluded.amount - orders.refunded_amount END",
        }

    def values() -> Any:
        for order_no, d in good:
            record = [
                order_no,
                customer_ids[d.customer_code],
                bulk.db_value(d.order_date, sqlite=sqlite),
                d.amount,
                d.refunded_amount(),
                d.net_amount(),
                d.status(),
            ]
            record += [getattr(d, c) for c in present]
            record.append(batch.id)
            yield record

    counts = bulk.upsert(
        session,
        table="orders",
        key="order_no",
        columns=columns,
        compared=compared,
        rows=values(),
        total=len(good),
        set_expressions=set_expressions,
    )
    summary.inserted, summary.updated, summary.unchanged = counts.inserted, counts.updated, counts.unchanged
    _finish_batch(session, batch, summary)
    return summary


def list_imports(session: Session, *, limit: int | None = None) -> list[ImportBatch]:
    """Recorded imports, newest first."""
    query = select(ImportBatch).order_by(col(ImportBatch.id).desc())
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query).all())
