"""How much the database may add up to, so that every sum cpm computes fits in 64 bits.

SQLite adds integers in 64 bits and stops with "integer overflow" beyond 9.2 × 10^18. One order
may hold up to 10^15 minor units and one ledger row up to 10^15 points, so enough of them, each
allowed alone, could add up to more than any report can sum. The whole database is therefore held
to MAX_TOTAL: the amounts of all orders together, and the points of all ledger rows together
(counted without their sign), each at most 10^18 — ten thousand times below the 64-bit limit, and
so far above any shop's figures (10^16 yuan) that only a broken or hostile file reaches it.
PostgreSQL sums in NUMERIC and would not overflow, but the bound is the same there, so a database
moved between the two holds the same data.
"""

from __future__ import annotations

from sqlalchemy import Float, cast, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from cpm.errors import CpmError
from cpm.models import Order, PointsEntry

MAX_TOTAL = 10**18


def _total(session: Session, column: object) -> float:
    # Summed as floating point: the check itself must not overflow, and 10^18 needs no precision.
    value = session.execute(sa_select(func.sum(cast(func.abs(column), Float)))).scalar()
    return float(value or 0.0)


def check_totals(session: Session, *, source: str) -> None:
    """Refuse (and so roll back) what `source` just wrote if the database's totals pass MAX_TOTAL."""
    amounts = _total(session, col(Order.amount))
    if amounts > MAX_TOTAL:
        raise CpmError(
            f"{source}: the order amounts in the database would add up to {amounts / 100:,.0f}, more "
            f"than cpm can add up ({MAX_TOTAL // 100:,}); nothing was written",
            hint="Check the amount column: a value far too large, or another column read as amounts?",
        )
    points = _total(session, col(PointsEntry.points))
    if points > MAX_TOTAL:
        raise CpmError(
            f"{source}: the points in the ledger would add up to {points:,.0f}, more than cpm can add "
            f"up ({MAX_TOTAL:,}); nothing was written",
            hint="Check the points column or points.rate and the multipliers in cpm.toml.",
        )
