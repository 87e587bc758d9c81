"""The reports: one computation per number, shared by the terminal, JSON, CSV and the workbook."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

from sqlmodel import Session, col, select

from cpm.config import Settings
from cpm.models import Customer, Order, TierChange
from cpm.services import ledger, tiering
from cpm.services.cohorts import Cohort, monthly_cohorts
from cpm.services.customers import (
    AT_RISK,
    LAPSED,
    TIER_ORDER,
    CustomerInfo,
    PurchaseHistory,
    Rfm,
    Rhythm,
    Window,
    abc_classes,
    all_customers,
    purchase_history,
    rfm_scores,
    tier_for,
)
from cpm.services.kpis import Kpis, period_kpis
from cpm.services.periods import Period, periods_ending, reported_period

EXPIRING_DAYS = 30


@dataclass(frozen=True)
class ReportOptions:
    as_of: date
    period: str = "month"
    window_days: int | None = 365  # None = all history
    top: int = 10
    periods: int = 12
    since: date | None = None

    def window(self) -> Window:
        return Window.trailing(self.as_of, self.window_days)

    def reported(self) -> Period:
        return reported_period(self.as_of, self.period)


@dataclass(frozen=True, slots=True)
class CustomerRow:
    """Everything the reports say about one customer."""

    info: CustomerInfo
    tier: str
    abc: str
    rfm: Rfm | None
    window_revenue: int
    window_orders: int
    lifetime_revenue: int
    lifetime_orders: int
    rhythm: Rhythm | None

    @property
    def status(self) -> str | None:
        return self.rhythm.status if self.rhythm else None


@dataclass(frozen=True)
class GroupShare:
    key: str
    customers: int
    revenue: int
    share: Fraction | None


@dataclass
class Overview:
    as_of: date
    period: Period
    window: Window
    current: Kpis
    previous: Kpis
    abc: list[GroupShare]
    tiers: list[GroupShare]
    top: list[CustomerRow]
    customers: int
    at_risk: int
    lapsed: int
    expiring_points: int = 0  # in lots that expire within 30 days of as-of
    tier_changes_recorded: int = 0


def history_for(
    session: Session, settings: Settings, options: ReportOptions, *, months: bool = False
) -> PurchaseHistory:
    """The one pass over the orders before as-of that customer rows, KPIs and cohorts share."""
    return purchase_history(session, window=options.window(), settings=settings, months=months)


def customer_rows(
    session: Session,
    settings: Settings,
    options: ReportOptions,
    *,
    history: PurchaseHistory | None = None,
) -> list[CustomerRow]:
    """Every customer with tier, ABC, RFM, spend and churn status as of `options.as_of`."""
    if history is None:
        history = history_for(session, settings, options)
    infos = all_customers(session)
    spend, lifetime, rhythm = history.window, history.lifetime, history.rhythms
    codes = {cid: info.code for cid, info in infos.items()}
    revenue = {cid: s.revenue for cid, s in spend.items()}
    classes = abc_classes(revenue, codes, a=settings.abc_a, b=settings.abc_b)
    scores = rfm_scores(spend, as_of=options.as_of, segments=settings.rfm_segments)
    rows = []
    for cid, info in sorted(infos.items(), key=lambda item: item[1].code):
        in_window = spend.get(cid)
        to_date = lifetime.get(cid)
        rows.append(
            CustomerRow(
                info=info,
                tier=tier_for(in_window.revenue if in_window else 0, settings),
                abc=classes[cid],
                rfm=scores.get(cid),
                window_revenue=in_window.revenue if in_window else 0,
                window_orders=in_window.orders if in_window else 0,
                lifetime_revenue=to_date.revenue if to_date else 0,
                lifetime_orders=to_date.orders if to_date else 0,
                rhythm=rhythm.get(cid),
            )
        )
    return rows


def _shares(rows: list[CustomerRow], keys: tuple[str, ...], key_of: str) -> list[GroupShare]:
    total = sum(r.window_revenue for r in rows)
    result = []
    for key in keys:
        members = [r for r in rows if getattr(r, key_of) == key]
        revenue = sum(r.window_revenue for r in members)
        result.append(GroupShare(key, len(members), revenue, Fraction(revenue, total) if total else None))
    return result


def top_customers(rows: list[CustomerRow], count: int) -> list[CustomerRow]:
    ranked = sorted((r for r in rows if r.window_revenue > 0), key=lambda r: (-r.window_revenue, r.info.code))
    return ranked[:count]


def overview(
    session: Session,
    settings: Settings,
    options: ReportOptions,
    *,
    history: PurchaseHistory | None = None,
    rows: list[CustomerRow] | None = None,
    points: dict[int, ledger.Position] | None = None,
    kpis: tuple[Kpis, Kpis] | None = None,
) -> Overview:
    """The default report: KPIs with change, ABC and tier shares, top customers, churn counts,
    and the points about to expire. `kpis` are the previous and the reported period's, if known."""
    period = options.reported()
    if history is None and (rows is None or kpis is None):
        history = history_for(session, settings, options)
    if kpis is None:
        assert history is not None
        previous, current = period_kpis(session, [period.previous(), period], firsts=history.firsts)
    else:
        previous, current = kpis
    if rows is None:
        rows = customer_rows(session, settings, options, history=history)
    recorded = record_tier_changes(session, rows, settings=settings, options=options)
    if points is None:
        points = points_positions(session, options)
    return Overview(
        as_of=options.as_of,
        period=period,
        window=options.window(),
        current=current,
        previous=previous,
        abc=_shares(rows, ("A", "B", "C"), "abc"),
        tiers=_shares(rows, TIER_ORDER[::-1], "tier"),
        top=top_customers(rows, options.top),
        customers=len(rows),
        at_risk=sum(1 for r in rows if r.status == AT_RISK),
        lapsed=sum(1 for r in rows if r.status == LAPSED),
        expiring_points=sum(p.expiring for p in points.values()),
        tier_changes_recorded=recorded,
    )


def points_positions(session: Session, options: ReportOptions) -> dict[int, ledger.Position]:
    """Every customer's points as of the report's day (rows that took effect before it), with
    what expires within 30 days."""
    return ledger.positions(
        session,
        on=options.as_of,
        until=options.as_of + timedelta(days=EXPIRING_DAYS),
        effective_before=options.as_of,
    )


def segments(
    session: Session, settings: Settings, options: ReportOptions
) -> tuple[list[GroupShare], list[GroupShare], list[GroupShare]]:
    """ABC, tier and RFM-segment shares over the window."""
    rows = customer_rows(session, settings, options)
    record_tier_changes(session, rows, settings=settings, options=options)
    return (
        _shares(rows, ("A", "B", "C"), "abc"),
        _shares(rows, TIER_ORDER[::-1], "tier"),
        rfm_shares(rows, settings),
    )


def rfm_shares(rows: list[CustomerRow], settings: Settings) -> list[GroupShare]:
    """Customers and revenue by RFM segment, in the order of the segment table."""
    names = tuple(dict.fromkeys(s.name for s in settings.rfm_segments))
    with_rfm = [r for r in rows if r.rfm is not None]
    total = sum(r.window_revenue for r in with_rfm)
    rfm = []
    for name in names:
        members = [r for r in with_rfm if r.rfm is not None and r.rfm.segment == name]
        revenue = sum(r.window_revenue for r in members)
        rfm.append(GroupShare(name, len(members), revenue, Fraction(revenue, total) if total else None))
    return rfm


def trend(session: Session, options: ReportOptions) -> list[Kpis]:
    return period_kpis(session, periods_ending(options.reported(), options.periods))


def cohorts(
    session: Session, settings: Settings, options: ReportOptions, *, history: PurchaseHistory | None = None
) -> list[Cohort]:
    months = history.months if history is not None else None
    if months is None:
        months = history_for(session, settings, options, months=True).months
        assert months is not None
    last_month = reported_period(options.as_of, "month").start
    return monthly_cohorts(months, last_month=last_month, since=options.since)


def at_risk_rows(rows: list[CustomerRow]) -> list[CustomerRow]:
    """At-risk customers, the most overdue (days since last order over their rhythm) first."""

    def overdue(row: CustomerRow) -> Fraction:
        rhythm = row.rhythm
        assert rhythm is not None
        expected = rhythm.median_gap if rhythm.median_gap else Fraction(1)
        return Fraction(rhythm.days_since_last) / expected

    flagged = [r for r in rows if r.status == AT_RISK]
    return sorted(flagged, key=lambda r: (-r.window_revenue, -overdue(r), r.info.code))


# --- tier history ------------------------------------------------------------------------------


def record_tier_changes(
    session: Session, rows: list[CustomerRow], *, settings: Settings, options: ReportOptions
) -> int:
    """Record the tiers a report computed, if it used the configured window (not --all-time or
    another --window-days, which are views, not the programme's tiers)."""
    if options.window_days != settings.window_days:
        return 0
    tiers = {row.info.id: (row.tier, row.window_revenue) for row in rows}
    return tiering.record_tier_changes(session, tiers, settings=settings, as_of=options.as_of)


# --- one customer ------------------------------------------------------------------------------


@dataclass
class CustomerCard:
    row: CustomerRow
    customer: Customer
    history: list[TierChange]
    last_orders: list[Order]
    first_order: date | None
    last_order: date | None


def customer_card(
    session: Session, settings: Settings, options: ReportOptions, code: str, *, orders_shown: int = 10
) -> CustomerCard:
    customer = ledger.customer_by_code(
        session, code, hint="Check the code, e.g. with `cpm report customers`."
    )
    assert customer.id is not None  # customer_by_code finds only stored customers
    rows = customer_rows(session, settings, options)
    record_tier_changes(session, rows, settings=settings, options=options)
    row = next(r for r in rows if r.info.id == customer.id)
    orders = session.exec(
        select(Order)
        .where(
            Order.customer_id == customer.id,
            col(Order.order_date) < options.as_of,
            col(Order.removed_at).is_(None),  # taken back by an undone import
        )
        .order_by(col(Order.order_date).desc(), col(Order.order_no).desc())
        .limit(orders_shown)
    ).all()
    return CustomerCard(
        row=row,
        customer=customer,
        history=tiering.tier_history(session, customer.id),
        last_orders=list(orders),
        first_order=row.rhythm.first_order if row.rhythm else None,
        last_order=row.rhythm.last_order if row.rhythm else None,
    )


@dataclass
class MeetingPack:
    """Everything the workbook shows, computed once."""

    overview: Overview
    rows: list[CustomerRow]
    at_risk: list[CustomerRow]
    rfm: list[GroupShare]
    trend: list[Kpis]
    cohorts: list[Cohort]
    points: dict[int, ledger.Position]


def meeting_pack(session: Session, settings: Settings, options: ReportOptions) -> MeetingPack:
    history = history_for(session, settings, options, months=True)
    rows = customer_rows(session, settings, options, history=history)
    points = points_positions(session, options)
    # The trend ends with the reported period and the one before it: the summary's two columns.
    kpis = period_kpis(
        session, periods_ending(options.reported(), max(options.periods, 2)), firsts=history.firsts
    )
    return MeetingPack(
        overview=overview(session, settings, options, rows=rows, points=points, kpis=(kpis[-2], kpis[-1])),
        rows=rows,
        at_risk=at_risk_rows(rows),
        rfm=rfm_shares(rows, settings),
        trend=kpis[-options.periods :],
        cohorts=cohorts(session, settings, options, history=history),
        points=points,
    )
