"""`cpm report [kpis|segments|customers|at-risk|cohorts|trend|clv]`, and the options reports share."""

from __future__ import annotations

import math
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlmodel import Session

from cpm.cli import render, report_data, report_render
from cpm.cli.render import emit_csv, emit_json
from cpm.cli.state import State
from cpm.config import MAX_DAYS
from cpm.db import session_scope
from cpm.errors import CpmError
from cpm.services import reports
from cpm.services.kpis import period_kpis
from cpm.services.reports import ReportOptions


class Part(StrEnum):
    kpis = "kpis"
    segments = "segments"
    customers = "customers"
    at_risk = "at-risk"
    cohorts = "cohorts"
    trend = "trend"
    clv = "clv"


class Unit(StrEnum):
    day = "day"
    week = "week"
    month = "month"


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class PeriodKind(StrEnum):
    month = "month"
    quarter = "quarter"
    year = "year"


# Far enough from the calendar's ends that every window (≤ 100 years) and expiry (≤ 1,200 months)
# computed from a date stays a date.
EARLIEST_DAY, LATEST_DAY = date(1900, 1, 1), date(9899, 12, 31)


DAY_RANGE = f"{EARLIEST_DAY} to {LATEST_DAY}"


def quoted_argument(value: str, *, longest: int = 40) -> str:
    """An argument as a message quotes it: repr, cut short so a huge value cannot flood the screen."""
    return repr(value) if len(value) <= longest else repr(value[:longest]) + "…"


def parse_day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{quoted_argument(value)} is not a date; use YYYY-MM-DD") from exc
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise typer.BadParameter(f"{value} is out of range; use a date from {EARLIEST_DAY} to {LATEST_DAY}")
    return day


AsOf = Annotated[
    str | None,
    typer.Option(
        "--as-of", help=f"Report as of the start of this day (YYYY-MM-DD, {DAY_RANGE}) [default: today]."
    ),
]
WindowDays = Annotated[
    int | None,
    typer.Option(
        "--window-days",
        min=1,
        max=MAX_DAYS,
        help="Days before as-of for ABC, RFM and tiers [default: window_days].",
    ),
]
# Customers listed: more than any shop has, and inside the database's integers.
MAX_TOP = 1_000_000_000
# --horizon: at most 100 years in the chosen unit.
MAX_HORIZON = {"day": MAX_DAYS, "week": MAX_DAYS // 7, "month": 1200}
AllTime = Annotated[bool, typer.Option("--all-time", help="ABC, RFM and tiers over all history.")]
FormatOpt = Annotated[Format, typer.Option("--format", help="table (for people), json or csv (for scripts).")]


def options_from(
    state: State,
    *,
    as_of: str | None,
    period: PeriodKind = PeriodKind.month,
    window_days: int | None = None,
    all_time: bool = False,
    top: int = 10,
    periods: int = 12,
    since: str | None = None,
) -> ReportOptions:
    if all_time and window_days is not None:
        raise typer.BadParameter("give either --window-days or --all-time, not both")
    return ReportOptions(
        as_of=parse_day(as_of) or date.today(),
        period=period.value,
        window_days=None if all_time else (window_days or state.settings.window_days),
        top=top,
        periods=periods,
        since=parse_day(since),
    )


def p_alive_by_customer(session: Session, options: ReportOptions, *, note: bool) -> dict[int, float]:
    """P(alive) from the purchase model fitted to every purchase before as-of; empty when the
    history cannot support a fit (the outputs then show null)."""
    # numpy and scipy take a good part of a second to load: only the commands that fit load them.
    from cpm.services import clv
    from cpm.services.clv_models import CannotFit

    try:
        return clv.alive_probabilities(session, until=options.as_of - timedelta(days=1))
    except CannotFit as exc:
        if note:
            render.message(f"P(alive) not shown: {exc.message}")
        return {}


def report(
    ctx: typer.Context,
    part: Annotated[
        Part | None, typer.Argument(help="One part of the report [default: the summary].")
    ] = None,
    as_of: AsOf = None,
    period: Annotated[
        PeriodKind, typer.Option("--period", help="Calendar periods for KPIs and trend.")
    ] = PeriodKind.month,
    window_days: WindowDays = None,
    all_time: AllTime = False,
    top: Annotated[
        int, typer.Option("--top", min=1, max=MAX_TOP, help="How many top customers to list.")
    ] = 10,
    periods: Annotated[int, typer.Option("--periods", min=1, max=240, help="Periods in the trend.")] = 12,
    since: Annotated[
        str | None,
        typer.Option("--since", help=f"First cohort month (YYYY-MM-DD, {DAY_RANGE}) [default: first order]."),
    ] = None,
    output: FormatOpt = Format.table,
    xlsx: Annotated[
        Path | None, typer.Option("--xlsx", metavar="FILE", help="Also write the meeting workbook to FILE.")
    ] = None,
    mask_pii: Annotated[
        bool, typer.Option("--mask-pii", help="Mask phones and e-mails in the workbook.")
    ] = False,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            help=f"clv: last day of purchases the models see ({DAY_RANGE}) [default: the day before as-of].",
        ),
    ] = None,
    unit: Annotated[Unit, typer.Option("--unit", help="clv: the time unit of the models.")] = Unit.week,
    horizon: Annotated[
        int | None,
        typer.Option(
            "--horizon",
            min=1,
            max=MAX_DAYS,
            help="clv: units to predict, at most 100 years (36,600 days, 5,228 weeks, 1,200 months) "
            "[default: a year, 365/52/12].",
        ),
    ] = None,
    discount: Annotated[
        float, typer.Option("--discount", min=0.0, max=1.0, help="clv: discount rate per month.")
    ] = 0.01,
) -> None:
    """The numbers that matter: KPIs, ABC classes, RFM, tiers, cohorts, trend, at-risk customers and CLV.

    The reported period is the latest complete period before --as-of, compared with the one before it.
    """
    state: State = ctx.obj
    settings = state.settings
    options = options_from(
        state,
        as_of=as_of,
        period=period,
        window_days=window_days,
        all_time=all_time,
        top=top,
        periods=periods,
        since=since,
    )
    if horizon is not None and horizon > MAX_HORIZON[unit.value]:
        raise typer.BadParameter(
            f"{horizon:,} {unit.value}s is more than 100 years; give at most {MAX_HORIZON[unit.value]:,}",
            param_hint="--horizon",
        )
    if math.isnan(discount):
        raise typer.BadParameter("must be a number from 0 to 1, e.g. 0.01", param_hint="--discount")
    until_day = parse_day(until) or options.as_of - timedelta(days=1)
    if until_day >= options.as_of:
        raise typer.BadParameter("--until must be before --as-of (the report sees orders dated before as-of)")
    with session_scope(state.db, write=True) as session:
        pack: reports.MeetingPack | None = None
        if xlsx is not None:
            pack = reports.meeting_pack(session, settings, options)
            from cpm.services import clv  # loads numpy and scipy

            try:
                valuation: clv.ClvReport | str = clv.clv_report(
                    session,
                    clv.ClvOptions(
                        until=until_day, unit=unit.value, horizon=horizon, monthly_discount=discount
                    ),
                )
            except CpmError as exc:  # too little history to fit: the sheet says so instead
                valuation = exc.message
            from cpm.cli.report_workbook import write_meeting_workbook  # openpyxl: only when writing one

            write_meeting_workbook(xlsx, pack, settings, mask_pii=mask_pii, clv=valuation)
            if not state.quiet:
                render.message(f"Wrote {xlsx}")
            if part is None and output is Format.table:
                if not state.quiet:
                    report_render.overview(pack.overview, settings)
                return
        if part is None:
            # With --xlsx the summary is already computed: the workbook's Summary sheet is this report.
            view = pack.overview if pack is not None else reports.overview(session, settings, options)
            if output is Format.json:
                emit_json(report_data.overview_data(view, settings))
            elif output is Format.csv:
                emit_csv(report_data.kpi_rows(view.current, view.previous))
            else:
                report_render.overview(view, settings)
        elif part is Part.kpis:
            previous, current = period_kpis(session, [options.reported().previous(), options.reported()])
            if output is Format.json:
                emit_json(
                    {
                        "as_of": options.as_of.isoformat(),
                        "period": report_data.period_data(current.period),
                        "previous_period": report_data.period_data(previous.period),
                        "current": report_data.kpi_data(current),
                        "previous": report_data.kpi_data(previous),
                        "change": report_data.kpi_change(current, previous),
                    }
                )
            elif output is Format.csv:
                emit_csv(report_data.kpi_rows(current, previous))
            else:
                render.out.print(report_render.kpi_table(current, previous, settings))
        elif part is Part.segments:
            abc, tiers, rfm = reports.segments(session, settings, options)
            if output is Format.table:
                render.out.print(report_render.share_table("ABC classes", abc, settings))
                render.out.print(report_render.share_table("Tiers", tiers, settings, tiers=True))
                render.out.print(report_render.share_table("RFM segments", rfm, settings))
            else:
                groups = (
                    [{"kind": "abc", **report_data.share_data(g, "key")} for g in abc]
                    + [{"kind": "tier", **report_data.share_data(g, "key")} for g in tiers]
                    + [{"kind": "rfm_segment", **report_data.share_data(g, "key")} for g in rfm]
                )
                if output is Format.json:
                    emit_json(
                        {
                            "as_of": options.as_of.isoformat(),
                            "window": report_data.window_data(options.window()),
                            "groups": groups,
                        }
                    )
                else:
                    emit_csv(groups)
        elif part in (Part.customers, Part.at_risk):
            rows = reports.customer_rows(session, settings, options)
            reports.record_tier_changes(session, rows, settings=settings, options=options)
            chosen = reports.at_risk_rows(rows) if part is Part.at_risk else rows
            alive = (
                p_alive_by_customer(session, options, note=output is Format.table and not state.quiet)
                if part is Part.at_risk
                else None
            )

            def customer_object(row: reports.CustomerRow) -> dict[str, Any]:
                data = report_data.customer_data(row)
                return data if alive is None else report_data.with_p_alive(data, alive.get(row.info.id))

            if output is Format.table:
                if part is Part.customers:
                    chosen = sorted(chosen, key=lambda r: (-r.window_revenue, r.info.code))[: options.top]
                    title = (
                        f"Top {len(chosen)} of {len(rows):,} customers by spend ({options.window().label})"
                    )
                else:
                    title = f"{len(chosen):,} customers at risk as of {options.as_of}"
                render.out.print(report_render.customer_table(title, chosen, settings, p_alive=alive))
            elif output is Format.json:
                emit_json(
                    {
                        "as_of": options.as_of.isoformat(),
                        "window": report_data.window_data(options.window()),
                        "customers": [customer_object(r) for r in chosen],
                    }
                )
            else:
                fields = [*report_data.CUSTOMER_FIELDS, *(["p_alive"] if alive is not None else [])]
                emit_csv([customer_object(r) for r in chosen], fields)
        elif part is Part.cohorts:
            cohorts = reports.cohorts(session, settings, options)
            if output is Format.table:
                render.out.print(report_render.cohort_table(cohorts))
            elif output is Format.json:
                emit_json(
                    {
                        "as_of": options.as_of.isoformat(),
                        "cohorts": [report_data.cohort_data(c) for c in cohorts],
                    }
                )
            else:
                emit_csv(report_data.cohort_rows(cohorts), report_data.COHORT_FIELDS)
        elif part is Part.clv:
            from cpm.cli import clv_render  # loads numpy and scipy (see p_alive_by_customer)
            from cpm.services import clv

            clv_options = clv.ClvOptions(
                until=until_day, unit=unit.value, horizon=horizon, monthly_discount=discount
            )
            result = clv.clv_report(session, clv_options)
            if output is Format.table:
                clv_render.clv_view(result, settings, top=top)
            else:
                # Scripts get every customer unless --top is given.
                source = ctx.get_parameter_source("top")
                given = source is not None and source.name != "DEFAULT"
                if output is Format.json:
                    emit_json(clv_render.clv_data(result, top=top if given else None))
                else:
                    emit_csv(clv_render.clv_rows(result, top=top if given else None))
                if not state.quiet:
                    for note in clv_render.notes(result):
                        render.message(note)
        else:
            trend = reports.trend(session, options)
            if output is Format.table:
                render.out.print(report_render.trend_table(trend, settings))
            elif output is Format.json:
                emit_json({"as_of": options.as_of.isoformat(), "periods": report_data.trend_rows(trend)})
            else:
                emit_csv(report_data.trend_rows(trend))
