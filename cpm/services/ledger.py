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
from typing import NamedTuple

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from cpm.config import Settings
from cpm.errors import Conflict, CpmError, NotFound
from cpm.models import Customer, Order, PointsEntry
from cpm.services import bulk

EARN, REVERSE, REDEEM, EXPIRE, ADJUST, OPENING = "earn", "reverse", "redeem", "expire", "adjust", "opening"


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
        if entry.kind == EXPIRE:
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


def accounts(session: Session, customer_ids: Iterable[int] | None = None) -> dict[int, Account]:
    """Replayed accounts of the given customers (all customers with ledger rows when None)."""
    query = sa_select(*_COLUMNS).order_by(col(PointsEntry.customer_id), col(PointsEntry.id))
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


def customer_by_code(session: Session, code: str) -> Customer:
    customer = session.exec(select(Customer).where(Customer.customer_code == code)).first()
    if customer is None or customer.id is None:
        raise NotFound(
            f"no customer with code {code!r}", hint="Check the code, e.g. with `cpm points balance`."
        )
    return customer


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


def expiring(
    session: Session, *, on: date, until: date, replayed: dict[int, Account] | None = None
) -> list[ExpiringLot]:
    """Points in live lots that expire on or after `on` and before `until`."""
    result = []
    for cid, account in (replayed if replayed is not None else accounts(session)).items():
        for lot in account.lots.values():
            if (
                lot.remaining > 0
                and lot.alive_on(on)
                and lot.expires_on is not None
                and lot.expires_on < until
            ):
                result.append(ExpiringLot(cid, lot.id, lot.expires_on, lot.remaining))
    return sorted(result, key=lambda lot: (lot.expires_on, lot.customer_id, lot.lot_id))
