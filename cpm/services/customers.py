"""Per-customer numbers: spend in a window, ABC class, RFM scores and segment, tier, churn status.

Everything is computed from aggregates SQL returns (one row per customer) or from one streamed
pass over each customer's purchase days; never from order objects.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from itertools import groupby
from operator import itemgetter, sub
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from cpm.config import RfmSegment, Settings
from cpm.i18n import N_
from cpm.models import Customer, Order
from cpm.services import bulk
from cpm.services.kpis import COUNTED, FirstOrders
from cpm.services.periods import month_index

REGULAR, VIP, DIAMOND = "regular", "vip", "diamond"
TIER_NAMES = {REGULAR: N_("Regular"), VIP: N_("VIP"), DIAMOND: N_("Diamond")}
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


@dataclass(frozen=True, slots=True)
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
        # before / total < a, in integers (total > 0 here): no Fraction per customer
        if before * a.denominator < a.numerator * total:
            classes[cid] = "A"
        elif before * b.denominator < b.numerator * total:
            classes[cid] = "B"
        else:
            classes[cid] = "C"
        before += amount
    return classes


@dataclass(frozen=True, slots=True)
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
    names = {
        (r, f): next((rule.name for rule in rules if rule.holds(r, f)), "")
        for r in range(1, 6)
        for f in range(1, 6)
    }
    result = {}
    for cid, s in spend.items():
        days = recency[cid]
        r = _score(n - bisect_right(sorted_recency, days), n)  # worse = more days since the last order
        f = _score(bisect_left(sorted_orders, s.orders), n)
        m = _score(bisect_left(sorted_revenue, s.revenue), n)
        result[cid] = Rfm(days, r, f, m, names[r, f])
    return result


def tier_for(spend: int, settings: Settings) -> str:
    if spend >= settings.tier_diamond:
        return DIAMOND
    if spend >= settings.tier_vip:
        return VIP
    return REGULAR


@dataclass(frozen=True, slots=True)
class Rhythm:
    """A customer's buying rhythm up to as-of, and what it says about churn."""

    purchase_days: int
    first_order: date
    last_order: date
    days_since_last: int
    median_gap: Fraction | None  # days; None with a single purchase day
    status: str  # active / at_risk / lapsed


def churn_status(days_since: int, gap: Fraction | None, settings: Settings) -> str:
    if days_since > settings.lapsed_days:
        return LAPSED
    if gap is None:
        return AT_RISK if days_since > settings.at_risk_days else ACTIVE
    return AT_RISK if days_since > settings.at_risk_factor * gap else ACTIVE


def _median_gap(days: list[int]) -> Fraction | None:
    """The median of the gaps between consecutive purchase days (ordinals), exactly."""
    gaps = sorted(map(sub, days[1:], days))
    if not gaps:
        return None
    middle = len(gaps) // 2
    if len(gaps) % 2:
        return Fraction(gaps[middle])
    return Fraction(gaps[middle - 1] + gaps[middle], 2)


@dataclass(frozen=True)
class PurchaseHistory:
    """Everything the reports need from the orders before as-of, per customer, from one pass."""

    window: dict[int, WindowSpend]  # customers with a counted order in the window
    lifetime: dict[int, WindowSpend]  # customers with a counted order before as-of
    rhythms: dict[int, Rhythm]
    firsts: FirstOrders
    months: list[set[int]] | None  # per customer: the months (month_index) they bought in, if asked


class _Ordinals(dict[Any, int]):
    """Day as the database returns it (ISO text on SQLite, a date elsewhere) → its ordinal.

    A shop has a few thousand distinct order dates: each is parsed once, not once per order."""

    def __missing__(self, key: Any) -> int:
        day = date.fromisoformat(key) if isinstance(key, str) else key
        ordinal = self[key] = day.toordinal()
        return ordinal


class _Months(dict[int, int]):
    """Day ordinal → month_index, worked out once per distinct day."""

    def __missing__(self, key: int) -> int:
        month = self[key] = month_index(date.fromordinal(key))
        return month


def purchase_history(
    session: Session, *, window: Window, settings: Settings, months: bool = False
) -> PurchaseHistory:
    """Spend in the window and to date, buying rhythm and first orders of every customer as of
    `window.end`, from one ordered pass over each customer's purchase days (several orders on one
    day are one purchase day; revenue and order counts still add up every order).

    `months` also collects the months each customer bought in, for the cohorts.
    """
    as_of = window.end
    rows = bulk.stream(
        session,
        "SELECT customer_id, order_date, COUNT(*), SUM(net_amount) FROM orders "
        "WHERE net_amount > 0 AND order_date < {} "
        "GROUP BY customer_id, order_date ORDER BY customer_id, order_date",
        (bulk.db_value(as_of, sqlite=bulk.is_sqlite(session)),),
    )
    ordinal_of, month_of = _Ordinals(), _Months()
    as_of_ordinal = as_of.toordinal()
    window_start = window.start.toordinal() if window.start is not None else None
    in_window: dict[int, WindowSpend] = {}
    lifetime: dict[int, WindowSpend] = {}
    rhythm: dict[int, Rhythm] = {}
    first: dict[int, date] = {}
    second: dict[int, date] = {}
    bought_in: list[set[int]] | None = [] if months else None
    for customer_id, group in groupby(rows, key=itemgetter(0)):
        _, day_values, orders, revenue = zip(*group, strict=True)
        days = list(map(ordinal_of.__getitem__, day_values))
        cid = int(customer_id)
        first_day, last_day = date.fromordinal(days[0]), date.fromordinal(days[-1])
        lifetime[cid] = WindowSpend(int(sum(revenue)), int(sum(orders)), last_day)
        if window_start is None:
            in_window[cid] = lifetime[cid]
        elif days[-1] >= window_start:
            start = bisect_left(days, window_start)
            in_window[cid] = WindowSpend(int(sum(revenue[start:])), int(sum(orders[start:])), last_day)
        gap = _median_gap(days)
        since = as_of_ordinal - days[-1]
        rhythm[cid] = Rhythm(len(days), first_day, last_day, since, gap, churn_status(since, gap, settings))
        first[cid] = first_day
        if orders[0] > 1:
            second[cid] = first_day
        elif len(days) > 1:
            second[cid] = date.fromordinal(days[1])
        if bought_in is not None:
            bought_in.append(set(map(month_of.__getitem__, days)))
    return PurchaseHistory(in_window, lifetime, rhythm, FirstOrders(first, second), bought_in)


@dataclass(frozen=True, slots=True)
class CustomerInfo:
    id: int
    code: str
    name: str | None
    city: str | None
    sales_rep: str | None
    phone: str | None
    email: str | None


def all_customers(session: Session) -> dict[int, CustomerInfo]:
    """Every customer a report, list or award sees: not the removed ones (merged into another,
    or taken back by an undone import)."""
    table = Customer.__table__.c  # type: ignore[attr-defined]
    rows = bulk.driver_rows(
        session,
        sa_select(
            table.id, table.customer_code, table.name, table.city, table.sales_rep, table.phone, table.email
        ).where(table.removed_at.is_(None)),
    )
    return {int(r[0]): CustomerInfo(int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows}
