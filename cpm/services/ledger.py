"""The points ledger: posting facts exactly once, and reading balances and lots back.

Lots. Every credit (earn, a positive opening or adjust) is a lot that can be spent until the day
before its `expires_on`. Debits (reverse, redeem, a negative opening or adjust) consume the lots
that are still alive on their date, soonest-expiring first; what no lot covers becomes a debt,
which later credits pay off before they form a lot. An expiry closes one lot and takes exactly
what is left of it. The replay runs in posting order, so what an old debit consumed never changes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from cpm.config import Settings
from cpm.errors import Conflict, CpmError, NotFound
from cpm.io.text import CodeError, normalise_code
from cpm.models import Customer, CustomerAlias, Order, PointsEntry
from cpm.services import bulk

EARN, REVERSE, REDEEM, EXPIRE, ADJUST, OPENING = "earn", "reverse", "redeem", "expire", "adjust", "opening"
# Points moved by `cpm customer merge`: a debit naming its lot closes that lot on the merged-away
# customer (as an expiry does, taking what is left); the matching credit opens a lot with the
# same earned and expiry dates on the customer it was merged into.
TRANSFER = "transfer"


def add_months(day: date, months: int) -> date:
    """The same day `months` later; the 31st (or 29 February) falls back to the month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass
class Lot:
    id: int
    earned_on: date | None
    expires_on: date | None
    size: int
    remaining: int
    closed: bool = False  # an expiry row has been posted for it

    def alive_on(self, day: date) -> bool:
        return not self.closed and (self.expires_on is None or self.expires_on > day)


@dataclass
class Account:
    """One customer's lots and debt after replaying their ledger rows."""

    lots: dict[int, Lot] = field(default_factory=dict)
    debt: int = 0
    balance: int = 0

    def available(self, day: date) -> int:
        """Points that can be spent on `day`: live lots minus debt."""
        return sum(lot.remaining for lot in self.lots.values() if lot.alive_on(day)) - self.debt

    def due_to_expire(self, as_of: date) -> list[Lot]:
        """Lots past their date with no expiry posted yet, soonest first."""
        due = [
            lot
            for lot in self.lots.values()
            if not lot.closed and lot.expires_on is not None and lot.expires_on <= as_of
        ]
        return sorted(due, key=lambda lot: (lot.expires_on or date.max, lot.id))

    def apply(self, entry: PointsEntry | LedgerRow) -> None:
        assert entry.id is not None
        self.balance += entry.points
        if entry.kind == EXPIRE or (entry.kind == TRANSFER and entry.lot_id is not None):
            lot = self.lots.get(entry.lot_id or -1)
            if lot is not None:
                lot.remaining += entry.points
                lot.closed = True
            return
        if entry.points > 0:
            paid = min(self.debt, entry.points)
            self.debt -= paid
            size = entry.points - paid
            self.lots[entry.id] = Lot(entry.id, entry.earned_on, entry.expires_on, size, size)
            return
        need = -entry.points
        live = sorted(
            (lot for lot in self.lots.values() if lot.remaining > 0 and lot.alive_on(entry.effective_on)),
            key=lambda lot: (lot.expires_on or date.max, lot.id),
        )
        for lot in live:
            if need == 0:
                break
            used = min(lot.remaining, need)
            lot.remaining -= used
            need -= used
        self.debt += need


class LedgerRow(NamedTuple):
    """The columns of a ledger row that the replay needs (cheaper than an ORM object)."""

    id: int
    customer_id: int
    kind: str
    points: int
    effective_on: date
    lot_id: int | None
    earned_on: date | None
    expires_on: date | None


_COLUMNS = (
    col(PointsEntry.id),
    col(PointsEntry.customer_id),
    col(PointsEntry.kind),
    col(PointsEntry.points),
    col(PointsEntry.effective_on),
    col(PointsEntry.lot_id),
    col(PointsEntry.earned_on),
    col(PointsEntry.expires_on),
)


def replay(entries: Iterable[PointsEntry | LedgerRow]) -> Account:
    account = Account()
    for entry in sorted(entries, key=lambda e: e.id or 0):
        account.apply(entry)
    return account


def accounts(
    session: Session, customer_ids: Iterable[int] | None = None, *, effective_before: date | None = None
) -> dict[int, Account]:
    """Replayed accounts of the given customers (all customers with ledger rows when None), of
    the rows taking effect before `effective_before` if given."""
    query = sa_select(*_COLUMNS).order_by(col(PointsEntry.customer_id), col(PointsEntry.id))
    if effective_before is not None:
        query = query.where(col(PointsEntry.effective_on) < effective_before)
    wanted = None if customer_ids is None else sorted(set(customer_ids))
    if wanted is None or len(wanted) > 5_000:
        batches = [query]  # most customers: one pass over the ledger beats thousands of lookups
    else:
        batches = [
            query.where(col(PointsEntry.customer_id).in_(wanted[start : start + 500]))
            for start in range(0, len(wanted), 500)
        ]
    keep = None if wanted is None else set(wanted)
    days = bulk.Days()
    result: dict[int, Account] = {}
    for batch in batches:
        for rid, cid, kind, points, effective, lot_id, earned, expires in bulk.driver_rows(session, batch):
            if keep is not None and cid not in keep:
                continue
            account = result.get(cid)
            if account is None:
                account = result[cid] = Account()
            account.apply(
                LedgerRow(
                    rid,
                    cid,
                    kind,
                    points,
                    days[effective],
                    lot_id,
                    None if earned is None else days[earned],
                    None if expires is None else days[expires],
                )
            )
    return result


def customer_by_code(
    session: Session,
    code: str,
    *,
    hint: str = "Check the code, e.g. with `cpm points balance`.",
    aliases: bool = True,
) -> Customer:
    """The customer a code names, in the code's normal form (README, Bad input): `Ｃ０００１` finds C0001.

    The old code of a merged customer names the customer it was merged into (`aliases`); told
    not to follow aliases, it is no customer, and the message says where it went. A removed
    customer is no customer."""
    try:
        normal = normalise_code(code)
    except CodeError as exc:
        raise NotFound(f"no customer with code {code!r}: the code {exc}", hint=hint) from exc
    if aliases:
        target = session.exec(
            select(Customer)
            .join(CustomerAlias, col(CustomerAlias.customer_id) == col(Customer.id))
            .where(CustomerAlias.alias_code == normal)
        ).first()
        if target is not None and target.removed_at is None:
            return target
    customer = session.exec(select(Customer).where(Customer.customer_code == normal)).first()
    if customer is None or customer.id is None:
        raise NotFound(f"no customer with code {code!r}", hint=hint)
    if customer.removed_at is not None:
        merged = session.get(Customer, customer.merged_into_id) if customer.merged_into_id else None
        if merged is not None:
            raise NotFound(
                f"no customer with code {code!r}: it was merged into {merged.customer_code} "
                f"on {customer.removed_at.date()}",
                hint=f"Use {merged.customer_code}.",
            )
        removed = customer.removed_at.date()
        raise NotFound(f"no customer with code {code!r}: it was removed on {removed}", hint=hint)
    return customer


def merged_customers(session: Session) -> dict[int, int]:
    """Each merged-away customer → the customer it was merged into (chains are kept flat by merge)."""
    rows = session.exec(
        select(col(Customer.id), col(Customer.merged_into_id)).where(
            col(Customer.merged_into_id).is_not(None)
        )
    ).all()
    return {int(cid or 0): int(target) for cid, target in rows if target is not None}


def balances(session: Session) -> dict[int, int]:
    """Each customer's balance: the sum of their ledger rows."""
    rows = session.exec(
        select(PointsEntry.customer_id, func.sum(PointsEntry.points)).group_by(col(PointsEntry.customer_id))
    ).all()
    return {int(cid): int(total) for cid, total in rows}


def history(session: Session, customer_id: int) -> list[PointsEntry]:
    return list(
        session.exec(
            select(PointsEntry).where(PointsEntry.customer_id == customer_id).order_by(col(PointsEntry.id))
        )
    )


def order_numbers(session: Session, order_ids: Iterable[int]) -> dict[int, str]:
    wanted = sorted(set(order_ids))
    result: dict[int, str] = {}
    for start in range(0, len(wanted), 500):
        query = select(col(Order.id), col(Order.order_no)).where(
            col(Order.id).in_(wanted[start : start + 500])
        )
        result.update({int(i or 0): no for i, no in session.exec(query)})
    return result


def post(session: Session, entry: PointsEntry) -> PointsEntry:
    session.add(entry)
    session.flush()
    return entry


def existing(session: Session, natural_key: str) -> PointsEntry | None:
    return session.exec(select(PointsEntry).where(PointsEntry.natural_key == natural_key)).first()


MAX_MANUAL_POINTS = 1_000_000_000


@dataclass(frozen=True)
class ManualResult:
    entry: PointsEntry
    balance: int
    available: int
    already_recorded: bool


def _manual(
    session: Session,
    settings: Settings,
    *,
    kind: str,
    code: str,
    points: int,
    reason: str,
    on: date,
    key: str | None,
) -> ManualResult:
    if not reason.strip():
        raise CpmError(f"a {kind} needs a reason", hint='Say why with --reason "…".')
    if abs(points) > MAX_MANUAL_POINTS:
        raise CpmError(
            f"{abs(points):,} points is more than one {kind} may move (at most {MAX_MANUAL_POINTS:,})",
            hint="Check the number; split a genuine larger change into several.",
        )
    customer = customer_by_code(session, code)
    assert customer.id is not None
    natural_key = f"{kind}:{key}" if key else f"{kind}:{uuid.uuid4()}"
    earlier = existing(session, natural_key)
    if earlier is not None:
        if earlier.customer_id != customer.id or earlier.points != points or earlier.kind != kind:
            raise Conflict(
                f"the key {key!r} was already used for a different {earlier.kind} "
                f"({earlier.points:+,} points)",
                hint="Use a new --key for a new transaction.",
            )
        account = accounts(session, [customer.id])[customer.id]
        return ManualResult(earlier, account.balance, account.available(on), True)
    account = accounts(session, [customer.id]).get(customer.id, Account())
    if points < 0:
        available = account.available(on)
        if -points > available:
            raise Conflict(
                f"{code} has {available:,} points available on {on}; cannot take {-points:,}",
                hint="Check `cpm points balance " + code + "`.",
            )
    entry = post(
        session,
        PointsEntry(
            natural_key=natural_key,
            customer_id=customer.id,
            kind=kind,
            points=points,
            effective_on=on,
            earned_on=on if points > 0 else None,
            expires_on=add_months(on, settings.expiry_months) if points > 0 else None,
            rules_version=settings.version(),
            note=reason.strip(),
            created_at=datetime.now(UTC),
        ),
    )
    account.apply(entry)
    return ManualResult(entry, account.balance, account.available(on), False)


def redeem(
    session: Session,
    settings: Settings,
    *,
    code: str,
    points: int,
    reason: str,
    on: date,
    key: str | None = None,
) -> ManualResult:
    """Spend points; refused beyond what is available on `on`."""
    if points <= 0:
        raise CpmError("the number of points to redeem must be above 0")
    return _manual(session, settings, kind=REDEEM, code=code, points=-points, reason=reason, on=on, key=key)


def adjust(
    session: Session,
    settings: Settings,
    *,
    code: str,
    points: int,
    reason: str,
    on: date,
    key: str | None = None,
) -> ManualResult:
    """A correction by hand: positive adds a lot; negative takes points (never below what is available)."""
    if points == 0:
        raise CpmError("an adjustment of 0 points changes nothing")
    return _manual(session, settings, kind=ADJUST, code=code, points=points, reason=reason, on=on, key=key)


@dataclass(frozen=True)
class ExpiringLot:
    customer_id: int
    lot_id: int
    expires_on: date
    points: int


@dataclass(frozen=True)
class Position:
    """Where one customer's points stand on a day."""

    balance: int  # the sum of the ledger
    available: int  # live lots less debt
    expiring: int  # in live lots that expire after the day and before `until`
    next_expiry: date | None  # the soonest date a live lot with points left expires


def _dated_live_lots(account: Account, on: date) -> list[Lot]:
    """Lots alive on `on` with points left and an expiry date."""
    return [
        lot
        for lot in account.lots.values()
        if lot.expires_on is not None and lot.remaining > 0 and lot.alive_on(on)
    ]


def position_of(account: Account, *, on: date, until: date) -> Position:
    live = _dated_live_lots(account, on)
    expiring = sum(lot.remaining for lot in live if lot.expires_on and lot.expires_on < until)
    next_expiry = min((lot.expires_on for lot in live if lot.expires_on), default=None)
    return Position(account.balance, account.available(on), expiring, next_expiry)


# Customers who never spent or lost a point (no debit: no reversal, redemption or negative
# adjustment or opening) need no replay: each credit is a lot holding all of its points until an
# expiry closes it, and there is no debt. Sums over their rows give exactly what the replay gives.
# Only the others — usually few — are replayed. A full replay of a million rows takes seconds.
_CREDIT = "l.points > 0 AND l.kind <> 'expire'"


def _debit(alias: str) -> str:
    """A row that takes points (an expiry only closes a lot)."""
    return f"{alias}.points < 0 AND {alias}.kind <> 'expire'"


_OPEN_CREDIT = f"{_CREDIT} AND c.lot_id IS NULL"
_LIVE_AFTER = f"{_OPEN_CREDIT} AND l.expires_on > {{}}"
_CLOSED_LOTS = (
    "SELECT DISTINCT lot_id, customer_id FROM points_ledger "
    "WHERE kind IN ('expire', 'transfer') AND lot_id IS NOT NULL"
)
_OWN_LOT = "ON c.lot_id = l.id AND c.customer_id = l.customer_id"  # as the replay: a customer's own expiry
_POSITION_COLUMNS = (
    "SELECT l.customer_id, SUM(l.points), "
    f"SUM(CASE WHEN {_OPEN_CREDIT} AND (l.expires_on IS NULL OR l.expires_on > {{}}) "
    "THEN l.points ELSE 0 END), "
    f"SUM(CASE WHEN {_LIVE_AFTER} AND l.expires_on < {{}} THEN l.points ELSE 0 END), "
    f"MIN(CASE WHEN {_LIVE_AFTER} THEN l.expires_on END), "
    f"MAX(CASE WHEN {_debit('l')} THEN 1 ELSE 0 END) "
)


def positions(
    session: Session,
    *,
    on: date,
    until: date,
    customer_ids: Iterable[int] | None = None,
    effective_before: date | None = None,
) -> dict[int, Position]:
    """Balance, available, expiring-before-`until` and next expiry on `on` of every customer with
    ledger rows (or of the given ones), as the replay of their ledger says. With
    `effective_before`, only rows taking effect before that day count: the ledger as it stood
    then, so a report as of a past day shows the points of that day."""
    sqlite = bulk.is_sqlite(session)
    params: list[Any] = [bulk.db_value(d, sqlite=sqlite) for d in (on, on, until, on)]
    conditions, closed = [], _CLOSED_LOTS
    if effective_before is not None:
        before = bulk.db_value(effective_before, sqlite=sqlite)
        closed += " AND effective_on < {}"
        conditions.append("l.effective_on < {}")
        params += [before, before]
    sql = f"{_POSITION_COLUMNS}FROM points_ledger l LEFT JOIN ({closed}) c {_OWN_LOT}"
    wanted = None if customer_ids is None else sorted(set(customer_ids))
    queries: list[tuple[str, list[Any]]] = []
    for start in range(0, 1 if wanted is None else len(wanted), 500):
        some = [] if wanted is None else wanted[start : start + 500]
        where = [*conditions, f"l.customer_id IN ({', '.join(['{}'] * len(some))})"] if some else conditions
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        queries.append((f"{sql}{clause} GROUP BY l.customer_id", [*params, *some]))
    days = bulk.Days()
    result: dict[int, Position] = {}
    replayed: list[int] = []
    for query, values in queries:
        for cid, balance, available, soon, next_expiry, debits in bulk.stream(session, query, values):
            if debits:
                replayed.append(cid)
                continue
            result[cid] = Position(
                int(balance), int(available), int(soon), None if next_expiry is None else days[next_expiry]
            )
    for cid, account in accounts(session, replayed, effective_before=effective_before).items():
        result[cid] = position_of(account, on=on, until=until)
    return result


def _expiring_without_replay(session: Session, *, on: date, until: date) -> list[ExpiringLot]:
    """Lots of customers with no debit that are live on `on` and expire before `until`."""
    sqlite = bulk.is_sqlite(session)
    sql = (
        "SELECT l.customer_id, l.id, l.expires_on, l.points FROM points_ledger l LEFT JOIN "
        f"({_CLOSED_LOTS}) c {_OWN_LOT} WHERE {_LIVE_AFTER} AND l.expires_on < {{}} AND NOT EXISTS "
        f"(SELECT 1 FROM points_ledger d WHERE d.customer_id = l.customer_id AND {_debit('d')})"
    )
    days = bulk.Days()
    params = [bulk.db_value(d, sqlite=sqlite) for d in (on, until)]
    return [
        ExpiringLot(cid, lot_id, days[expires], points)
        for cid, lot_id, expires, points in bulk.stream(session, sql, params)
    ]


def _debtors(session: Session) -> list[int]:
    sql = f"SELECT DISTINCT d.customer_id FROM points_ledger d WHERE {_debit('d')}"
    return [cid for (cid,) in bulk.stream(session, sql, [])]


def expiring(session: Session, *, on: date, until: date) -> list[ExpiringLot]:
    """Points in live lots that expire after `on` and before `until`, soonest first.

    Only customers who ever lost or spent points are replayed; the others' lots are read as they are."""
    result = _expiring_without_replay(session, on=on, until=until)
    for cid, account in accounts(session, _debtors(session)).items():
        for lot in _dated_live_lots(account, on):
            assert lot.expires_on is not None
            if lot.expires_on < until:
                result.append(ExpiringLot(cid, lot.id, lot.expires_on, lot.remaining))
    return sorted(result, key=lambda lot: (lot.expires_on, lot.customer_id, lot.lot_id))
