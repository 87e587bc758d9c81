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

from sqlalchemy import func
from sqlmodel import Session, col, select

from cpm.models import Order
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
    ranked = (
        select(
            col(Order.customer_id).label("customer_id"),
            col(Order.order_date).label("order_date"),
            func.row_number()
            .over(partition_by=col(Order.customer_id), order_by=(col(Order.order_date), col(Order.id)))
            .label("rank"),
        )
        .where(COUNTED, col(Order.order_date) < before)
        .subquery()
    )
    rows = session.exec(
        select(ranked.c.customer_id, ranked.c.order_date, ranked.c.rank).where(ranked.c.rank <= 2)
    ).all()
    first: dict[int, date] = {}
    second: dict[int, date] = {}
    for customer_id, order_date, rank in rows:
        (first if rank == 1 else second)[customer_id] = order_date
    return FirstOrders(first, second)


def _activity(session: Session, period: Period) -> tuple[int, int, set[int]]:
    """Revenue, counted orders, and the customers active in the period."""
    rows = session.exec(
        select(Order.customer_id, func.count(), func.sum(Order.net_amount))
        .where(COUNTED, col(Order.order_date) >= period.start, col(Order.order_date) < period.end)
        .group_by(col(Order.customer_id))
    ).all()
    revenue = sum(int(r[2]) for r in rows)
    orders = sum(int(r[1]) for r in rows)
    return revenue, orders, {int(r[0]) for r in rows}


def _revenue_before(session: Session, end: date) -> int:
    total = session.exec(select(func.sum(Order.net_amount)).where(COUNTED, col(Order.order_date) < end)).one()
    return int(total or 0)


def period_kpis(
    session: Session, periods: Sequence[Period], *, firsts: FirstOrders | None = None
) -> list[Kpis]:
    """KPIs of consecutive periods (oldest first); each compared with the period before it."""
    if not periods:
        return []
    last_end = max(p.end for p in periods)
    firsts = firsts or first_orders(session, before=last_end)
    first_dates = sorted(firsts.first.values())
    second_dates = sorted(firsts.second.values())
    results = []
    _, _, previous_active = _activity(session, periods[0].previous())
    for period in periods:
        revenue, orders, active = _activity(session, period)
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
                revenue_to_date=_revenue_before(session, period.end),
                retained_customers=len(active & previous_active),
                previous_active=len(previous_active),
            )
        )
        previous_active = active
    return results
