"""`cpm customer merge OLD NEW`: one customer recorded twice becomes one, in one transaction.

- OLD's orders move to NEW (their customer changes; nothing else about them does).
- OLD's points move as new ledger rows, lot by lot: a transfer row on OLD closes each of its
  lots, taking what is left, and a transfer row on NEW opens a lot of that size with the same
  earned and expiry dates (one past its date, not yet closed by an award, is closed on NEW by
  the next award, on that date); a debt moves the same way. As any credit does, what comes in
  first pays a debt of NEW's, and NEW's points pay OLD's debt. OLD's old rows (its earnings, redemptions,
  expiries) stay where they are, untouched.
- So that `cpm award` sees nothing to correct, each moved order that holds points gets a
  0-point transfer row on NEW carrying the factor and net amount its points were last brought in
  line with: the order's latest points row is then NEW's, and the award counts OLD's rows for the
  order as NEW's (awarding._held), so a later refund reverses on NEW.
- OLD's tier history moves to NEW, except a day on which NEW has its own recorded change.
- OLD is kept as a removed row (the ledger names it) with merged_into_id = NEW; its code becomes
  an alias of NEW, so later imports and commands under it land on NEW. Customers merged into OLD
  before now point at NEW too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from cpm.config import Settings
from cpm.errors import Conflict, CpmError
from cpm.models import Correction, Customer, CustomerAlias, Order, PointsEntry, TierChange
from cpm.services import ledger
from cpm.services.customer_edits import CODE_HINT
from cpm.services.ledger import TRANSFER


@dataclass(frozen=True)
class MergeResult:
    old_code: str
    new_code: str
    orders: int  # orders moved
    points: int  # OLD's balance, now NEW's
    lots: int  # lots with points left that moved
    tier_changes: int  # moved to NEW
    tier_changes_kept: int  # left with OLD: NEW has its own change on that day
    codes: list[str]  # every code that now names NEW besides its own


def _balance(session: Session, customer_id: int) -> int:
    total = session.exec(select(func.sum(PointsEntry.points)).where(PointsEntry.customer_id == customer_id))
    return int(total.one() or 0)


class _Transfers:
    """Posts the ledger rows of one merge, each keyed `merge:<correction id>:…`."""

    def __init__(self, session: Session, settings: Settings, *, correction: int, on: date) -> None:
        self.session = session
        self.key = f"merge:{correction}"
        self.on = on
        self.version = settings.version()
        self.now = datetime.now(UTC)

    def post(self, suffix: str, customer_id: int, points: int, note: str, **more: Any) -> None:
        ledger.post(
            self.session,
            PointsEntry(
                natural_key=f"{self.key}:{suffix}",
                customer_id=customer_id,
                kind=TRANSFER,
                points=points,
                effective_on=self.on,
                rules_version=self.version,
                note=note,
                created_at=self.now,
                **more,
            ),
        )


def _move_points(transfers: _Transfers, old: Customer, new: Customer) -> int:
    """Every open lot of OLD closed and reopened on NEW, and OLD's debt moved; the lots moved."""
    assert old.id is not None and new.id is not None
    account = ledger.accounts(transfers.session, [old.id]).get(old.id, ledger.Account())
    moved = 0
    for lot in sorted(account.lots.values(), key=lambda lot: lot.id):
        if lot.closed:
            continue
        transfers.post(
            f"lot:{lot.id}:out",
            old.id,
            -lot.remaining,
            f"merged into {new.customer_code}: lot of {lot.size:,} earned {lot.earned_on}",
            lot_id=lot.id,
        )
        if lot.remaining:
            transfers.post(
                f"lot:{lot.id}:in",
                new.id,
                lot.remaining,
                f"from {old.customer_code} (merged): lot earned {lot.earned_on}",
                earned_on=lot.earned_on,
                expires_on=lot.expires_on,
            )
            moved += 1
    if account.debt:
        transfers.post("debt:out", old.id, account.debt, f"merged into {new.customer_code}: debt moved")
        transfers.post("debt:in", new.id, -account.debt, f"debt of {old.customer_code} (merged)")
    return moved


def _mark_orders(transfers: _Transfers, old: Customer, new: Customer, merged: dict[int, int]) -> None:
    """A 0-point row on NEW for each of OLD's orders whose points are OLD's, carrying the factor
    and net amount of the order's latest points row (see the module's text)."""
    assert new.id is not None
    session = transfers.session
    orders = dict(
        session.exec(select(col(Order.id), col(Order.order_no)).where(Order.customer_id == old.id)).all()
    )
    ids = sorted(int(i or 0) for i in orders)
    latest: dict[int, tuple[int, int | None, str]] = {}
    for start in range(0, len(ids), 500):
        rows = session.exec(
            select(
                col(PointsEntry.order_id),
                col(PointsEntry.customer_id),
                col(PointsEntry.order_net),
                col(PointsEntry.factor),
            )
            .where(
                col(PointsEntry.order_id).in_(ids[start : start + 500]), col(PointsEntry.factor).is_not(None)
            )
            .order_by(col(PointsEntry.id))
        )
        for order_id, customer_id, order_net, factor in rows:
            latest[int(order_id or 0)] = (customer_id, order_net, factor or "0")
    for order_id, (customer_id, order_net, factor) in sorted(latest.items()):
        if merged.get(customer_id, customer_id) != old.id:
            continue  # moved to OLD by an import and not awarded since: the award moves its points
        transfers.post(
            f"order:{orders[order_id]}",
            new.id,
            0,
            f"{orders[order_id]} moved from {old.customer_code} (merged); its points came with it",
            order_id=order_id,
            order_net=order_net,
            factor=factor,
        )


def _move_tier_history(session: Session, old: Customer, new: Customer) -> tuple[int, int]:
    assert new.id is not None
    taken = set(session.exec(select(col(TierChange.effective_on)).where(TierChange.customer_id == new.id)))
    moved = kept = 0
    for change in session.exec(select(TierChange).where(TierChange.customer_id == old.id)).all():
        if change.effective_on in taken:
            kept += 1
            continue
        change.customer_id = new.id
        session.add(change)
        moved += 1
    return moved, kept


def merge_customers(
    session: Session, settings: Settings, *, old_code: str, new_code: str, reason: str | None, today: date
) -> MergeResult:
    """Merge OLD into NEW (see the module's text). Refused for one customer twice, and for a
    customer already merged or removed on either side (that would count it twice)."""
    old = ledger.customer_by_code(session, old_code, aliases=False, hint=CODE_HINT)
    new = ledger.customer_by_code(session, new_code, aliases=False, hint=CODE_HINT)
    assert old.id is not None and new.id is not None
    if old.id == new.id:
        raise Conflict(
            f"{old_code!r} and {new_code!r} are the same customer ({old.customer_code}); nothing to merge",
            hint="Give the code of the duplicate first and the code to keep second.",
        )
    old_balance = _balance(session, old.id)
    before = old_balance + _balance(session, new.id)
    merged = ledger.merged_customers(session)
    now = datetime.now(UTC)
    correction = Correction(
        action="merge",
        customer_id=old.id,
        field="merged_into",
        old_value=old.customer_code,
        new_value=new.customer_code,
        reason=reason.strip() or None if reason is not None else None,
        made_at=now,
    )
    session.add(correction)
    session.flush()
    assert correction.id is not None
    transfers = _Transfers(session, settings, correction=correction.id, on=today)
    lots = _move_points(transfers, old, new)
    _mark_orders(transfers, old, new, merged)
    orders = session.exec(select(func.count()).select_from(Order).where(Order.customer_id == old.id)).one()
    session.execute(update(Order).where(col(Order.customer_id) == old.id).values(customer_id=new.id))
    tier_moved, tier_kept = _move_tier_history(session, old, new)
    codes = [old.customer_code] + sorted(
        session.exec(select(CustomerAlias.alias_code).where(CustomerAlias.customer_id == old.id)).all()
    )
    session.execute(
        update(CustomerAlias).where(col(CustomerAlias.customer_id) == old.id).values(customer_id=new.id)
    )
    session.execute(
        update(Customer).where(col(Customer.merged_into_id) == old.id).values(merged_into_id=new.id)
    )
    session.add(CustomerAlias(alias_code=old.customer_code, customer_id=new.id, created_at=now))
    old.removed_at = now
    old.merged_into_id = new.id
    session.add(old)
    session.flush()
    if _balance(session, old.id) != 0 or _balance(session, new.id) != before:
        raise CpmError(  # the transfers above sum to OLD's balance by construction
            f"merging {old.customer_code} into {new.customer_code} would not keep their points; "
            "nothing was changed"
        )
    return MergeResult(
        old.customer_code,
        new.customer_code,
        int(orders or 0),
        old_balance,
        lots,
        tier_moved,
        tier_kept,
        codes,
    )
