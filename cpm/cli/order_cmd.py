"""`cpm order void ORDER_NO --reason …`."""

from __future__ import annotations

from typing import Annotated

import typer

from cpm.cli import render
from cpm.cli.report_data import money
from cpm.cli.state import State
from cpm.db import session_scope
from cpm.services import order_corrections

app = typer.Typer(help="Correct one order by hand.", no_args_is_help=True)

MAX_REASON = 500


def checked_reason(value: str | None, *, required: bool) -> str | None:
    """A --reason as given, refused when blank (if required) or longer than MAX_REASON characters."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        if required:
            raise typer.BadParameter(
                'must say why, e.g. --reason "customer cancelled by phone"', param_hint="--reason"
            )
        return None
    if len(text) > MAX_REASON:
        raise typer.BadParameter(
            f"is {len(text):,} characters long; at most {MAX_REASON} are kept", param_hint="--reason"
        )
    return text


@app.command("void")
def void(
    ctx: typer.Context,
    order_no: Annotated[
        str, typer.Argument(metavar="ORDER_NO", help="The order's number.", show_default=False)
    ],
    reason: Annotated[
        str, typer.Option("--reason", help="Why the order is voided (required; kept with the correction).")
    ],
) -> None:
    """Cancel one order: its net amount becomes 0, and the next `cpm award` takes back its points.

    A later import that lists the order with a status (completed, …) sets that status again.
    """
    state: State = ctx.obj
    why = checked_reason(reason, required=True)
    assert why is not None
    with session_scope(state.db, write=True) as session:
        voided = order_corrections.void_order(session, order_no, reason=why)
    if not state.quiet:
        render.message(
            f"Voided order {voided.order_no} of {voided.customer_code}: {voided.old_status} → cancelled, "
            f"net {money(voided.old_net)} → 0.00. Run `cpm award` to take back its points."
        )
