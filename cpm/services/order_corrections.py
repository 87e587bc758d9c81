"""`cpm order void ORDER_NO`: cancel one order by hand, recorded with its reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from cpm.errors import Conflict, NotFound
from cpm.io.text import CodeError, normalise_code
from cpm.models import Correction, Customer, Order

CANCELLED = "cancelled"


@dataclass(frozen=True)
class Voided:
    order_no: str
    customer_code: str
    old_status: str
    old_net: int  # cents


def find_order(session: Session, order_no: str) -> Order:
    """The stored order an order number names (in its normal form, as imports read it); an order
    taken back by an undone import is not found."""
    hint = "Check the number, e.g. in the customer's card: `cpm customer show CODE`."
    try:
        normal = normalise_code(order_no)
    except CodeError as exc:
        raise NotFound(f"no order with number {order_no!r}: the number {exc}", hint=hint) from exc
    order = session.exec(
        select(Order).where(Order.order_no == normal, col(Order.removed_at).is_(None))
    ).first()
    if order is None:
        raise NotFound(f"no order with number {order_no!r}", hint=hint)
    return order


def void_order(session: Session, order_no: str, *, reason: str) -> Voided:
    """Set the order cancelled (net 0) and record the correction with the old status.

    The next `cpm award` reverses the points it earned, as for a refund. A later import that
    lists the order with a status brings that status back: the file speaks last.
    """
    order = find_order(session, order_no)
    if order.status == CANCELLED:
        raise Conflict(
            f"order {order.order_no} is already cancelled",
            hint="Nothing to void; `cpm customer show CODE` lists the customer's orders.",
        )
    customer = session.get(Customer, order.customer_id)
    voided = Voided(
        order_no=order.order_no,
        customer_code=customer.customer_code if customer is not None else "",
        old_status=order.status,
        old_net=order.net_amount,
    )
    session.add(
        Correction(
            action="void",
            customer_id=order.customer_id,
            order_id=order.id,
            field="status",
            old_value=order.status,
            new_value=CANCELLED,
            reason=reason,
            made_at=datetime.now(UTC),
        )
    )
    order.status = CANCELLED
    order.net_amount = 0
    session.add(order)
    session.flush()
    return voided
