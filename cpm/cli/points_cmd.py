"""`cpm award` and `cpm points balance|history|redeem|adjust|expiring`."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated

import typer
from rich.table import Table

from cpm.cli import render
from cpm.cli.render import emit_csv, emit_json
from cpm.cli.report_cmd import DAY_RANGE, Format, parse_day, quoted_argument
from cpm.cli.state import State
from cpm.config import MAX_DAYS
from cpm.db import session_scope
from cpm.errors import CpmError
from cpm.services import awarding, ledger
from cpm.services.customers import all_customers

app = typer.Typer(help="Points balances, history, redemptions and adjustments.", no_args_is_help=True)

FormatOpt = Annotated[Format, typer.Option("--format", help="table, json or csv.")]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (required; kept on the ledger row).")]
KeyOpt = Annotated[
    str | None,
    typer.Option(
        "--key", help="Your own id for this transaction: repeating a command with the same key posts once."
    ),
]


def award(
    ctx: typer.Context,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help=f"Award as of the start of this day (YYYY-MM-DD, {DAY_RANGE}) [default: today]."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be posted; write nothing.")
    ] = False,
    output: FormatOpt = Format.table,
) -> None:
    """Post points for new orders, corrections for changed ones, expiries and tier changes — once.

    Safe from cron: a second run posts nothing, and an overlapping run waits for the first.
    """
    state: State = ctx.obj
    today = date.today()
    day = parse_day(as_of) or today
    if day > today:
        # The ledger is never rewritten: lots expired early, or points earned for orders dated
        # later, could not be taken back when the day comes.
        raise CpmError(
            f"--as-of {day} has not come yet (today is {today}); an award cannot run ahead of the calendar",
            hint="Leave out --as-of, or give today or an earlier day.",
        )
    with session_scope(state.db, write=True, dry_run=dry_run) as session:
        summary = awarding.award(session, state.settings, as_of=day)
    data = {
        "as_of": day.isoformat(),
        "dry_run": dry_run,
        "customers_touched": summary.customers_touched,
        "orders_earned": summary.orders_earned,
        "points_earned": summary.points_earned,
        "first_order_bonuses": summary.bonuses,
        "bonus_points": summary.bonus_points,
        "orders_corrected": summary.orders_corrected,
        "points_reversed": summary.points_reversed,
        "points_topped_up": summary.points_topped_up,
        "lots_expired": summary.lots_expired,
        "points_expired": summary.points_expired,
        "tier_changes": summary.tier_changes,
    }
    if state.quiet:
        return
    if output is Format.json:
        emit_json(data)
        return
    if output is Format.csv:
        emit_csv([data])
        return
    title = f"Award as of {day}" + (" (dry run: nothing written)" if dry_run else "")
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column()
    table.add_column(justify="right")
    for key, value in data.items():
        if key not in ("as_of", "dry_run"):
            table.add_row(key.replace("_", " "), f"{value:,}")
    render.out.print(table)


@app.command("balance")
def balance(
    ctx: typer.Context,
    code: Annotated[
        str | None, typer.Argument(metavar="[CODE]", help="One customer [default: everyone with points].")
    ] = None,
    output: FormatOpt = Format.table,
) -> None:
    """Balance (the sum of the ledger) and what is available today (unexpired lots less any debt)."""
    state: State = ctx.obj
    today = date.today()
    with session_scope(state.db) as session:
        customers = all_customers(session)
        until = today + timedelta(days=30)
        if code is not None:
            customer = ledger.customer_by_code(session, code)
            assert customer.id is not None
            positions = ledger.positions(session, on=today, until=until, customer_ids=[customer.id])
            positions.setdefault(customer.id, ledger.Position(0, 0, 0, None))
        else:
            positions = ledger.positions(session, on=today, until=until)
            positions = {cid: p for cid, p in positions.items() if cid in customers}  # not removed ones
    rows = [
        {
            "code": customers[cid].code,
            "name": customers[cid].name,
            "balance": position.balance,
            "available": position.available,
            "expiring_30_days": position.expiring,
        }
        for cid, position in sorted(positions.items(), key=lambda item: customers[item[0]].code)
    ]
    if output is Format.json:
        emit_json({"as_of": today.isoformat(), "customers": rows})
    elif output is Format.csv:
        emit_csv(rows)
    elif not rows:
        render.message("No points posted yet. Run `cpm award` after importing orders.")
    else:
        table = Table(title=f"Points on {today}", title_justify="left")
        for name in ("code", "name", "balance", "available", "expiring in 30 days"):
            table.add_column(name, justify="left" if name in ("code", "name") else "right")
        for row in rows:
            table.add_row(
                str(row["code"]),
                str(row["name"] or ""),
                f"{row['balance']:,}",
                f"{row['available']:,}",
                f"{row['expiring_30_days']:,}",
            )
        render.out.print(table)


@app.command("history")
def history(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(metavar="CODE", help="The customer code.")],
    output: FormatOpt = Format.table,
) -> None:
    """Every ledger row of one customer, oldest first, with the running balance."""
    state: State = ctx.obj
    with session_scope(state.db) as session:
        customer = ledger.customer_by_code(session, code)
        assert customer.id is not None
        entries = ledger.history(session, customer.id)
        orders = ledger.order_numbers(session, [e.order_id for e in entries if e.order_id is not None])
    running = 0
    rows = []
    for e in entries:
        running += e.points
        rows.append(
            {
                "id": e.id,
                "date": e.effective_on.isoformat(),
                "kind": e.kind,
                "points": e.points,
                "balance": running,
                "order_no": orders.get(e.order_id) if e.order_id else None,
                "expires_on": e.expires_on.isoformat() if e.expires_on else None,
                "note": e.note,
                "key": e.natural_key,
                "rules_version": e.rules_version,
            }
        )
    if output is Format.json:
        emit_json({"customer": code, "entries": rows})
    elif output is Format.csv:
        emit_csv(rows)
    else:
        table = Table(title=f"Points history of {code}", title_justify="left")
        for name in ("date", "kind", "points", "balance", "order", "expires", "note"):
            table.add_column(name, justify="right" if name in ("points", "balance") else "left")
        for row in rows:
            table.add_row(
                str(row["date"]),
                str(row["kind"]),
                f"{row['points']:+,}",
                f"{row['balance']:,}",
                str(row["order_no"] or ""),
                str(row["expires_on"] or ""),
                str(row["note"] or ""),
            )
        render.out.print(table)


def _manual_result(state: State, verb: str, code: str, result: ledger.ManualResult) -> None:
    if state.quiet:
        return
    if result.already_recorded:
        render.message(f"Already recorded (key {result.entry.natural_key}); nothing posted again.")
    else:
        render.message(f"{verb} {result.entry.points:+,} points for {code}.")
    render.out.print(f"{code}: balance {result.balance:,}, available {result.available:,}", markup=False)


@app.command("redeem")
def redeem(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(metavar="CODE")],
    points: Annotated[
        int, typer.Argument(metavar="N", min=1, help=f"Points to spend, 1 to {ledger.MAX_MANUAL_POINTS:,}.")
    ],
    reason: ReasonOpt,
    key: KeyOpt = None,
) -> None:
    """Spend N points of a customer (refused beyond the available balance)."""
    state: State = ctx.obj
    with session_scope(state.db, write=True) as session:
        result = ledger.redeem(
            session, state.settings, code=code, points=points, reason=reason, on=date.today(), key=key
        )
    _manual_result(state, "Redeemed", code, result)


@app.command("adjust", context_settings={"ignore_unknown_options": True})
def adjust(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(metavar="CODE")],
    points: Annotated[
        int,
        typer.Argument(
            metavar="±N",
            help=f"Points to add (+N) or take away (-N), at most {ledger.MAX_MANUAL_POINTS:,} either way.",
        ),
    ],
    reason: ReasonOpt,
    key: KeyOpt = None,
) -> None:
    """Add or take away points by hand, with a reason."""
    state: State = ctx.obj
    with session_scope(state.db, write=True) as session:
        result = ledger.adjust(
            session, state.settings, code=code, points=points, reason=reason, on=date.today(), key=key
        )
    _manual_result(state, "Adjusted", code, result)


MAX_WITHIN_DAYS = MAX_DAYS  # 100 years: every lot expires within that


def _days(value: str) -> int:
    shown = quoted_argument(value)
    match = re.fullmatch(r"\s*([0-9]+)\s*([dw]?)\s*", value, flags=re.IGNORECASE)
    if not match:
        raise typer.BadParameter(f"{shown} is not a span such as 30d or 2w")
    digits = match.group(1).lstrip("0") or "0"
    too_far = f"{shown} is too far ahead; give at most {MAX_WITHIN_DAYS:,} days"
    if len(digits) > 9:  # read no number of a thousand digits
        raise typer.BadParameter(too_far)
    days = int(digits) * (7 if match.group(2).lower() == "w" else 1)
    if days > MAX_WITHIN_DAYS:
        raise typer.BadParameter(too_far)
    return days


@app.command("expiring")
def expiring(
    ctx: typer.Context,
    within: Annotated[
        str,
        typer.Option(
            "--within", help=f"How far ahead: 30d, 2w, or a number of days (0 to {MAX_WITHIN_DAYS:,} days)."
        ),
    ] = "30d",
    output: FormatOpt = Format.table,
) -> None:
    """Points that will expire soon, by customer and date: time to remind those customers."""
    state: State = ctx.obj
    today = date.today()
    until = today + timedelta(days=_days(within))
    with session_scope(state.db) as session:
        customers = all_customers(session)
        lots = ledger.expiring(session, on=today, until=until)
        lots = [lot for lot in lots if lot.customer_id in customers]  # not removed ones
    rows = [
        {
            "code": customers[lot.customer_id].code,
            "name": customers[lot.customer_id].name,
            "expires_on": lot.expires_on.isoformat(),
            "points": lot.points,
        }
        for lot in lots
    ]
    if output is Format.json:
        emit_json({"from": today.isoformat(), "until": until.isoformat(), "lots": rows})
    elif output is Format.csv:
        emit_csv(rows)
    elif not rows:
        render.message(f"No points expire before {until}.")
    else:
        table = Table(title=f"Points expiring before {until}", title_justify="left")
        for name in ("expires", "code", "name", "points"):
            table.add_column(name, justify="right" if name == "points" else "left")
        for row in rows:
            table.add_row(
                str(row["expires_on"]), str(row["code"]), str(row["name"] or ""), f"{row['points']:,}"
            )
        render.out.print(table)
        render.out.print(f"{sum(lot.points for lot in lots):,} points in {len(rows):,} lots", markup=False)
