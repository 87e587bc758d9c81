"""`cpm customer list` and `cpm customer find`: customers with the report's tier, ABC class and
status, filtered, and a customer looked up by code, name or phone."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table

from cpm.cli import render, report_data, report_render
from cpm.cli.render import emit_csv, emit_json
from cpm.cli.report_cmd import AllTime, AsOf, Format, FormatOpt, WindowDays, options_from, quoted_argument
from cpm.cli.state import State
from cpm.db import session_scope
from cpm.services import customer_list, reports
from cpm.services.customers import AT_RISK, TIER_NAMES
from cpm.services.reports import CustomerRow


class TierChoice(StrEnum):
    regular = "regular"
    vip = "vip"
    diamond = "diamond"


class AbcChoice(StrEnum):
    A = "A"
    B = "B"
    C = "C"


class StatusChoice(StrEnum):
    active = "active"
    at_risk = "at-risk"
    lapsed = "lapsed"


LimitOpt = Annotated[
    int | None, typer.Option("--limit", min=1, max=1_000_000_000, help="Show at most N customers.")
]
LIST_FIELDS = (*report_data.CUSTOMER_FIELDS, "phone")


def _customer_object(row: CustomerRow) -> dict[str, Any]:
    return {**report_data.customer_data(row), "phone": row.info.phone}


def _table(title: str, rows: list[CustomerRow], settings: Any) -> Table:
    """The list as a table; the sales rep and order counts are in JSON and CSV (80 columns)."""
    table = Table(title=title, title_justify="left")
    table.add_column("code", no_wrap=True)
    table.add_column("name", min_width=8, overflow="fold")
    table.add_column("phone", min_width=11, overflow="fold")
    table.add_column("city", min_width=4, overflow="fold")
    table.add_column("tier", no_wrap=True)
    table.add_column("ABC", justify="center", no_wrap=True)
    table.add_column("spend", justify="right", no_wrap=True)
    table.add_column("last order", no_wrap=True)
    table.add_column("status", min_width=6, overflow="fold")
    dash = report_render.DASH
    for row in rows:
        info, rhythm = row.info, row.rhythm
        table.add_row(
            info.code,
            info.name or "",
            info.phone or "",
            info.city or "",
            TIER_NAMES[row.tier],
            row.abc,
            report_render.show_money(row.window_revenue, settings),
            rhythm.last_order.isoformat() if rhythm else dash,
            (row.status or "no orders").replace("_", " "),
        )
    return table


def _emit(
    state: State,
    found: customer_list.CustomerList,
    options: reports.ReportOptions,
    output: Format,
    title: str,
) -> None:
    if output is Format.json:
        emit_json(
            {
                "as_of": options.as_of.isoformat(),
                "window": report_data.window_data(options.window()),
                "matched": found.matched,
                "customers": [_customer_object(r) for r in found.rows],
            }
        )
    elif output is Format.csv:
        emit_csv([_customer_object(r) for r in found.rows], LIST_FIELDS)
    elif not found.rows:
        render.message(f"{title}: none.")
    else:
        render.out.print(_table(title, found.rows, state.settings))
        if found.matched > len(found.rows):
            render.message(f"{len(found.rows):,} of {found.matched:,} shown (--limit).")


def list_command(
    ctx: typer.Context,
    tier: Annotated[
        TierChoice | None, typer.Option("--tier", help="Only this tier.", case_sensitive=False)
    ] = None,
    abc: Annotated[
        AbcChoice | None, typer.Option("--abc", help="Only this ABC class.", case_sensitive=False)
    ] = None,
    status: Annotated[
        StatusChoice | None, typer.Option("--status", help="Only this churn status.", case_sensitive=False)
    ] = None,
    rep: Annotated[str | None, typer.Option("--rep", help="Only this sales rep's customers.")] = None,
    city: Annotated[str | None, typer.Option("--city", help="Only customers in this city.")] = None,
    search: Annotated[
        str | None, typer.Option("--search", metavar="TEXT", help="Code, name or phone holding TEXT.")
    ] = None,
    as_of: AsOf = None,
    window_days: WindowDays = None,
    all_time: AllTime = False,
    limit: LimitOpt = None,
    output: FormatOpt = Format.table,
) -> None:
    """Customers by code, with the report's tier, ABC class and churn status; filters combine."""
    state: State = ctx.obj
    options = options_from(state, as_of=as_of, window_days=window_days, all_time=all_time)
    filters = customer_list.Filters(
        tier=tier.value if tier else None,
        abc=abc.value if abc else None,
        status=AT_RISK if status is StatusChoice.at_risk else status.value if status else None,
        rep=rep,
        city=city,
        search=search,
    )
    with session_scope(state.db) as session:
        found = customer_list.list_customers(session, state.settings, options, filters, limit=limit)
    _emit(
        state, found, options, output, f"{found.matched:,} of {found.total:,} customers as of {options.as_of}"
    )


def find(
    ctx: typer.Context,
    text: Annotated[
        str, typer.Argument(metavar="TEXT", help="Part of a code, name or phone number.", show_default=False)
    ],
    as_of: AsOf = None,
    limit: LimitOpt = None,
    output: FormatOpt = Format.table,
) -> None:
    """Look a customer up by code, name or phone (the digits, ignoring spaces, dashes and +86)."""
    state: State = ctx.obj
    if not text.strip():
        raise typer.BadParameter("give part of a code, name or phone number", param_hint="TEXT")
    options = options_from(state, as_of=as_of)
    with session_scope(state.db) as session:
        found = customer_list.find_customers(session, state.settings, options, text, limit=limit)
    _emit(state, found, options, output, f"Customers matching {quoted_argument(text)}")
