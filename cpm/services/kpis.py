"""The KPIs of a period, exactly as SPEC defines them.

An order counts when its net amount is above 0 (cancelled and fully refunded orders are not
orders). Ratios are exact Fractions here; rounding happens only when they are shown.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from sqlalchemy import and_, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from cpm.models import Order
from cpm.services import bulk
from cpm.services.periods import Period

COUNTED = col(Order.net_amount) > 0


@dataclass(frozen=True)
class Kpis:
    period: Period
    revenue: int  # cents
    orders: int
    active_customers: int
    new_customers: int
    customers_to_date: int  # with at least one order before the period's end
    repeat_customers_to_date: int  # of those, with two or more
    revenue_to_date: int
    retained_customers: int | None  # active in the previous period and in this one
    previous_active: int | None

    @property
    def aov(self) -> Fraction | None:
        return Fraction(self.revenue, self.orders) if self.orders else None

    @property
    def purchase_frequency(self) -> Fraction | None:
        return Fraction(self.orders, self.active_customers) if self.active_customers else None

    @property
    def repeat_purchase_rate(self) -> Fraction | None:
        if not self.customers_to_date:
            return None
        return Fraction(self.repeat_customers_to_date, self.customers_to_date)

    @property
    def retention_rate(self) -> Fraction | None:
        if not self.previous_active or self.retained_customers is None:
            return None
        return Fraction(self.retained_customers, self.previous_active)

    @property
    def churn_rate(self) -> Fraction | None:
        retention = self.retention_rate
        return None if retention is None else 1 - retention

    @property
    def average_clv(self) -> Fraction | None:
        """Historical CLV: net revenue to the period's end over customers with an order by then."""
        return Fraction(self.revenue_to_date, self.customers_to_date) if self.customers_to_date else None


@dataclass(frozen=True)
class FirstOrders:
    """Each customer's first and second counted order dates (before as-of)."""

    first: dict[int, date]
    second: dict[int, date]


def first_orders(session: Session, *, before: date) -> FirstOrders:
    # Per customer: the first counted day, how many orders that day, and the next counted day. Two
    # index look-ups per customer; ranking every order with a window function costs five times more.
    orders = Order.__table__.c  # type: ignore[attr-defined]
    counted = and_(orders.net_amount > 0, orders.order_date < before)
    firsts = (
        sa_select(orders.customer_id.label("customer_id"), func.min(orders.order_date).label("day"))
        .where(counted)
        .group_by(orders.customer_id)
        .subquery()
    )
    other = Order.__table__.alias("other")  # type: ignore[attr-defined]
    same_customer = and_(other.c.customer_id == firsts.c.customer_id, other.c.net_amount > 0)
    on_first_day = (
        sa_select(func.count()).where(same_customer, other.c.order_date == firsts.c.day).scalar_subquery()
    )
    next_day = (
        sa_select(func.min(other.c.order_date))
        .where(same_customer, other.c.order_date > firsts.c.day, other.c.order_date < before)
        .scalar_subquery()
    )
    rows = session.execute(sa_select(firsts.c.customer_id, firsts.c.day, on_first_day, next_day)).all()
    first: dict[int, date] = {}
    second: dict[int, date] = {}
    for customer_id, day, on_first, later in rows:
        first[customer_id] = day
        if on_first > 1:
            second[customer_id] = day
        elif later is not None:
            second[customer_id] = later
    return FirstOrders(first, second)


def _activity(session: Session, period: Period) -> tuple[int, int, set[int]]:
    """Revenue, counted orders, and the customers active in the period."""
    query = (
        select(Order.customer_id, func.count(), func.sum(Order.net_amount))
        .where(COUNTED, col(Order.order_date) >= period.start, col(Order.order_date) < period.end)
        .group_by(col(Order.customer_id))
    )
    rows = list(bulk.driver_rows(session, query))  # a row per active customer: no ORM processing
    revenue = sum(int(r[2]) for r in rows)
    orders = sum(int(r[1]) for r in rows)
    return revenue, orders, {int(r[0]) for r in rows}


def _revenue_before(session: Session, end: date) -> int:
    total = session.exec(select(func.sum(Order.net_amount)).where(COUNTED, col(Order.order_date) < end)).one()
    return int(total or 0)


def period_kpis(
    session: Session, periods: Sequence[Period], *, firsts: FirstOrders | None = None
) -> list[Kpis]:
    """KPIs of consecutive periods (oldest first); each compared with the period before it.

    `firsts` may come from a pass that already read every order before the last period's end
    (or later: first orders after it are not counted).
    """
    if not periods:
        return []
    last_end = max(p.end for p in periods)
    firsts = firsts or first_orders(session, before=last_end)
    first_dates = sorted(firsts.first.values())
    second_dates = sorted(firsts.second.values())
    results = []
    _, _, previous_active = _activity(session, periods[0].previous())
    to_date = _revenue_before(session, periods[0].start)
    previous_end = periods[0].start
    for period in periods:
        revenue, orders, active = _activity(session, period)
        if period.start != previous_end:  # consecutive periods add up; others start afresh
            to_date = _revenue_before(session, period.start)
        to_date += revenue
        previous_end = period.end
        new = bisect_left(first_dates, period.end) - bisect_left(first_dates, period.start)
        results.append(
            Kpis(
                period=period,
                revenue=revenue,
                orders=orders,
                active_customers=len(active),
                new_customers=new,
                customers_to_date=bisect_left(first_dates, period.end),
                repeat_customers_to_date=bisect_left(second_dates, period.end),
                revenue_to_date=to_date,
                retained_customers=len(active & previous_active),
                previous_active=len(previous_active),
            )
        )
        previous_active = active
    return results
