"""Merging the lines of one order_no into one order, and what its net amount is.

Rules (README, "Orders"): amounts, refunds and quantities add up; customer and date must agree
on every line. The order's status is the liveliest of its lines (completed > refunded >
cancelled). A refunded line without a refunded amount is refunded in full; so is a cancelled
line inside an order that is otherwise live. A cancelled order's net amount is 0.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from cpm.io.values import CANCELLED, COMPLETED, REFUNDED
from cpm.services.import_batch import ImportPass
from cpm.services.rows import ParsedRow

_BIT = {COMPLETED: 1, REFUNDED: 2, CANCELLED: 4}
ANOTHER_LINE_BAD = "another line of the same order is invalid"


class OrderDraft:
    """The lines of one order_no seen so far. Slotted: a million of these must fit in memory."""

    __slots__ = (
        "first_row",
        "more_rows",
        "customer_code",
        "order_date",
        "amount",
        "given_refund",
        "implied_refund",
        "quantity",
        "statuses",
        "channel",
        "sales_rep",
        "customer_name",
        "bad",
    )

    def __init__(self, first_row: int, customer_code: str | None, order_date: date | None) -> None:
        self.first_row = first_row
        self.more_rows: list[int] | None = None
        self.customer_code = customer_code
        self.order_date = order_date
        self.amount = 0
        self.given_refund = 0
        self.implied_refund = 0
        self.quantity: int | None = None
        self.statuses = 0
        self.channel: str | None = None
        self.sales_rep: str | None = None
        self.customer_name: str | None = None
        self.bad = False

    def rows(self) -> list[int]:
        return [self.first_row, *(self.more_rows or ())]

    def status(self) -> str:
        if self.statuses & 1 or not self.statuses:
            return COMPLETED
        return REFUNDED if self.statuses & 2 else CANCELLED

    def refunded_amount(self) -> int:
        if self.status() == CANCELLED:
            return self.given_refund
        return self.given_refund + self.implied_refund

    def net_amount(self) -> int:
        return 0 if self.status() == CANCELLED else self.amount - self.refunded_amount()

    def add(self, values: dict[str, Any], shared: dict[Any, Any]) -> None:
        amount = values["amount"]
        self.amount += amount
        status = values.get("status") or COMPLETED
        self.statuses |= _BIT[status]
        refund = values.get("refunded_amount")
        if refund is not None:
            self.given_refund += refund
        elif status != COMPLETED:
            self.implied_refund += amount
        quantity = values.get("quantity")
        if quantity is not None:
            self.quantity = (self.quantity or 0) + quantity
        # Repeated texts (channel, rep, name) share one string object instead of a million copies.
        if self.channel is None and values.get("channel") is not None:
            self.channel = shared.setdefault(values["channel"], values["channel"])
        if self.sales_rep is None and values.get("sales_rep") is not None:
            self.sales_rep = shared.setdefault(values["sales_rep"], values["sales_rep"])
        if self.customer_name is None and values.get("customer_name") is not None:
            self.customer_name = shared.setdefault(values["customer_name"], values["customer_name"])


def merge_order_lines(check: ImportPass) -> dict[str, OrderDraft]:
    """Read every line once and merge lines by order_no, recording every problem on `check`."""
    drafts: dict[str, OrderDraft] = {}
    shared: dict[Any, Any] = {}
    bad = check.bad
    for row in check.rows():
        _merge_line(row, drafts, shared, check)
    for order_no, draft in drafts.items():
        if draft.bad or any(n in bad for n in draft.rows()):
            draft.bad = True
            continue
        if draft.amount < 0:
            check.problem(
                draft.first_row,
                "amount",
                f"{draft.amount / 100:.2f}",
                f"order {order_no} adds up to a negative amount; "
                "record refunds as a status or a refunded amount",
            )
            draft.bad = True
        elif draft.refunded_amount() > draft.amount:
            check.problem(
                draft.first_row,
                "refunded_amount",
                f"{draft.refunded_amount() / 100:.2f}",
                f"order {order_no} refunds more than its amount {draft.amount / 100:.2f}",
            )
            draft.bad = True
    if check.request.skip_invalid:
        # A bad line condemns its whole order: storing the other lines would store a wrong total.
        for order_no, draft in drafts.items():
            if draft.bad:
                for number in draft.rows():
                    if number not in bad:
                        check.problem(number, "order_no", order_no, ANOTHER_LINE_BAD)
    return drafts


def _merge_line(
    row: ParsedRow, drafts: dict[str, OrderDraft], shared: dict[Any, Any], check: ImportPass
) -> None:
    values = row.values
    order_no = values["order_no"]
    if order_no is None:
        return
    draft = drafts.get(order_no)
    if draft is None:
        code = values["customer_code"]
        draft = OrderDraft(row.number, shared.setdefault(code, code), values["order_date"])
        drafts[order_no] = draft
    else:
        if draft.more_rows is None:
            draft.more_rows = []
        draft.more_rows.append(row.number)
        if not row.problems:
            for name, mine in (("customer_code", draft.customer_code), ("order_date", draft.order_date)):
                theirs = values[name]
                if mine is not None and theirs != mine:
                    shown = mine.isoformat() if isinstance(mine, date) else mine
                    check.problem(
                        row.number,
                        name,
                        theirs,
                        f"order {order_no} has {name} {shown} on row {draft.first_row}; "
                        "all lines of one order must agree",
                    )
    if row.number in check.bad:
        draft.bad = True
        return
    draft.add(values, shared)
