"""Rich tables for the reports."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from rich.table import Table
from rich.text import Text

from cpm.cli import render
from cpm.cli.report_data import KPI_LABELS, MONEY_KPIS, kpi_change, kpi_data, money, ratio
from cpm.config import Settings
from cpm.services.cohorts import Cohort
from cpm.services.customers import TIER_NAMES, TIER_NAMES_ZH
from cpm.services.kpis import Kpis
from cpm.services.reports import CustomerRow, GroupShare, Overview

SYMBOLS = {"CNY": "¥", "RMB": "¥", "USD": "$", "EUR": "€", "GBP": "£", "HKD": "HK$", "JPY": "¥"}
RATE_KPIS = {"repeat_purchase_rate", "retention_rate", "churn_rate"}
DASH = "—"


def show_money(cents: int | Fraction | None, settings: Settings) -> str:
    text = money(cents)
    if text is None:
        return DASH
    symbol = SYMBOLS.get(settings.currency)
    number = f"{Decimal(text):,.2f}"
    return f"{symbol}{number}" if symbol else f"{number} {settings.currency}"


def show_share(value: Fraction | float | None) -> str:
    if value is None:
        return DASH
    number = ratio(value) if isinstance(value, Fraction) else value
    return DASH if number is None else f"{number * 100:.1f}%"


def _kpi_cell(key: str, value: object, settings: Settings) -> str:
    if value is None:
        return DASH
    if key in MONEY_KPIS:
        return show_money(int(Decimal(str(value)) * 100), settings)
    if key in RATE_KPIS:
        return show_share(float(str(value)))
    if key == "purchase_frequency":
        return f"{float(str(value)):.2f}"
    return f"{value:,}"


def _change_cell(key: str, change: object, settings: Settings) -> str | Text:
    if change is None:
        return DASH
    number = Decimal(str(change))
    if number == 0:
        return "±0"
    arrow = "▲" if number > 0 else "▼"
    good = number > 0 if key != "churn_rate" else number < 0
    colour = "green" if good else "red"
    if key in MONEY_KPIS:
        text = show_money(int(abs(number) * 100), settings)
    elif key in RATE_KPIS:
        text = f"{abs(number) * 100:.1f} pt"
    elif key == "purchase_frequency":
        text = f"{abs(number):.2f}"
    else:
        text = f"{abs(number):,}"
    # A styled Text, not markup: data cells are never read as markup (cpm.cli.render.DataConsole).
    return Text(f"{arrow} {text}", style=colour)


def kpi_table(current: Kpis, previous: Kpis, settings: Settings) -> Table:
    table = Table(title=f"KPIs {current.period.label} (vs {previous.period.label})", title_justify="left")
    table.add_column("")
    table.add_column(current.period.label, justify="right")
    table.add_column(previous.period.label, justify="right")
    table.add_column("change", justify="right")
    now, before, change = kpi_data(current), kpi_data(previous), kpi_change(current, previous)
    for key, label in KPI_LABELS.items():
        table.add_row(
            label,
            _kpi_cell(key, now[key], settings),
            _kpi_cell(key, before[key], settings),
            _change_cell(key, change[key], settings),
        )
    return table


def share_table(title: str, groups: list[GroupShare], settings: Settings, *, tiers: bool = False) -> Table:
    table = Table(title=title, title_justify="left")
    for name, justify in (("", "left"), ("customers", "right"), ("revenue", "right"), ("share", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for group in groups:
        label = f"{TIER_NAMES[group.key]} {TIER_NAMES_ZH[group.key]}" if tiers else group.key
        table.add_row(
            label, f"{group.customers:,}", show_money(group.revenue, settings), show_share(group.share)
        )
    return table


def customer_table(
    title: str, rows: list[CustomerRow], settings: Settings, *, p_alive: dict[int, float] | None = None
) -> Table:
    """Customers; with `p_alive` (by customer id) a P(alive) column next to the churn status."""
    table = Table(title=title, title_justify="left")
    table.add_column("code", no_wrap=True)
    table.add_column("name", min_width=6, overflow="fold")
    table.add_column("tier", no_wrap=True)
    table.add_column("ABC", justify="center", no_wrap=True)
    table.add_column("RFM", justify="center", no_wrap=True)
    table.add_column("spend", justify="right", no_wrap=True)
    table.add_column("orders", justify="right", no_wrap=True)
    table.add_column("last order", no_wrap=True)
    table.add_column("status", no_wrap=True)
    if p_alive is not None:
        table.add_column("P(alive)", justify="right", no_wrap=True)
    for row in rows:
        rfm = row.rfm
        rhythm = row.rhythm
        cells = [
            row.info.code,
            row.info.name or "",
            TIER_NAMES[row.tier],
            row.abc,
            f"{rfm.r}{rfm.f}{rfm.m}" if rfm else DASH,
            show_money(row.window_revenue, settings),
            f"{row.window_orders:,}",
            rhythm.last_order.isoformat() if rhythm else DASH,
            (row.status or "no orders").replace("_", " "),
        ]
        if p_alive is not None:
            alive = p_alive.get(row.info.id)
            cells.append(DASH if alive is None else f"{alive:.2f}")
        table.add_row(*cells)
    return table


def overview(view: Overview, settings: Settings) -> None:
    out = render.out
    out.print(
        render.styled(
            ("Customer report", "bold"),
            f" as of {view.as_of} — {view.period.kind} {view.period.label}; "
            f"segments over {view.window.label}",
        )
    )
    if view.current.customers_to_date == 0 and view.previous.customers_to_date == 0 and not view.top:
        render.message("No orders before the as-of date yet. Import some with `cpm import orders FILE`.")
    out.print(kpi_table(view.current, view.previous, settings))
    out.print(share_table("ABC classes", view.abc, settings))
    out.print(share_table("Tiers", view.tiers, settings, tiers=True))
    if view.top:
        out.print(customer_table(f"Top {len(view.top)} customers", view.top, settings))
    out.print(
        f"{view.customers:,} customers; at risk: {view.at_risk:,} (see `cpm report at-risk`); "
        f"lapsed: {view.lapsed:,}; points expiring within 30 days: {view.expiring_points:,}"
    )


def trend_table(trend: list[Kpis], settings: Settings) -> Table:
    table = Table(title="Trend", title_justify="left")
    for name in ("period", "revenue", "orders", "AOV", "active", "new", "retention"):
        table.add_column(name, justify="left" if name == "period" else "right")
    for k in trend:
        table.add_row(
            k.period.label,
            show_money(k.revenue, settings),
            f"{k.orders:,}",
            show_money(k.aov, settings),
            f"{k.active_customers:,}",
            f"{k.new_customers:,}",
            show_share(k.retention_rate),
        )
    return table


def cohort_table(cohorts: list[Cohort]) -> Table:
    width = max((len(c.active) for c in cohorts), default=1)
    table = Table(title="Monthly cohorts: share active k months after the first order", title_justify="left")
    table.add_column("cohort")
    table.add_column("size", justify="right")
    for k in range(width):
        table.add_column(f"m{k}", justify="right")
    for cohort in cohorts:
        cells = [show_share(s) for s in cohort.shares] + [""] * (width - len(cohort.active))
        table.add_row(cohort.label, f"{cohort.size:,}", *cells)
    return table
