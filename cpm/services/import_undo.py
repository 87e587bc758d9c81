"""`cpm imports undo N`: take an import batch back, from what it recorded (import_row_changes).

Every import records the rows it created (`previous` NULL) and, for every row it updated, the
row's values before (see `bulk.Recording`). Undoing a batch, in one transaction:
- rows it updated get those values back;
- opening points it posted are reversed by new ledger rows (`undone:<key>`; never deleted);
- orders and customers it created are deleted, or, where another table still refers to them (the
  ledger, tier history, corrections), kept and marked removed (an order's net amount becomes 0,
  so no report counts it and the next award reverses its points as for a refund);
- the batch is marked undone and the undo recorded as a correction.
It is refused while a later import that is not undone changed or refers to the same rows, or a
later correction (an edit, a void, a merge) touched a row the batch changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlmodel import Session, col, func, select

from cpm.db import raw_connection
from cpm.errors import Conflict, NotFound
from cpm.models import Correction, ImportBatch, PointsEntry, RowChange
from cpm.services import bulk, ledger

# The columns an import may change, saved before it changes them.
CUSTOMER_SAVED = (
    "name",
    "phone",
    "email",
    "city",
    "joined_on",
    "birthday",
    "sales_rep",
    "tags",
    "import_id",
    "removed_at",
    "forgotten_at",
)
ORDER_SAVED = (
    "customer_id",
    "order_date",
    "amount",
    "refunded_amount",
    "net_amount",
    "quantity",
    "channel",
    "sales_rep",
    "status",
    "import_id",
    "removed_at",
)
SAVED = {"customers": CUSTOMER_SAVED, "orders": ORDER_SAVED}

# What an import writes to bring back an order or customer an undone import had marked removed.
REVIVED_ORDER = "orders.removed_at IS NOT NULL"
REVIVED_CUSTOMER = "customers.removed_at IS NOT NULL AND customers.merged_into_id IS NULL"
REVIVE_CUSTOMER_SET = "CASE WHEN customers.merged_into_id IS NULL THEN NULL ELSE customers.removed_at END"

UNDONE_KEY = "undone:"  # natural key prefix of the ledger row reversing a row an undone import posted


def recording(batch_id: int | None, table: str) -> bulk.Recording:
    assert batch_id is not None  # the batch row is flushed before any row is written
    return bulk.Recording(batch_id=batch_id, saved=SAVED[table])


def anything_undone(session: Session) -> bool:
    """Whether any import was ever undone (only then can a row be marked removed by one)."""
    found = session.exec(select(ImportBatch.id).where(col(ImportBatch.undone_at).is_not(None)).limit(1))
    return found.first() is not None


def removed_keys(session: Session, table: str, key: str) -> set[Any]:
    """Keys of the rows of `table` an undone import marked removed (but not merged customers)."""
    if not anything_undone(session):
        return set()
    merged = " AND merged_into_id IS NULL" if table == "customers" else ""
    cursor = raw_connection(session).cursor()
    cursor.execute(f"SELECT {key} FROM {table} WHERE removed_at IS NOT NULL{merged}")  # noqa: S608
    return {k for (k,) in cursor.fetchall()}


def revive_customers(session: Session, batch_id: int | None, codes: Iterable[Any]) -> int:
    """Bring back customers an undone import had marked removed, when an orders or points import
    names them again; recorded like any update, so undoing this import removes them again."""
    removed = removed_keys(session, "customers", "customer_code")
    wanted = sorted(removed.intersection(codes))
    if not wanted:
        return 0
    assert batch_id is not None
    cursor = raw_connection(session).cursor()
    mark = bulk.placeholder(session)
    saved = bulk.json_object_sql(session, "customers", CUSTOMER_SAVED)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ", ".join([mark] * len(chunk))
        cursor.execute(
            "INSERT INTO import_row_changes (import_id, table_name, row_id, previous) "  # noqa: S608
            f"SELECT {mark}, 'customers', id, {saved} FROM customers WHERE customer_code IN ({marks})",
            (batch_id, *chunk),
        )
        cursor.execute(
            f"UPDATE customers SET removed_at = NULL, import_id = {mark} "  # noqa: S608
            f"WHERE customer_code IN ({marks})",
            (batch_id, *chunk),
        )
    return len(wanted)


def undone_openings(session: Session) -> set[str]:
    """Natural keys of opening-points rows that an undone import posted (and an undo reversed)."""
    keys = session.exec(
        select(PointsEntry.natural_key).where(col(PointsEntry.natural_key).startswith(UNDONE_KEY))
    ).all()
    return {k.removeprefix(UNDONE_KEY) for k in keys}


def live_key(key: str, undone: set[str]) -> str:
    """The key an opening row is posted under: its own, or, if a row under that key was taken
    back by an undone import, the next one (`…/2`, `…/3`), so the same file imported again after
    an undo posts its rows again, and only once."""
    again, live = 1, key
    while live in undone:
        again += 1
        live = f"{key}/{again}"
    return live


def record_posted(session: Session, batch_id: int | None, entry_ids: Sequence[int | None]) -> None:
    """Record the ledger rows a points import posted, so an undo can reverse them."""
    if not entry_ids:
        return
    assert batch_id is not None
    mark = bulk.placeholder(session)
    raw_connection(session).cursor().executemany(
        "INSERT INTO import_row_changes (import_id, table_name, row_id, previous) "
        f"VALUES ({mark}, 'points_ledger', {mark}, NULL)",
        [(batch_id, entry_id) for entry_id in entry_ids],
    )


@dataclass
class UndoSummary:
    batch_id: int
    kind: str
    file_name: str
    restored: dict[str, int] = field(default_factory=dict)  # table: rows given their values back
    deleted: dict[str, int] = field(default_factory=dict)  # table: created rows deleted
    marked_removed: dict[str, int] = field(default_factory=dict)  # table: created rows kept, removed
    points_reversed: int = 0  # ledger rows posted to reverse the batch's opening points
    points: int = 0  # their sum


def _count(session: Session, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    return list(bulk.stream(session, sql, params))


_LATER_CHANGES = (
    "SELECT later.import_id, COUNT(*) FROM import_row_changes AS mine "
    "JOIN import_row_changes AS later ON later.table_name = mine.table_name "
    "AND later.row_id = mine.row_id AND later.import_id > mine.import_id "
    "JOIN import_batches AS b ON b.id = later.import_id "
    "WHERE mine.import_id = {} AND mine.table_name IN ('orders', 'customers') AND b.undone_at IS NULL "
    "GROUP BY later.import_id"
)
# Orders written by another batch for a customer this batch created (and did not itself change).
_LATER_ORDERS = (
    "SELECT o.import_id, COUNT(*) FROM orders AS o "
    "JOIN import_row_changes AS c ON c.table_name = 'customers' AND c.row_id = o.customer_id "
    "AND c.import_id = {} AND c.previous IS NULL "
    "WHERE o.removed_at IS NULL AND NOT EXISTS (SELECT 1 FROM import_row_changes AS m "
    "WHERE m.table_name = 'orders' AND m.row_id = o.id AND m.import_id = c.import_id) "
    "GROUP BY o.import_id"
)
# Opening points another (live) points import posted for a customer this batch created.
_LATER_POINTS = (
    "SELECT later.import_id, COUNT(*) FROM points_ledger AS p "
    "JOIN import_row_changes AS c ON c.table_name = 'customers' AND c.row_id = p.customer_id "
    "AND c.import_id = {} AND c.previous IS NULL "
    "JOIN import_row_changes AS later ON later.table_name = 'points_ledger' AND later.row_id = p.id "
    "JOIN import_batches AS b ON b.id = later.import_id "
    "WHERE later.import_id != c.import_id AND b.undone_at IS NULL "
    "GROUP BY later.import_id"
)
# Corrections made since the batch to a row it changed (not created); a void names the order's
# customer too, but changes only the order.
_LATER_CORRECTIONS = (
    "SELECT k.id, k.action, k.made_at, c.table_name FROM corrections AS k "
    "JOIN import_row_changes AS c ON c.import_id = {} AND c.previous IS NOT NULL "
    "AND ((c.table_name = 'orders' AND c.row_id = k.order_id) "
    "OR (c.table_name = 'customers' AND c.row_id = k.customer_id AND k.order_id IS NULL)) "
    "WHERE k.made_at > {} AND k.action != 'undo' ORDER BY k.id"
)
# Customers this batch created that were merged since (into another, or another into them).
_MERGED = (
    "SELECT cu.customer_code FROM customers AS cu "
    "JOIN import_row_changes AS c ON c.table_name = 'customers' AND c.row_id = cu.id "
    "AND c.import_id = {} AND c.previous IS NULL "
    "WHERE cu.merged_into_id IS NOT NULL "
    "OR EXISTS (SELECT 1 FROM customers AS m WHERE m.merged_into_id = cu.id) "
    "OR EXISTS (SELECT 1 FROM customer_aliases AS a WHERE a.customer_id = cu.id) "
    "ORDER BY cu.customer_code"
)


def _file_of(session: Session, batch_id: int) -> str:
    batch = session.get(ImportBatch, batch_id)
    return f"batch {batch_id}" + (f" ({batch.file_name})" if batch is not None else "")


def _refuse_later(session: Session, batch: ImportBatch) -> None:
    """Refuse (naming them) when later batches or corrections depend on what `batch` wrote."""
    assert batch.id is not None
    n = batch.id
    later: dict[int, int] = {}
    for sql in (_LATER_CHANGES, _LATER_ORDERS, _LATER_POINTS):
        for other, count in _count(session, sql, (n,)):
            if other is not None and int(other) != n:
                later[int(other)] = later.get(int(other), 0) + int(count)
    if later:
        newest_first = sorted(later, reverse=True)
        shown = "; ".join(f"{_file_of(session, b)}: {later[b]:,} row(s)" for b in newest_first[:5])
        more = f" and {len(later) - 5} more" if len(later) > 5 else ""
        raise Conflict(
            f"import batch {n} cannot be undone: later imports changed or refer to the same rows "
            f"({shown}{more}); undo batch {newest_first[0]} first",
            hint="Undo the later imports first, newest first (`cpm imports` lists them).",
        )
    imported_at = bulk.db_value(batch.imported_at, sqlite=bulk.is_sqlite(session))
    corrections = _count(session, _LATER_CORRECTIONS, (n, imported_at))
    if corrections:
        first_id, action, made_at, table = corrections[0]
        raise Conflict(
            f"import batch {n} cannot be undone: {len(corrections)} correction(s) since it changed "
            f"rows it had changed (first: {action} #{first_id} of a row of {table}, {str(made_at)[:16]} UTC)",
            hint="Undoing the import would silently take those corrections back; correct the rows by hand.",
        )
    # A merge since moved orders and points between customers: putting back what the batch
    # changed would undo part of the merge without a word. Refused, whichever customers it joined.
    merges = _count(
        session,
        "SELECT id, made_at FROM corrections WHERE action = 'merge' AND made_at > {} ORDER BY id",
        (imported_at,),
    )
    if merges:
        first_id, made_at = merges[0]
        raise Conflict(
            f"import batch {n} cannot be undone: {len(merges)} customer merge(s) were made since "
            f"(first: merge #{first_id}, {str(made_at)[:16]} UTC)",
            hint="A merge moved orders and points after this import; correct the rows by hand.",
        )
    merged = [code for (code,) in _count(session, _MERGED, (n,))]
    if merged:
        raise Conflict(
            f"import batch {n} cannot be undone: customer(s) it created were merged since "
            f"({', '.join(map(repr, merged[:5]))}{' …' if len(merged) > 5 else ''})",
            hint="A merged customer's orders and points now belong together; correct them by hand.",
        )


def _restore(session: Session, batch_id: int, summary: UndoSummary) -> None:
    """Rows the batch updated get back the values they had before it."""
    cursor = raw_connection(session).cursor()
    mark = bulk.placeholder(session)
    for table in ("orders", "customers"):
        rows = _count(
            session,
            "SELECT row_id, previous FROM import_row_changes "
            "WHERE import_id = {} AND table_name = {} AND previous IS NOT NULL ORDER BY id",
            (batch_id, table),
        )
        by_columns: dict[tuple[str, ...], list[list[Any]]] = {}
        for row_id, previous in rows:
            values = json.loads(previous)
            names = tuple(values)
            by_columns.setdefault(names, []).append([*values.values(), row_id])
        for names, params in by_columns.items():
            sets = ", ".join(f"{c} = {mark}" for c in names)
            cursor.executemany(f"UPDATE {table} SET {sets} WHERE id = {mark}", params)  # noqa: S608
        summary.restored[table] = len(rows)


def _reverse_points(session: Session, batch_id: int, summary: UndoSummary, *, today: date) -> None:
    """Opening points the batch posted are reversed by new rows (the ledger is append-only)."""
    posted = session.exec(
        select(PointsEntry)
        .where(
            col(PointsEntry.id).in_(
                select(RowChange.row_id).where(
                    RowChange.import_id == batch_id, RowChange.table_name == "points_ledger"
                )
            )
        )
        .order_by(col(PointsEntry.id))
    ).all()
    now = datetime.now(UTC)
    # What expired of each opening lot is gone already: taking it again would leave a debt for
    # points that could never be used (as for the orders of an undone import, see awarding).
    expired: dict[int, int] = {}
    lot_ids = [entry.id for entry in posted if entry.points > 0 and entry.id is not None]
    for start in range(0, len(lot_ids), 500):
        chunk = lot_ids[start : start + 500]
        for lot_id, points in session.exec(
            select(PointsEntry.lot_id, func.sum(PointsEntry.points))
            .where(col(PointsEntry.lot_id).in_(chunk), PointsEntry.kind == ledger.EXPIRE)
            .group_by(col(PointsEntry.lot_id))
        ).all():
            expired[int(lot_id or 0)] = -int(points or 0)
    for entry in posted:
        taken = entry.points - expired.get(entry.id or 0, 0)
        if taken == 0:
            continue
        ledger.post(
            session,
            PointsEntry(
                natural_key=f"{UNDONE_KEY}{entry.natural_key}",
                customer_id=entry.customer_id,
                kind=ledger.REVERSE if taken > 0 else ledger.ADJUST,
                points=-taken,
                effective_on=max(today, entry.effective_on),
                rules_version=entry.rules_version,
                note=f"opening balance taken back: import {batch_id} undone",
                created_at=now,
            ),
        )
        summary.points_reversed += 1
        summary.points -= taken


_CREATED = (
    "SELECT row_id FROM import_row_changes WHERE import_id = {mark} "
    "AND table_name = '{table}' AND previous IS NULL"
)
_ORDER_REFERRED = (
    "EXISTS (SELECT 1 FROM points_ledger AS p WHERE p.order_id = orders.id) "
    "OR EXISTS (SELECT 1 FROM corrections AS k WHERE k.order_id = orders.id)"
)
_CUSTOMER_REFERRED = (
    "EXISTS (SELECT 1 FROM orders AS o WHERE o.customer_id = customers.id) "
    "OR EXISTS (SELECT 1 FROM points_ledger AS p WHERE p.customer_id = customers.id) "
    "OR EXISTS (SELECT 1 FROM tier_changes AS t WHERE t.customer_id = customers.id) "
    "OR EXISTS (SELECT 1 FROM corrections AS k WHERE k.customer_id = customers.id) "
    "OR EXISTS (SELECT 1 FROM customer_aliases AS a WHERE a.customer_id = customers.id) "
    "OR EXISTS (SELECT 1 FROM customers AS m WHERE m.merged_into_id = customers.id)"
)


def _take_back_created(session: Session, batch_id: int, summary: UndoSummary, *, now: datetime) -> None:
    """Created orders, then customers: deleted, or kept and marked removed where still referred to."""
    cursor = raw_connection(session).cursor()
    mark = bulk.placeholder(session)
    stamp = bulk.db_value(now, sqlite=bulk.is_sqlite(session))
    for table, referred, removal in (
        ("orders", _ORDER_REFERRED, f"removed_at = {mark}, net_amount = 0"),
        ("customers", _CUSTOMER_REFERRED, f"removed_at = {mark}"),
    ):
        created = _CREATED.format(mark=mark, table=table)
        cursor.execute(
            f"DELETE FROM {table} WHERE id IN ({created}) AND NOT ({referred})",  # noqa: S608
            (batch_id,),
        )
        summary.deleted[table] = max(cursor.rowcount or 0, 0)
        cursor.execute(f"UPDATE {table} SET {removal} WHERE id IN ({created})", (stamp, batch_id))  # noqa: S608
        summary.marked_removed[table] = max(cursor.rowcount or 0, 0)


def undo_import(session: Session, batch_id: int, *, reason: str | None, today: date) -> UndoSummary:
    """Take back import batch `batch_id` (see the module's text). Refused, writing nothing, when
    it is unknown, already undone, or later imports or corrections depend on it."""
    batch = session.get(ImportBatch, batch_id)
    if batch is None:
        raise NotFound(
            f"no import batch {batch_id}", hint="`cpm imports` lists the imports and their numbers."
        )
    if batch.undone_at is not None:
        raise Conflict(
            f"import batch {batch_id} ({batch.file_name}) was undone already, "
            f"on {batch.undone_at:%Y-%m-%d %H:%M} UTC",
            hint="Import the file again to bring its rows back.",
        )
    recorded = _count(session, "SELECT COUNT(*) FROM import_row_changes WHERE import_id = {}", (batch_id,))
    wrote = batch.inserted + batch.updated + batch.customers_created
    if not recorded[0][0] and wrote:
        raise Conflict(
            f"import batch {batch_id} ({batch.file_name}) cannot be undone: it was imported by an older "
            "cpm that did not record the rows it changed",
            hint="Import a corrected file, or correct rows with `cpm customer edit` or `cpm order void`.",
        )
    _refuse_later(session, batch)
    now = datetime.now(UTC)
    summary = UndoSummary(batch_id=batch_id, kind=batch.kind, file_name=batch.file_name)
    _restore(session, batch_id, summary)
    _reverse_points(session, batch_id, summary, today=today)
    _take_back_created(session, batch_id, summary, now=now)
    batch.undone_at = now
    session.add(batch)
    session.add(
        Correction(action="undo", import_id=batch_id, reason=reason, made_at=now, old_value=batch.file_name)
    )
    session.flush()
    return summary
