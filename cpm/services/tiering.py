"""Tier history: a customer's tier is recorded each time it is seen to change."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import Session, col, select

from cpm.config import Settings
from cpm.models import Customer, TierChange
from cpm.services import bulk
from cpm.services.customers import REGULAR

TIER_COLUMNS = (
    "customer_id",
    "effective_on",
    "tier",
    "previous_tier",
    "spend",
    "window_days",
    "rules_version",
    "recorded_at",
)


def latest_tiers(session: Session) -> dict[int, tuple[date, str]]:
    """Each customer's most recently recorded tier and its date (removed customers have none:
    their tier is no longer recorded)."""
    rows = session.exec(
        select(col(TierChange.customer_id), col(TierChange.effective_on), col(TierChange.tier))
        .join(Customer, col(Customer.id) == col(TierChange.customer_id))
        .where(col(Customer.removed_at).is_(None))
        .order_by(col(TierChange.customer_id), col(TierChange.effective_on), col(TierChange.id))
    ).all()
    return {int(cid): (day, tier) for cid, day, tier in rows}


def record_tier_changes(
    session: Session, tiers: dict[int, tuple[str, int]], *, settings: Settings, as_of: date
) -> int:
    """Store, dated `as_of`, every tier in `tiers` (customer → (tier, spend)) that differs from the
    customer's latest recorded one; customers missing from `tiers` are Regular with no spend.

    History only moves forwards: an as-of on or before a customer's latest change records nothing.
    """
    known = latest_tiers(session)
    sqlite = bulk.is_sqlite(session)
    now = bulk.db_value(datetime.now(UTC), sqlite=sqlite)
    day = bulk.db_value(as_of, sqlite=sqlite)
    version = settings.version()
    changes = []
    for cid in set(tiers) | set(known):
        tier, spend = tiers.get(cid, (REGULAR, 0))
        last_day, last_tier = known.get(cid, (None, REGULAR))
        if tier == last_tier or (last_day is not None and as_of <= last_day):
            continue
        changes.append((cid, day, tier, last_tier, spend, settings.window_days, version, now))
    # Tens of thousands of changes on a first run: driver rows, not ORM objects.
    bulk.insert_rows(session, table="tier_changes", columns=TIER_COLUMNS, rows=changes)
    return len(changes)


def tier_history(session: Session, customer_id: int) -> list[TierChange]:
    return list(
        session.exec(
            select(TierChange)
            .where(TierChange.customer_id == customer_id)
            .order_by(col(TierChange.effective_on), col(TierChange.id))
        ).all()
    )
