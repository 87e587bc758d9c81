"""The report numbers as plain data: the stable JSON and CSV shapes documented in the README.

Money is a decimal string with two decimals ("1234.50"); ratios are numbers rounded to four
decimals; dates are ISO strings; a number that cannot be computed (e.g. AOV with no orders) is null.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from cpm.config import Settings
from cpm.services.cohorts import Cohort
from cpm.services.customers import Window
from cpm.services.kpis import Kpis
from cpm.services.periods import Period
from cpm.services.reports import CustomerRow, GroupShare, Overview

FOUR = Decimal("0.0001")


def money(cents: int | Fraction | None) -> str | None:
    """Cents (possibly a fraction of a cent, e.g. an average) as "1234.50", rounded half up."""
    if cents is None:
        return None
    exact = (
        Decimal(cents.numerator) / Decimal(cents.denominator)
        if isinstance(cents, Fraction)
        else Decimal(cents)
    )
    value = (exact / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{value:.2f}"


def ratio(value: Fraction | None) -> float | None:
    if value is None:
        return None
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return float(exact.quantize(FOUR, rounding=ROUND_HALF_UP))


def period_data(period: Period) -> dict[str, Any]:
    return {
        "kind": period.kind,
        "label": period.label,
        "start": period.start.isoformat(),
        "end": period.last_day.isoformat(),
    }


def window_data(window: Window) -> dict[str, Any]:
    return {
        "start": window.start.isoformat() if window.start else None,
        "end": (window.end - timedelta(days=1)).isoformat(),
        "all_time": window.start is None,
    }


def kpi_data(k: Kpis) -> dict[str, Any]:
    return {
        "revenue": money(k.revenue),
        "orders": k.orders,
        "aov": money(k.aov),
        "active_customers": k.active_customers,
        "new_customers": k.new_customers,
        "purchase_frequency": ratio(k.purchase_frequency),
        "repeat_purchase_rate": ratio(k.repeat_purchase_rate),
        "retention_rate": ratio(k.retention_rate),
        "churn_rate": ratio(k.churn_rate),
        "average_clv": money(k.average_clv),
    }


KPI_LABELS = {
    "revenue": "Revenue",
    "orders": "Orders",
    "aov": "Average order value",
    "active_customers": "Active customers",
    "new_customers": "New customers",
    "purchase_frequency": "Purchase frequency",
    "repeat_purchase_rate": "Repeat purchase rate",
    "retention_rate": "Retention rate",
    "churn_rate": "Churn rate",
    "average_clv": "Average historical CLV",
}
MONEY_KPIS = {"revenue", "aov", "average_clv"}


def kpi_change(current: Kpis, previous: Kpis) -> dict[str, Any]:
    """Current minus previous for every KPI (money as a decimal string), null where either is null."""
    now, before = kpi_data(current), kpi_data(previous)
    change: dict[str, Any] = {}
    for key in KPI_LABELS:
        a, b = now[key], before[key]
        if a is None or b is None:
            change[key] = None
        elif key in MONEY_KPIS:
            change[key] = f"{Decimal(a) - Decimal(b):.2f}"
        elif isinstance(a, int) and isinstance(b, int):
            change[key] = a - b
        else:
            change[key] = float(Decimal(str(a)) - Decimal(str(b)))
    return change


def share_data(group: GroupShare, key_name: str) -> dict[str, Any]:
    return {
        key_name: group.key,
        "customers": group.customers,
        "revenue": money(group.revenue),
        "revenue_share": ratio(group.share),
    }


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


CUSTOMER_FIELDS = (
    "code",
    "name",
    "city",
    "sales_rep",
    "tier",
    "abc",
    "recency_days",
    "r",
    "f",
    "m",
    "segment",
    "window_revenue",
    "window_orders",
    "lifetime_revenue",
    "lifetime_orders",
    "first_order",
    "last_order",
    "days_since_last_order",
    "median_gap_days",
    "status",
)
COHORT_FIELDS = ("cohort", "size", "month", "active", "share")


def customer_data(row: CustomerRow) -> dict[str, Any]:
    rfm, rhythm = row.rfm, row.rhythm
    return {
        "code": row.info.code,
        "name": row.info.name,
        "city": row.info.city,
        "sales_rep": row.info.sales_rep,
        "tier": row.tier,
        "abc": row.abc,
        "recency_days": rfm.recency_days if rfm else None,
        "r": rfm.r if rfm else None,
        "f": rfm.f if rfm else None,
        "m": rfm.m if rfm else None,
        "segment": rfm.segment if rfm else None,
        "window_revenue": money(row.window_revenue),
        "window_orders": row.window_orders,
        "lifetime_revenue": money(row.lifetime_revenue),
        "lifetime_orders": row.lifetime_orders,
        "first_order": _iso(rhythm.first_order if rhythm else None),
        "last_order": _iso(rhythm.last_order if rhythm else None),
        "days_since_last_order": rhythm.days_since_last if rhythm else None,
        "median_gap_days": ratio(rhythm.median_gap) if rhythm and rhythm.median_gap is not None else None,
        "status": row.status,
    }


def with_p_alive(data: dict[str, Any], p_alive: float | None) -> dict[str, Any]:
    """A customer object plus P(alive) from the BG/NBD model (null when it cannot be fitted)."""
    return {**data, "p_alive": None if p_alive is None else round(p_alive, 4)}


def overview_data(view: Overview, settings: Settings) -> dict[str, Any]:
    return {
        "as_of": view.as_of.isoformat(),
        "currency": settings.currency,
        "settings_version": settings.version(),
        "period": period_data(view.period),
        "previous_period": period_data(view.previous.period),
        "window": window_data(view.window),
        "kpis": {
            "current": kpi_data(view.current),
            "previous": kpi_data(view.previous),
            "change": kpi_change(view.current, view.previous),
        },
        "abc": [share_data(g, "class") for g in view.abc],
        "tiers": [share_data(g, "tier") for g in view.tiers],
        "top_customers": [customer_data(r) for r in view.top],
        "customers": view.customers,
        "at_risk_customers": view.at_risk,
        "lapsed_customers": view.lapsed,
        "points_expiring_30_days": view.expiring_points,
    }


def kpi_rows(current: Kpis, previous: Kpis) -> list[dict[str, Any]]:
    now, before, change = kpi_data(current), kpi_data(previous), kpi_change(current, previous)
    return [
        {"metric": key, "current": now[key], "previous": before[key], "change": change[key]}
        for key in KPI_LABELS
    ]


def trend_rows(trend: list[Kpis]) -> list[dict[str, Any]]:
    return [
        {
            "period": k.period.label,
            "start": k.period.start.isoformat(),
            "end": k.period.last_day.isoformat(),
            **kpi_data(k),
        }
        for k in trend
    ]


def cohort_data(cohort: Cohort) -> dict[str, Any]:
    return {
        "cohort": cohort.label,
        "size": cohort.size,
        "active": list(cohort.active),
        "shares": [ratio(s) for s in cohort.shares],
    }


def cohort_rows(cohorts: list[Cohort]) -> list[dict[str, Any]]:
    """Long form for CSV: one row per cohort and month offset."""
    return [
        {"cohort": c.label, "size": c.size, "month": k, "active": count, "share": ratio(share)}
        for c in cohorts
        for k, (count, share) in enumerate(zip(c.active, c.shares, strict=True))
    ]
