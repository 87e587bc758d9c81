"""`cpm customer show|edit|merge|remove|forget|list|find`: one customer's card, and correcting customers
(list and find are in customer_list_cmd)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from cpm.cli import customer_list_cmd, render, report_data, report_render
from cpm.cli.order_cmd import checked_reason
from cpm.cli.render import emit_csv, emit_json
from cpm.cli.report_cmd import (
    AllTime,
    AsOf,
    Format,
    FormatOpt,
    WindowDays,
    options_from,
    p_alive_by_customer,
    quoted_argument,
)
from cpm.cli.state import State
from cpm.db import session_scope
from cpm.io.values import BadValue
from cpm.services import customer_edits, customer_merge, reports
from cpm.services.customers import TIER_NAMES

app = typer.Typer(
    help="One customer's card; correct, merge, remove or forget a customer; list and find customers.",
    no_args_is_help=True,
)

CodeArg = Annotated[str, typer.Argument(metavar="CODE", help="The customer code.", show_default=False)]
ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why (kept with the correction).")]


@app.command("show")
def show(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(metavar="CODE", help="The customer code.")],
    as_of: AsOf = None,
    window_days: WindowDays = None,
    all_time: AllTime = False,
    output: FormatOpt = Format.table,
) -> None:
    """Details, KPIs, ABC class, RFM scores and segment, tier and its history, churn status, last orders."""
    state: State = ctx.obj
    settings = state.settings
    options = options_from(state, as_of=as_of, window_days=window_days, all_time=all_time)
    with session_scope(state.db, write=True) as session:
        card = reports.customer_card(session, settings, options, code)
        alive = p_alive_by_customer(session, options, note=False)
        data = report_data.with_p_alive(report_data.customer_data(card.row), alive.get(card.row.info.id))
        data["phone"] = card.customer.phone
        data["email"] = card.customer.email
        data["joined_on"] = card.customer.joined_on.isoformat() if card.customer.joined_on else None
        data["birthday"] = card.customer.birthday.isoformat() if card.customer.birthday else None
        history = [
            {
                "effective_on": h.effective_on.isoformat(),
                "tier": h.tier,
                "previous_tier": h.previous_tier,
                "spend": report_data.money(h.spend),
            }
            for h in card.history
        ]
        orders = [
            {
                "order_no": o.order_no,
                "order_date": o.order_date.isoformat(),
                "amount": report_data.money(o.amount),
                "net_amount": report_data.money(o.net_amount),
                "status": o.status,
            }
            for o in card.last_orders
        ]
    if output is Format.json:
        emit_json(
            {
                "as_of": options.as_of.isoformat(),
                "customer": data,
                "tier_history": history,
                "last_orders": orders,
            }
        )
        return
    if output is Format.csv:
        emit_csv([data])
        return
    out = render.out
    out.print(
        render.styled(
            (data["code"], "bold"),
            f" {data['name'] or ''} — {TIER_NAMES[card.row.tier]}, class {data['abc']}",
        )
    )
    for label, key in (
        ("city", "city"),
        ("sales rep", "sales_rep"),
        ("phone", "phone"),
        ("email", "email"),
        ("joined", "joined_on"),
        ("birthday", "birthday"),
        ("first order", "first_order"),
        ("last order", "last_order"),
        ("orders (window)", "window_orders"),
        ("lifetime orders", "lifetime_orders"),
    ):
        out.print(f"  {label:<18}{data[key] if data[key] is not None else report_render.DASH}", markup=False)
    out.print(
        f"  {'spend (window)':<18}{report_render.show_money(card.row.window_revenue, settings)}", markup=False
    )
    out.print(
        f"  {'lifetime spend':<18}{report_render.show_money(card.row.lifetime_revenue, settings)}",
        markup=False,
    )
    if card.row.rfm:
        rfm = card.row.rfm
        out.print(f"  {'RFM':<18}R{rfm.r} F{rfm.f} M{rfm.m} — {rfm.segment}", markup=False)
    rhythm = card.row.rhythm
    if rhythm:
        gap = f"{float(rhythm.median_gap):g} days" if rhythm.median_gap is not None else "one purchase day"
        out.print(
            f"  {'status':<18}{rhythm.status.replace('_', ' ')} "
            f"({rhythm.days_since_last} days since the last "
            f"order; usual gap {gap})",
            markup=False,
        )
        alive_text = report_render.DASH if data["p_alive"] is None else f"{data['p_alive']:.2f}"
        out.print(f"  {'P(alive)':<18}{alive_text} (BG/NBD)", markup=False)
    if history:
        out.print("  tier history:")
        for h in history:
            out.print(
                f"    {h['effective_on']}  {h['previous_tier']} → {h['tier']} (spend {h['spend']})",
                markup=False,
            )
    if orders:
        out.print("  last orders:")
        for o in orders:
            out.print(
                f"    {o['order_date']}  {o['order_no']:<16} {o['net_amount']:>10}  {o['status']}",
                markup=False,
            )


# --- corrections --------------------------------------------------------------------------------


def _detail(option: str, field: str, value: str | None) -> dict[str, str | date | None]:
    if value is None:
        return {}
    try:
        return {field: customer_edits.parse_detail(field, value)}
    except BadValue as exc:
        raise typer.BadParameter(f"{quoted_argument(value)} {exc}", param_hint=option) from exc


def _shown(value: str | None) -> str:
    return "(empty)" if value is None else quoted_argument(value)


def _option(text: str, *, help: str) -> Any:
    return typer.Option(text, help=help, show_default=False)


@app.command("edit")
def edit(
    ctx: typer.Context,
    code: CodeArg,
    name: Annotated[str | None, _option("--name", help="The name.")] = None,
    phone: Annotated[str | None, _option("--phone", help="The phone number.")] = None,
    email: Annotated[str | None, _option("--email", help="The e-mail address.")] = None,
    city: Annotated[str | None, _option("--city", help="The city.")] = None,
    birthday: Annotated[
        str | None, _option("--birthday", help="Birthday (YYYY-MM-DD, or as imports read).")
    ] = None,
    joined_on: Annotated[str | None, _option("--joined-on", help="The day they joined (YYYY-MM-DD).")] = None,
    rep: Annotated[str | None, _option("--rep", help="The sales rep.")] = None,
    tags: Annotated[str | None, _option("--tags", help="Tags, as one text.")] = None,
    reason: ReasonOpt = None,
) -> None:
    """Correct a customer's details; each change is recorded with the old value, the time and --reason.

    An empty value clears a detail: --city "". A detail given its current value changes nothing.
    """
    state: State = ctx.obj
    values: dict[str, str | date | None] = {}
    for option, field, value in (
        ("--name", "name", name),
        ("--phone", "phone", phone),
        ("--email", "email", email),
        ("--city", "city", city),
        ("--birthday", "birthday", birthday),
        ("--joined-on", "joined_on", joined_on),
        ("--rep", "sales_rep", rep),
        ("--tags", "tags", tags),
    ):
        values.update(_detail(option, field, value))
    if not any(v is not None for v in (name, phone, email, city, birthday, joined_on, rep, tags)):
        raise typer.BadParameter(
            "say what to change, e.g. --name, --phone, --city (an empty value clears a detail)",
            param_hint="CODE",
        )
    why = checked_reason(reason, required=False)
    with session_scope(state.db, write=True) as session:
        result = customer_edits.edit_customer(session, code=code, values=values, reason=why)
    if state.quiet:
        return
    for change in result.changed:
        render.out.print(
            f"{result.code}: {change.field} {_shown(change.old)} → {_shown(change.new)}", markup=False
        )
    if result.unchanged:
        render.message(f"{result.code}: {', '.join(result.unchanged)} already had that value; unchanged")
    if not result.changed:
        render.message("Nothing changed.")


@app.command("merge")
def merge(
    ctx: typer.Context,
    old: Annotated[str, typer.Argument(metavar="OLD", help="The duplicate's code.", show_default=False)],
    new: Annotated[str, typer.Argument(metavar="NEW", help="The code to keep.", show_default=False)],
    reason: ReasonOpt = None,
) -> None:
    """Merge customer OLD into NEW: OLD's orders, points (as new ledger rows) and tier history move to
    NEW, and OLD's code names NEW from now on (imports under it land on NEW)."""
    state: State = ctx.obj
    why = checked_reason(reason, required=False)
    with session_scope(state.db, write=True) as session:
        result = customer_merge.merge_customers(
            session, state.settings, old_code=old, new_code=new, reason=why, today=date.today()
        )
    if state.quiet:
        return
    moved = (
        f"{result.orders:,} order{'s' if result.orders != 1 else ''}, "
        f"{result.points:,} points in {result.lots:,} lot{'s' if result.lots != 1 else ''} "
        f"and {result.tier_changes:,} tier change{'s' if result.tier_changes != 1 else ''} moved"
    )
    render.out.print(f"Merged {result.old_code} into {result.new_code}: {moved}.", markup=False)
    if result.tier_changes_kept:
        render.message(
            f"{result.tier_changes_kept:,} tier change(s) of {result.old_code} stay with it: "
            f"{result.new_code} has its own on that day."
        )
    render.message(
        f"{', '.join(result.codes)} now name{'s' if len(result.codes) == 1 else ''} {result.new_code}."
    )


@app.command("remove")
def remove(ctx: typer.Context, code: CodeArg, reason: ReasonOpt = None) -> None:
    """Delete a customer that nothing refers to (no order, no ledger row, no tier change); refused,
    saying what refers to it, otherwise."""
    state: State = ctx.obj
    why = checked_reason(reason, required=False)
    with session_scope(state.db, write=True) as session:
        removed = customer_edits.remove_customer(session, code=code, reason=why)
    if not state.quiet:
        render.out.print(f"Removed customer {removed}.", markup=False)


@app.command("forget")
def forget(ctx: typer.Context, code: CodeArg, reason: ReasonOpt = None) -> None:
    """Erase a customer's personal data (name, phone, e-mail, birthday, city, tags) at their request;
    the code, orders and points stay. Imports leave it erased (unless --restore-forgotten)."""
    state: State = ctx.obj
    why = checked_reason(reason, required=False)
    with session_scope(state.db, write=True) as session:
        result = customer_edits.forget_customer(session, code=code, reason=why)
    if state.quiet:
        return
    if result.already_forgotten:
        render.message(f"{result.code} is already forgotten; nothing to erase.")
        return
    erased = f"erased {', '.join(result.erased)}" if result.erased else "no personal data was stored"
    render.out.print(f"Forgot {result.code}: {erased}. Its code, orders and points stay.", markup=False)


app.command("list")(customer_list_cmd.list_command)
app.command("find")(customer_list_cmd.find)
