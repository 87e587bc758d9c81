"""Importing customers and orders: check every row, then write all of it or none of it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from itertools import compress, repeat
from operator import is_not, not_
from typing import Any

from sqlmodel import Session, col, select

from cpm.config import Settings
from cpm.models import ImportBatch, PointsEntry
from cpm.services import bulk, customer_codes, import_undo, ledger
from cpm.services.fields import CUSTOMER_FIELDS, ORDER_FIELDS, POINTS_FIELDS
from cpm.services.import_batch import (
    ImportPass,
    ImportRequest,
    ImportSummary,
    Rejected,
    read_options_key,
    repeat_of_last_import,
    without_cycle_collection,
)
from cpm.services.order_lines import merge_order_lines
from cpm.services.rows import read_sheet
from cpm.services.totals import check_totals

__all__ = [
    "ImportRequest",
    "ImportSummary",
    "Rejected",
    "import_customers",
    "import_orders",
    "import_points",
    "list_imports",
    "read_options_key",
    "repeat_of_last_import",
]

CUSTOMER_COLUMNS = ("name", "phone", "email", "city", "joined_on", "birthday", "sales_rep", "tags")
ORDER_OPTIONAL = ("quantity", "channel", "sales_rep")


@without_cycle_collection
def import_customers(session: Session, request: ImportRequest) -> ImportSummary:
    """Insert new customers and update changed ones, keyed by customer_code.

    Only the columns the file has are written: a column missing from the file keeps its stored
    values. Repeated rows of one customer must agree; conflicting ones are all refused.
    """
    parsed = read_sheet(request.sheet, CUSTOMER_FIELDS, request.options)
    check = ImportPass(session, "customers", request, parsed)
    present = [c for c in CUSTOMER_COLUMNS if c in parsed.match.columns]
    first: dict[str, tuple[int, tuple[Any, ...]]] = {}
    conflicted: set[str] = set()
    for row in check.rows():
        code = row.values["customer_code"]
        if row.problems or code is None:
            continue
        record = tuple(row.values[c] for c in present)
        seen = first.get(code)
        if seen is None:
            first[code] = (row.number, record)
        elif seen[1] != record:
            shown = ", ".join(
                f"{c} {a!r} vs {b!r}" for c, a, b in zip(present, seen[1], record, strict=True) if a != b
            )
            for number in (seen[0], row.number):
                check.problem(
                    number,
                    "customer_code",
                    code,
                    f"customer code appears on rows {seen[0]} and {row.number} with different data "
                    f"({shown}); keep one row per customer",
                )
            conflicted.add(code)
    check.refuse_or_reject()
    chosen = [(code, record) for code, (_, record) in first.items() if code not in conflicted]
    chosen = customer_codes.customers_to_write(
        session, chosen, present, restore_forgotten=request.restore_forgotten
    )
    summary = check.summary
    summary.records = len(chosen)

    batch = check.record_batch(session)
    sqlite = bulk.is_sqlite(session)
    columns = ["customer_code", *present, "import_id"]
    values = ([code, *(bulk.db_value(v, sqlite=sqlite) for v in record), batch.id] for code, record in chosen)
    counts = bulk.upsert(
        session,
        table="customers",
        key="customer_code",
        columns=columns,
        compared=present,
        rows=values,
        total=len(chosen),
        # A customer an undone import had marked removed is back once a file names it again.
        set_expressions={"removed_at": import_undo.REVIVE_CUSTOMER_SET},
        changed_when=import_undo.REVIVED_CUSTOMER,
        recording=import_undo.recording(batch.id, "customers"),
    )
    if request.restore_forgotten:
        customer_codes.unforget(session, chosen, present)
    summary.inserted, summary.updated, summary.unchanged = counts.inserted, counts.updated, counts.unchanged
    return check.finish_batch(session, batch)


@without_cycle_collection
def import_orders(session: Session, request: ImportRequest) -> ImportSummary:
    """Insert new orders and update changed ones, keyed by order_no; lines of one order merge.

    An order for a customer code that is not stored yet creates that customer. A file without
    status and refund columns leaves stored statuses and refunds as they are.
    """
    parsed = read_sheet(request.sheet, ORDER_FIELDS, request.options)
    check = ImportPass(session, "orders", request, parsed)
    orders = merge_order_lines(check)
    check.refuse_or_reject()
    statuses = orders.statuses()
    refunded = orders.refunded_amounts(statuses)
    net = orders.net_amounts(statuses, refunded)
    optional: dict[str, Sequence[Any]] = {
        "quantity": orders.quantities,
        "channel": orders.channels,
        "sales_rep": orders.sales_reps,
    }
    present = [c for c in ORDER_OPTIONAL if c in parsed.match.columns]
    # Every order's values, a list each; an order with problems (only under --skip-invalid) is left out.
    kept: list[Sequence[Any]] = [
        orders.order_nos,
        orders.customer_codes,
        orders.order_dates,
        orders.amounts,
        refunded,
        net,
        statuses,
        orders.customer_names,
        *(optional[c] for c in present),
    ]
    if orders.bad:
        keep = [i for i in range(len(orders)) if i not in orders.bad]
        kept = [[column[i] for i in keep] for column in kept]
    order_nos, codes, order_dates, amounts, refunds, nets, order_statuses, customer_names, *extra = kept
    del orders
    summary = check.summary
    summary.records = len(order_nos)

    batch = check.record_batch(session)
    sqlite = bulk.is_sqlite(session)
    # Each new customer gets the first name given on its orders, if any.
    names: dict[Any, str | None] = dict.fromkeys(codes)
    named = list(compress(zip(codes, customer_names, strict=True), map(is_not, customer_names, repeat(None))))
    names.update(reversed(named))
    summary.customers_created = bulk.insert_missing(
        session,
        table="customers",
        key="customer_code",
        columns=("customer_code", "name", "import_id"),
        rows=([code, name, batch.id] for code, name in names.items()),
        recording=import_undo.recording(batch.id, "customers"),
    )
    import_undo.revive_customers(session, batch.id, names)
    customer_ids = customer_codes.customer_ids(session)  # a merged customer's code lands on its successor
    stored_dates = {day: bulk.db_value(day, sqlite=sqlite) for day in set(order_dates)}

    has_status = "status" in parsed.match.columns
    has_refund = "refunded_amount" in parsed.match.columns
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
    compared += [
        c for c, known in (("refunded_amount", has_refund and has_status), ("status", has_status)) if known
    ]
    changed_when = None
    if has_status and not has_refund:
        # A refunded line inside a still-completed order changes the refund, not the status.
        changed_when = "excluded.refunded_amount > 0 AND orders.refunded_amount != excluded.refunded_amount"
    elif has_refund and not has_status:
        changed_when = f"orders.refunded_amount != ({_REFUND_OF_STORED_STATUS})"
    # An order an undone import had marked removed is back once a file lists it again.
    revived = import_undo.REVIVED_ORDER
    changed_when = f"({changed_when}) OR {revived}" if changed_when else revived
    values = [
        order_nos,
        list(map(customer_ids.__getitem__, codes)),
        list(map(stored_dates.__getitem__, order_dates)),
        amounts,
        refunds,
        nets,
        order_statuses,
        *extra,
    ]
    # An order stored with every value the file gives it has nothing to update (its compared
    # columns and its refund are equal), so it need not go to the database at all.
    same = bulk.unchanged_positions(session, table="orders", columns=columns[:-1], values=values)
    if same and (removed := import_undo.removed_keys(session, "orders", "order_no")):
        same.difference_update(i for i, order_no in enumerate(order_nos) if order_no in removed)
    rows: Iterable[Sequence[Any]] = zip(*values, repeat(batch.id))
    if same:
        rows = compress(rows, map(not_, map(same.__contains__, range(len(order_nos)))))
    counts = bulk.upsert(
        session,
        table="orders",
        key="order_no",
        columns=columns,
        compared=compared,
        rows=rows,
        total=len(order_nos),
        set_expressions={
            **_refund_updates(has_status=has_status, has_refund=has_refund),
            "removed_at": "NULL",
        },
        changed_when=changed_when,
        recording=import_undo.recording(batch.id, "orders"),
    )
    summary.inserted, summary.updated, summary.unchanged = counts.inserted, counts.updated, counts.unchanged
    check_totals(session, source=request.sheet.file_name)
    return check.finish_batch(session, batch)


_CAPPED_STORED_REFUND = (
    "CASE WHEN orders.refunded_amount > excluded.amount THEN excluded.amount ELSE orders.refunded_amount END"
)


# A file with refunds but no status: an order stored as refunded whose lines give no refund is
# refunded in full, as a refunded line without a refunded amount always is.
_REFUND_OF_STORED_STATUS = (
    "CASE WHEN orders.status = 'refunded' AND excluded.refunded_amount = 0 "
    "THEN excluded.amount ELSE excluded.refunded_amount END"
)


def _refund_updates(*, has_status: bool, has_refund: bool) -> dict[str, str]:
    """How a stored order's status, refund and net change when the file lacks one of those columns.

    A column the file does not have keeps its stored value; the net amount follows from the
    result. A file with a status but no refund column refunds what its lines imply (all of a
    refunded line); only a completed order with nothing refunded in the file keeps the stored
    (partial) refund of a completed order.
    """
    if has_status and has_refund:
        return {}
    if has_refund:  # refunds known, status not: keep the stored status
        return {
            "status": "orders.status",
            "refunded_amount": _REFUND_OF_STORED_STATUS,
            "net_amount": "CASE WHEN orders.status IN ('cancelled', 'pending') THEN 0 "
            f"ELSE excluded.amount - ({_REFUND_OF_STORED_STATUS}) END",
        }
    if has_status:
        refund = (
            "CASE WHEN excluded.status = 'completed' AND orders.status = 'completed' "
            f"AND excluded.refunded_amount = 0 THEN {_CAPPED_STORED_REFUND} ELSE excluded.refunded_amount END"
        )
        return {
            "refunded_amount": refund,
            "net_amount": "CASE WHEN excluded.status IN ('cancelled', 'pending') THEN 0 "
            f"ELSE excluded.amount - ({refund}) END",
        }
    # The file says nothing of refunds: keep the stored status and refund, recompute net.
    return {
        "status": "orders.status",
        "refunded_amount": _CAPPED_STORED_REFUND,
        "net_amount": "CASE WHEN orders.status IN ('cancelled', 'pending') THEN 0 "
        "WHEN orders.refunded_amount > excluded.amount THEN 0 "
        "ELSE excluded.amount - orders.refunded_amount END",
    }


def list_imports(session: Session, *, limit: int | None = None) -> list[ImportBatch]:
    """Recorded imports, newest first."""
    query = select(ImportBatch).order_by(col(ImportBatch.id).desc())
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query).all())


@without_cycle_collection
def import_points(
    session: Session, request: ImportRequest, *, settings: Settings, today: date
) -> ImportSummary:
    """Opening balances from an older programme, one ledger row per file row.

    A row's key is its content as written (customer, points, dates or blanks, note) and how many
    identical rows came before it in the file, so importing the same file again — on any day,
    under any expiry setting — posts nothing. earned_on defaults to today and may not be after
    it; expires_on defaults to earned_on + expiry_months. Unknown customer codes create customers.
    """
    parsed = read_sheet(request.sheet, POINTS_FIELDS, request.options)
    check = ImportPass(session, "points", request, parsed)
    # Rows posted before are known by their key alone: the checks of defaulted dates below
    # (which move with today and the expiry setting) must not refuse a row already in the ledger.
    known = set(
        session.exec(select(PointsEntry.natural_key).where(col(PointsEntry.kind) == ledger.OPENING)).all()
    )
    undone = import_undo.undone_openings(session)
    seen: dict[tuple[Any, ...], int] = {}
    entries: list[tuple[str, str, int, date, date, str | None]] = []
    already = 0  # rows of the file already in the ledger
    for row in check.rows():
        values = row.values
        if row.problems:
            continue
        if values["points"] == 0:
            check.problem(row.number, "points", 0, "an opening balance of 0 points records nothing")
            continue
        given_earned, given_expires = values.get("earned_on"), values.get("expires_on")
        # The key is the row as written: a blank date stays blank, so the defaults (today, the
        # expiry setting) never make the same row look new on another day.
        content = (
            values["customer_code"],
            values["points"],
            given_earned.isoformat() if given_earned else None,
            given_expires.isoformat() if given_expires else None,
            values.get("note"),
        )
        seen[content] = seen.get(content, 0) + 1
        digest = hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()[:24]
        key = import_undo.live_key(f"opening:{digest}:{seen[content]}", undone)
        if key in known:
            already += 1
            continue
        earned = given_earned or today
        if earned > today:
            check.problem(
                row.number, "earned_on", earned, f"is after today ({today}); points cannot be earned later"
            )
            continue
        expires = given_expires or ledger.add_months(earned, settings.expiry_months)
        if expires <= earned:
            check.problem(row.number, "expires_on", expires, f"must be after the earned date {earned}")
            continue
        entries.append((key, *content[:2], earned, expires, values.get("note")))
    check.refuse_or_reject()
    summary = check.summary
    summary.records = len(entries) + already
    summary.unchanged = already
    batch = check.record_batch(session)
    summary.customers_created = bulk.insert_missing(
        session,
        table="customers",
        key="customer_code",
        columns=("customer_code", "import_id"),
        rows=([code, batch.id] for code in sorted({e[1] for e in entries})),
        recording=import_undo.recording(batch.id, "customers"),
    )
    import_undo.revive_customers(session, batch.id, {e[1] for e in entries})
    customer_ids = customer_codes.customer_ids(session)  # a merged customer's code lands on its successor
    version = settings.version()
    now = datetime.now(UTC)
    posted: list[int | None] = []
    for key, code, points, earned, expires, note in entries:
        entry = ledger.post(
            session,
            PointsEntry(
                natural_key=key,
                customer_id=customer_ids[code],
                kind=ledger.OPENING,
                points=points,
                effective_on=earned,
                earned_on=earned if points > 0 else None,
                expires_on=expires if points > 0 else None,
                rules_version=version,
                note=note or f"opening balance from {request.path.name}",
                created_at=now,
            ),
        )
        posted.append(entry.id)
        summary.inserted += 1
    import_undo.record_posted(session, batch.id, posted)
    check_totals(session, source=request.sheet.file_name)
    return check.finish_batch(session, batch)
