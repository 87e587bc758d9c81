"""Per-customer numbers: spend in a window, ABC class, RFM scores and segment, tier, churn status.

Everything is computed from aggregates SQL returns (one row per customer) or from one streamed
pass over each customer's purchase days; never from order objects.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from statistics import median

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from cpm.config import RfmSegment, Settings
from cpm.models import Customer, Order
from cpm.services import bulk
from cpm.services.kpis import COUNTED

REGULAR, VIP, DIAMOND = "regular", "vip", "diamond"
TIER_NAMES = {REGULAR: "Regular", VIP: "VIP", DIAMOND: "Diamond"}
TIER_NAMES_ZH = {REGULAR: "普通", VIP: "VIP", DIAMOND: "钻石"}
TIER_ORDER = (REGULAR, VIP, DIAMOND)
ACTIVE, AT_RISK, LAPSED = "active", "at_risk", "lapsed"


@dataclass(frozen=True)
class Window:
    """The days ABC, RFM and tiers look at: start <= date < end (start None = all history)."""

    start: date | None
    end: date

    @classmethod
    def trailing(cls, as_of: date, days: int | None) -> Window:
        return cls(None if days is None else as_of - timedelta(days=days), as_of)

    @property
    def label(self) -> str:
        last = self.end - timedelta(days=1)
        return f"all time to {last}" if self.start is None else f"{self.start} to {last}"


@dataclass(frozen=True)
class WindowSpend:
    revenue: int
    orders: int
    last_order: date


def window_spend(session: Session, window: Window) -> dict[int, WindowSpend]:
    """Net revenue, counted orders and the last order date of each customer who bought in the window."""
    query = select(
        Order.customer_id, func.sum(Order.net_amount), func.count(), func.max(Order.order_date)
    ).where(COUNTED, col(Order.order_date) < window.end)
    if window.start is not None:
        query = query.where(col(Order.order_date) >= window.start)
    rows = session.exec(query.group_by(col(Order.customer_id))).all()
    return {int(r[0]): WindowSpend(int(r[1]), int(r[2]), r[3]) for r in rows}


def abc_classes(
    revenue: dict[int, int], codes: dict[int, str], *, a: Fraction, b: Fraction
) -> dict[int, str]:
    """ABC over every customer in `codes` (no revenue = 0).

    Sorted by revenue descending, ties by customer_code; A while the cumulative share *before*
    the customer is below a, B while below b, else C; zero or negative revenue is always C.
    """
    ranked = sorted(codes, key=lambda cid: (-revenue.get(cid, 0), codes[cid]))
    total = sum(v for v in revenue.values() if v > 0)
    classes: dict[int, str] = {}
    before = 0
    for cid in ranked:
        amount = revenue.get(cid, 0)
        if amount <= 0:
            classes[cid] = "C"
            continue
        share = Fraction(before, total)
        classes[cid] = "A" if share < a else "B" if share < b else "C"
        before += amount
    return classes


@dataclass(frozen=True)
class Rfm:
    recency_days: int
    r: int
    f: int
    m: int
    segment: str


def _score(worse: int, n: int) -> int:
    return min(5, 1 + (5 * worse) // n)


def rfm_scores(
    spend: dict[int, WindowSpend], *, as_of: date, segments: Iterable[RfmSegment]
) -> dict[int, Rfm]:
    """Scores 1–5 over customers with an order in the window; equal values always score equally."""
    n = len(spend)
    if not n:
        return {}
    recency = {cid: (as_of - s.last_order).days for cid, s in spend.items()}
    sorted_recency = sorted(recency.values())
    sorted_orders = sorted(s.orders for s in spend.values())
    sorted_revenue = sorted(s.revenue for s in spend.values())
    rules = list(segments)
    result = {}
    for cid, s in spend.items():
        days = recency[cid]
        r = _score(n - bisect_right(sorted_recency, days), n)  # worse = more days since the last order
        f = _score(bisect_left(sorted_orders, s.orders), n)
        m = _score(bisect_left(sorted_revenue, s.revenue), n)
        name = next((rule.name for rule in rules if rule.holds(r, f)), "")
        result[cid] = Rfm(days, r, f, m, name)
    return result


def tier_for(spend: int, settings: Settings) -> str:
    if spend >= settings.tier_diamond:
        return DIAMOND
    if spend >= settings.tier_vip:
        return VIP
    return REGULAR


@dataclass(frozen=True)
class Rhythm:
    """A customer's buying rhythm up to as-of, and what it says about churn."""

    purchase_days: int
    first_order: date
    last_order: date
    days_since_last: int
    median_gap: Fraction | None  # days; None with a single purchase day
    status: str  # active / at_risk / lapsed


def purchase_days(session: Session, *, before: date) -> Iterator[tuple[int, date]]:
    """(customer, day) of every counted purchase, each day once, in customer then date order.

    Up to a million rows: read through the driver's cursor, without per-row ORM type processing.
    """
    rows = bulk.stream(
        session,
        "SELECT DISTINCT customer_id, order_date FROM orders WHERE net_amount > 0 AND order_date < {} "
        "ORDER BY customer_id, order_date",
        (bulk.db_value(before, sqlite=bulk.is_sqlite(session)),),
    )
    parse = date.fromisoformat
    for customer_id, day in rows:
        yield customer_id, parse(day) if day.__class__ is str else day


def churn_status(days_since: int, gap: Fraction | None, settings: Settings) -> str:
    if days_since > settings.lapsed_days:
        return LAPSED
    if gap is None:
        return AT_RISK if days_since > settings.at_risk_days else ACTIVE
    return AT_RISK if days_since > settings.at_risk_factor * gap else ACTIVE


def rhythms(days: Iterable[tuple[int, date]], *, as_of: date, settings: Settings) -> dict[int, Rhythm]:
    """One pass over purchase days: same-day orders are one purchase; gaps are between days."""
    result: dict[int, Rhythm] = {}
    current: int | None = None
    dates: list[date] = []

    def close() -> None:
        if current is None or not dates:
            return
        gaps = [(b - a).days for a, b in zip(dates, dates[1:], strict=False)]
        gap = Fraction(median(gaps)) if gaps else None
        since = (as_of - dates[-1]).days
        result[current] = Rhythm(
            len(dates), dates[0], dates[-1], since, gap, churn_status(since, gap, settings)
        )

    for customer_id, day in days:
        if customer_id != current:
            close()
            current, dates = customer_id, []
        dates.append(day)
    close()
    return result


@dataclass(frozen=True)
class CustomerInfo:
    id: int
    code: str
    name: str | None
    city: str | None
    sales_rep: str | None
    phone: str | None
    email: str | None


def all_customers(session: Session) -> dict[int, CustomerInfo]:
    table = Customer.__table__.c  # type: ignore[attr-defined]
    rows = session.execute(
        sa_select(
            table.id, table.customer_code, table.name, table.city, table.sales_rep, table.phone, table.email
        )
    ).all()
    return {int(r[0]): CustomerInfo(int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows}
