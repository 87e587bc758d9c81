"""`cpm report --xlsx FILE`: the meeting workbook, built from the same numbers as the JSON report."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cpm.cli.report_data import KPI_LABELS, MONEY_KPIS, kpi_change, kpi_data, ratio
from cpm.config import Settings
from cpm.io.workbook import (
    DATE,
    DECIMAL,
    INTEGER,
    MONEY,
    RATIO,
    Card,
    Chart,
    Column,
    Formats,
    Sheet,
    write_workbook,
)
from cpm.services.customers import AT_RISK, TIER_NAMES
from cpm.services.reports import EXPIRING_DAYS, CustomerRow, GroupShare, MeetingPack

if TYPE_CHECKING:  # the CLV module loads numpy and scipy; only a workbook with CLV needs them
    from cpm.services.clv import ClvReport

CURRENCY_FORMATS = {
    "CNY": '"¥"#,##0.00',
    "RMB": '"¥"#,##0.00',
    "USD": '"$"#,##0.00',
    "EUR": '"€"#,##0.00',
    "GBP": '"£"#,##0.00',
    "HKD": '"HK$"#,##0.00',
    "JPY": '"¥"#,##0',
}
COUNT_KPIS = {"orders", "active_customers", "new_customers"}
LOWER_IS_BETTER = {"churn_rate"}


def mask_phone(phone: str | None) -> str | None:
    """138****5678: the first three and last four digits stay."""
    if not phone:
        return phone
    if len(phone) >= 8:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    return "*" * max(len(phone) - 2, 0) + phone[-2:]


def mask_email(email: str | None) -> str | None:
    if not email or "@" not in email:
        return email
    name, _, domain = email.partition("@")
    return f"{name[:1]}***@{domain}"


def _money(text: str | None) -> float | None:
    """A JSON money string as the number a workbook cell holds (currency units)."""
    return None if text is None else float(Decimal(text))


def _kpi_value(key: str, value: Any) -> Any:
    if value is None:
        return None
    if key in MONEY_KPIS:
        return _money(value)
    return value


def _kpi_kind(key: str) -> str:
    if key in MONEY_KPIS:
        return MONEY
    if key in COUNT_KPIS:
        return INTEGER
    return DECIMAL if key == "purchase_frequency" else RATIO


def _summary(pack: MeetingPack, settings: Settings) -> Sheet:
    view = pack.overview
    now, before, change = (
        kpi_data(view.current),
        kpi_data(view.previous),
        kpi_change(view.current, view.previous),
    )
    cards = [
        Card(
            label,
            _kpi_value(key, now[key]),
            _kpi_kind(key),
            _kpi_value(key, before[key]),
            _kpi_value(key, change[key]),
            higher_is_better=key not in LOWER_IS_BETTER,
        )
        for key, label in KPI_LABELS.items()
    ]
    notes = (
        f"{view.customers:,} customers · at risk {view.at_risk:,} · lapsed {view.lapsed:,} · "
        f"points expiring within {EXPIRING_DAYS} days: {view.expiring_points:,}",
        "ABC: "
        + ", ".join(f"{g.key} {g.customers:,}" for g in view.abc)
        + " · tiers: "
        + ", ".join(f"{TIER_NAMES[g.key]} {g.customers:,}" for g in view.tiers),
    )
    return Sheet(
        name="Summary",
        title=f"Customer report — {view.period.kind} {view.period.label} (vs {view.previous.period.label})",
        subtitle=f"As of {view.as_of} · segments over {view.window.label} · currency {settings.currency}",
        notes=notes,
        cards=cards,
        columns=[
            Column("top customers", width=14),
            Column("name", width=18),
            Column("tier", width=10),
            Column("ABC", width=6),
            Column("spend", MONEY),
            Column("orders", INTEGER),
            Column("last order", DATE),
        ],
        rows=[
            (
                r.info.code,
                r.info.name,
                TIER_NAMES[r.tier],
                r.abc,
                r.window_revenue / 100,
                r.window_orders,
                r.rhythm.last_order if r.rhythm else None,
            )
            for r in view.top
        ],
        freeze=False,
        filters=False,
    )


def _trend(pack: MeetingPack) -> Sheet:
    rows = []
    for k in pack.trend:
        data = kpi_data(k)
        rows.append(
            (
                k.period.label,
                _money(data["revenue"]),
                k.orders,
                _money(data["aov"]),
                k.active_customers,
                k.new_customers,
                data["retention_rate"],
            )
        )
    return Sheet(
        name="Trend",
        title="Trend",
        columns=[
            Column("period", width=10),
            Column("revenue", MONEY),
            Column("orders", INTEGER),
            Column("AOV", MONEY),
            Column("active customers", INTEGER),
            Column("new customers", INTEGER),
            Column("retention", RATIO),
        ],
        rows=rows,
        charts=[
            Chart(
                "line",
                "Revenue and active customers",
                category=0,
                series=(1,),
                secondary=(4,),
                y_title="revenue",
            )
        ],
    )


def _share_rows(kind: str, groups: list[GroupShare], label: Any = None) -> list[tuple[Any, ...]]:
    return [
        (kind, label(g.key) if label else g.key, g.customers, g.revenue / 100, ratio(g.share)) for g in groups
    ]


def _segments(pack: MeetingPack) -> Sheet:
    view = pack.overview
    rows = (
        _share_rows("ABC class", view.abc)
        + _share_rows("tier", view.tiers, lambda key: TIER_NAMES[key])
        + _share_rows("RFM segment", pack.rfm)
    )
    abc_end = len(view.abc) - 1
    tier_end = abc_end + len(view.tiers)
    return Sheet(
        name="Segments",
        title=f"Segments over {view.window.label}",
        columns=[
            Column("group", width=12),
            Column("segment", width=20),
            Column("customers", INTEGER),
            Column("revenue", MONEY),
            Column("revenue share", RATIO),
        ],
        rows=rows,
        charts=[
            Chart("bar", "Revenue share by ABC class", category=1, series=(4,), rows=(0, abc_end)),
            Chart(
                "bar",
                "Revenue share by tier",
                category=1,
                series=(4,),
                rows=(abc_end + 1, tier_end),
            ),
        ],
    )


CUSTOMER_COLUMNS = [
    Column("code", width=12),
    Column("name", width=14),
    Column("city", width=10),
    Column("sales rep", width=10),
    Column("phone", width=14),
    Column("email", width=22),
    Column("tier", width=9),
    Column("ABC", width=6),
    Column("R", INTEGER, 5),
    Column("F", INTEGER, 5),
    Column("M", INTEGER, 5),
    Column("segment", width=18),
    Column("spend in window", MONEY),
    Column("orders in window", INTEGER),
    Column("first order", DATE),
    Column("last order", DATE),
    Column("lifetime spend", MONEY),
    Column("points", INTEGER),
    Column("status", width=9),
    Column("at risk", width=8),
]


def _customer_row(row: CustomerRow, points: int, *, mask_pii: bool) -> tuple[Any, ...]:
    """The JSON customer object's values as cells (money in currency units: cents / 100 is the
    same float as the two-decimal string read back, without going through text)."""
    info, rfm, rhythm = row.info, row.rfm, row.rhythm
    phone, email = info.phone, info.email
    if mask_pii:
        phone, email = mask_phone(phone), mask_email(email)
    status = rhythm.status if rhythm else None
    return (
        info.code,
        info.name,
        info.city,
        info.sales_rep,
        phone,
        email,
        TIER_NAMES[row.tier],
        row.abc,
        rfm.r if rfm else None,
        rfm.f if rfm else None,
        rfm.m if rfm else None,
        rfm.segment if rfm else None,
        row.window_revenue / 100,
        row.window_orders,
        rhythm.first_order if rhythm else None,
        rhythm.last_order if rhythm else None,
        row.lifetime_revenue / 100,
        points,
        (status or "no orders").replace("_", " "),
        "yes" if status == AT_RISK else "",
    )


def _customers(pack: MeetingPack, *, mask_pii: bool) -> Sheet:
    points = {cid: position.balance for cid, position in pack.points.items()}
    return Sheet(
        name="Customers",
        columns=CUSTOMER_COLUMNS,
        rows=(_customer_row(r, points.get(r.info.id, 0), mask_pii=mask_pii) for r in pack.rows),
    )


def _at_risk(pack: MeetingPack, *, mask_pii: bool) -> Sheet:
    rows = []
    for r in pack.at_risk:
        rhythm = r.rhythm
        assert rhythm is not None
        phone = mask_phone(r.info.phone) if mask_pii else r.info.phone
        rows.append(
            (
                r.info.code,
                r.info.name,
                phone,
                TIER_NAMES[r.tier],
                r.abc,
                r.window_revenue / 100,
                rhythm.last_order,
                rhythm.days_since_last,
                float(rhythm.median_gap) if rhythm.median_gap is not None else None,
                r.info.sales_rep,
            )
        )
    return Sheet(
        name="At risk",
        title=f"{len(rows):,} customers at risk as of {pack.overview.as_of}",
        subtitle="Silent for longer than their own rhythm allows (README, At risk); top spenders first.",
        columns=[
            Column("code", width=12),
            Column("name", width=14),
            Column("phone", width=14),
            Column("tier", width=9),
            Column("ABC", width=6),
            Column("spend in window", MONEY),
            Column("last order", DATE),
            Column("days silent", INTEGER),
            Column("usual gap (days)", DECIMAL),
            Column("sales rep", width=10),
        ],
        rows=rows,
    )


def _points(pack: MeetingPack) -> Sheet:
    as_of = pack.overview.as_of
    rows = []
    for row in pack.rows:  # by customer code
        position = pack.points.get(row.info.id)
        if position is None:
            continue
        rows.append(
            (
                row.info.code,
                row.info.name,
                TIER_NAMES[row.tier],
                position.balance,
                position.available,
                position.expiring,
                position.next_expiry,
            )
        )
    return Sheet(
        name="Points",
        title=f"Points as of {as_of}",
        subtitle="Balance = sum of the ledger; available = unexpired lots less debt.",
        columns=[
            Column("code", width=12),
            Column("name", width=14),
            Column("tier", width=9),
            Column("balance", INTEGER),
            Column("available", INTEGER),
            Column(f"expiring within {EXPIRING_DAYS} days", INTEGER),
            Column("next expiry", DATE),
        ],
        rows=rows,
    )


def _cohorts(pack: MeetingPack) -> Sheet:
    width = max((len(c.active) for c in pack.cohorts), default=1)
    rows = [
        (c.label, c.size, *(ratio(s) for s in c.shares), *([None] * (width - len(c.active))))
        for c in pack.cohorts
    ]
    return Sheet(
        name="Cohorts",
        title="Monthly cohorts: share of each cohort buying k months after its first order",
        columns=[
            Column("cohort", width=10),
            Column("customers", INTEGER),
            *(Column(f"m{k}", RATIO, 7) for k in range(width)),
        ],
        rows=rows,
        color_scale_columns=(2, width + 1),
    )


CLV_SHOWN = 200


def _clv(valuation: ClvReport | str) -> list[Sheet]:
    """Top customers by predicted value, and how that value is spread over the customers."""
    if isinstance(valuation, str):
        reason = (f"Not fitted: {valuation}",)
        return [
            Sheet(name="CLV", title="Predicted customer value", notes=reason),
            Sheet(name="CLV distribution", title="Predicted value by decile of customers", notes=reason),
        ]
    options = valuation.options
    bg, gg = valuation.purchases, valuation.spend
    notes = (
        f"BG/NBD r={bg.r:.4g} alpha={bg.alpha:.4g} a={bg.a:.4g} b={bg.b:.4g}; Gamma-Gamma p={gg.p:.4g} "
        f"q={gg.q:.4g} gamma={gg.gamma:.4g}; {valuation.customers_fitted:,} customers fitted",
        f"Purchases up to {options.until}; horizon {options.horizon_units} {options.unit}s; "
        f"discount {options.monthly_discount:.2%} a month",
    )
    top = Sheet(
        name="CLV",
        title=f"Top {min(CLV_SHOWN, len(valuation.customers)):,} customers by predicted value",
        notes=notes,
        columns=[
            Column("code", width=12),
            Column("name", width=14),
            Column("last purchase", DATE),
            Column("repeat purchases", INTEGER),
            Column("P(alive)", RATIO),
            Column("expected purchases", DECIMAL),
            Column("expected spend", MONEY),
            Column("CLV", MONEY),
        ],
        rows=[
            (
                c.info.code,
                c.info.name,
                c.last_purchase,
                c.x,
                round(c.p_alive, 4),
                round(c.expected_purchases, 4),
                round(c.expected_spend) / 100,
                round(c.clv) / 100,
            )
            for c in valuation.customers[:CLV_SHOWN]
        ],
    )
    ranked = valuation.customers  # highest CLV first
    total = sum(c.clv for c in ranked) or 1.0
    deciles = []
    for decile in range(10):
        members = ranked[len(ranked) * decile // 10 : len(ranked) * (decile + 1) // 10]
        if not members:
            continue
        value = sum(c.clv for c in members)
        deciles.append(
            (
                f"{decile * 10}–{(decile + 1) * 10}%",
                len(members),
                round(members[-1].clv) / 100,
                round(members[0].clv) / 100,
                round(value) / 100,
                round(value / total, 4),
            )
        )
    spread = Sheet(
        name="CLV distribution",
        title="Predicted value by decile of customers (highest first)",
        columns=[
            Column("customers ranked by CLV", width=14),
            Column("customers", INTEGER),
            Column("lowest CLV", MONEY),
            Column("highest CLV", MONEY),
            Column("total CLV", MONEY),
            Column("share", RATIO),
        ],
        rows=deciles,
        charts=[Chart("bar", "Share of predicted value by decile", category=0, series=(5,))],
    )
    return [top, spread]


def write_meeting_workbook(
    path: Path, pack: MeetingPack, settings: Settings, *, mask_pii: bool, clv: ClvReport | str | None = None
) -> None:
    formats = Formats(money=CURRENCY_FORMATS.get(settings.currency, f'#,##0.00 "{settings.currency}"'))
    sheets = [
        _summary(pack, settings),
        _trend(pack),
        _segments(pack),
        _customers(pack, mask_pii=mask_pii),
        _at_risk(pack, mask_pii=mask_pii),
        _points(pack),
        _cohorts(pack),
        *(_clv(clv) if clv is not None else []),
    ]
    write_workbook(path, sheets, formats=formats)
