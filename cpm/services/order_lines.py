"""Merging the lines of one order_no into one order, and what its net amount is.

Rules (README, "Orders"): amounts, refunds and quantities add up; customer and date must agree
on every line. The order's status is the liveliest of its lines (completed > refunded >
pending > cancelled). A refunded line without a refunded amount is refunded in full; so is a
cancelled or pending line inside an order that is otherwise live. A cancelled or pending order's
net amount is 0. An order may
add up to no more than one cell may hold, so totals stay far inside SQLite's integers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from itertools import repeat
from operator import add, gt, is_, itemgetter, mul, sub
from typing import Any

from cpm.io.values import CANCELLED, COMPLETED, NUMBER_LIMIT, PENDING, REFUNDED
from cpm.services.import_batch import ImportPass
from cpm.services.rows import ParsedChunk

_BIT = {None: 1, COMPLETED: 1, REFUNDED: 2, CANCELLED: 4, PENDING: 8}  # a blank status is completed
# The order's status from the bits of its lines' statuses: the liveliest one.
_STATUS_OF_BITS = [
    COMPLETED if bits & 1 or not bits else REFUNDED if bits & 2 else PENDING if bits & 8 else CANCELLED
    for bits in range(16)
]
# An order's status as a factor: 0 if cancelled or pending (awaiting payment: counted nowhere).
_LIVE = {COMPLETED: 1, REFUNDED: 1, CANCELLED: 0, PENDING: 0}
# A line refunds all of its amount when its status says so and it gives no refunded amount.
_REFUNDS_ALL = {None: 0, COMPLETED: 0, REFUNDED: 1, CANCELLED: 1, PENDING: 1}
ANOTHER_LINE_BAD = "another line of the same order is invalid"
LARGEST_AMOUNT = "9,999,999,999,999.99"


def _picker(positions: list[int]) -> Callable[[Sequence[Any]], Sequence[Any]]:
    """Takes the values at `positions` from a column, in C rather than a Python loop."""
    if len(positions) == 1:
        only = positions[0]
        return lambda column: (column[only],)
    return itemgetter(*positions)


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


class MergedOrders:
    """Every order_no of a file with its lines merged: one entry per order in parallel lists.

    A million orders fit in memory as lists of plain values, and whole columns of a chunk's
    single-line orders are appended at once.
    """

    def __init__(self) -> None:
        self.position: dict[str, int] = {}  # order_no -> its index in the lists below
        self.order_nos: list[str] = []
        self.first_rows: list[int] = []
        self.more_rows: dict[int, list[int]] = {}
        self.customer_codes: list[str | None] = []
        self.order_dates: list[date | None] = []
        self.amounts: list[int] = []
        self.given_refunds: list[int] = []
        self.implied_refunds: list[int] = []
        self.quantities: list[int | None] = []
        self.status_bits: list[int] = []
        self.channels: list[str | None] = []
        self.sales_reps: list[str | None] = []
        self.customer_names: list[str | None] = []
        self.bad: set[int] = set()

    def __len__(self) -> int:
        return len(self.order_nos)

    def rows(self, index: int) -> list[int]:
        return [self.first_rows[index], *self.more_rows.get(index, ())]

    def statuses(self) -> list[str]:
        return list(map(_STATUS_OF_BITS.__getitem__, self.status_bits))

    def refunded_amounts(self, statuses: list[str]) -> list[int]:
        """The refunds given, plus those the lines imply unless the order is cancelled."""
        implied = map(mul, self.implied_refunds, map(_LIVE.__getitem__, statuses))
        return list(map(add, self.given_refunds, implied))

    def net_amounts(self, statuses: list[str], refunded: list[int]) -> list[int]:
        """Amount less refunds; 0 for a cancelled or pending order."""
        return list(map(mul, map(sub, self.amounts, refunded), map(_LIVE.__getitem__, statuses)))

    def _new_order(self, order_no: str, row: int, customer_code: str | None, order_date: date | None) -> int:
        index = len(self.order_nos)
        self.position[order_no] = index
        self.order_nos.append(order_no)
        self.first_rows.append(row)
        self.customer_codes.append(customer_code)
        self.order_dates.append(order_date)
        self.amounts.append(0)
        self.given_refunds.append(0)
        self.implied_refunds.append(0)
        self.quantities.append(None)
        self.status_bits.append(0)
        self.channels.append(None)
        self.sales_reps.append(None)
        self.customer_names.append(None)
        return index

    def merge_chunk(self, chunk: ParsedChunk, check: ImportPass) -> None:
        """Merge a chunk's lines; the problems found go to `check`."""
        columns = chunk.columns
        numbers = chunk.numbers
        count = len(numbers)
        nothing: list[Any] = [None] * count
        order_nos = columns["order_no"]
        lines = (
            order_nos,
            columns["customer_code"],
            columns["order_date"],
            columns["amount"],
            columns.get("quantity", nothing),
            columns.get("status", nothing),
            columns.get("refunded_amount", nothing),
            columns.get("channel", nothing),
            columns.get("sales_rep", nothing),
            columns.get("customer_name", nothing),
        )
        # The first line of an order new to the file, from a row without problems, starts the
        # order as it is: those go in whole columns at once. Other lines go one by one, in order.
        first_at = dict(zip(reversed(order_nos), range(count - 1, -1, -1), strict=True))
        first_at.pop(None, None)
        for order_no in first_at.keys() & self.position.keys():
            del first_at[order_no]
        problems = chunk.problems
        if problems:
            for order_no, at in list(first_at.items()):
                if numbers[at] in problems:
                    del first_at[order_no]
        starting = sorted(first_at.values())
        if starting:
            self._start_orders(
                numbers,
                lines,
                starting,
                has_status="status" in columns,
                has_refund="refunded_amount" in columns,
            )
        for at in sorted(set(range(count)).difference(starting)):
            if order_nos[at] is not None:
                self._merge_line(numbers[at], [column[at] for column in lines], problems, check)

    def _start_orders(
        self,
        numbers: list[int],
        lines: tuple[list[Any], ...],
        starting: list[int],
        *,
        has_status: bool,
        has_refund: bool,
    ) -> None:
        pick = _picker(starting)
        order_nos, codes, dates, amounts, quantities, statuses, refunds, channels, reps, names = map(
            pick, lines
        )
        start = len(self.order_nos)
        self.position.update(zip(order_nos, range(start, start + len(starting)), strict=True))
        self.order_nos.extend(order_nos)
        self.first_rows.extend(pick(numbers))
        self.customer_codes.extend(codes)
        self.order_dates.extend(dates)
        self.amounts.extend(amounts)
        self.quantities.extend(quantities)
        self.channels.extend(channels)
        self.sales_reps.extend(reps)
        self.customer_names.extend(names)
        self.status_bits.extend(map(_BIT.__getitem__, statuses))
        if has_refund:
            self.given_refunds.extend([0 if refund is None else refund for refund in refunds])
        else:
            self.given_refunds.extend(repeat(0, len(starting)))
        if has_status:
            refunds_all = map(mul, map(_REFUNDS_ALL.__getitem__, statuses), map(is_, refunds, repeat(None)))
            self.implied_refunds.extend(map(mul, amounts, refunds_all))
        else:
            self.implied_refunds.extend(repeat(0, len(starting)))

    def _merge_line(self, number: int, line: list[Any], problems: dict[int, Any], check: ImportPass) -> None:
        order_no, code, order_date, amount, quantity, status, refund, channel, rep, name = line
        index = self.position.get(order_no)
        if index is None:
            index = self._new_order(order_no, number, code, order_date)
        else:
            self.more_rows.setdefault(index, []).append(number)
            if number not in problems:
                first_row = self.first_rows[index]
                for field_name, mine, theirs in (
                    ("customer_code", self.customer_codes[index], code),
                    ("order_date", self.order_dates[index], order_date),
                ):
                    if mine is not None and theirs != mine:
                        shown = mine.isoformat() if isinstance(mine, date) else mine
                        check.problem(
                            number,
                            field_name,
                            theirs,
                            f"order {order_no} has {field_name} {shown} on row {first_row}; "
                            "all lines of one order must agree",
                        )
        if number in check.bad:
            self.bad.add(index)
            return
        self.amounts[index] += amount
        self.status_bits[index] |= _BIT[status]
        if refund is not None:
            self.given_refunds[index] += refund
        elif status is not None and status != COMPLETED:
            self.implied_refunds[index] += amount
        if quantity is not None:
            self.quantities[index] = (self.quantities[index] or 0) + quantity
        if self.channels[index] is None:
            self.channels[index] = channel
        if self.sales_reps[index] is None:
            self.sales_reps[index] = rep
        if self.customer_names[index] is None:
            self.customer_names[index] = name

    def check_totals(self, check: ImportPass) -> None:
        """Refuse orders adding up to a negative amount or refund, a refund above the amount, or too much."""
        statuses = self.statuses()
        refunded = self.refunded_amounts(statuses)
        amounts, quantities = self.amounts, self.quantities
        if not (
            min(amounts, default=0) < 0
            or max(amounts, default=0) >= NUMBER_LIMIT
            or any(map(gt, refunded, amounts))
            or min(refunded, default=0) < 0
            or max(filter(None, quantities), default=0) >= NUMBER_LIMIT
        ):
            return
        for index, order_no in enumerate(self.order_nos):
            if index in self.bad:
                continue
            first_row, amount, refund = self.first_rows[index], amounts[index], refunded[index]
            if amount < 0:
                check.problem(
                    first_row,
                    "amount",
                    f"{amount / 100:.2f}",
                    f"order {order_no} adds up to a negative amount; "
                    "record refunds as a status or a refunded amount",
                )
                self.bad.add(index)
            elif amount >= NUMBER_LIMIT:
                check.problem(
                    first_row,
                    "amount",
                    _money(amount),
                    f"order {order_no} adds up to more than an order may hold (at most {LARGEST_AMOUNT})",
                )
                self.bad.add(index)
            elif refund > amount:
                check.problem(
                    first_row,
                    "refunded_amount",
                    f"{refund / 100:.2f}",
                    f"order {order_no} refunds more than its amount {amount / 100:.2f}",
                )
                self.bad.add(index)
            elif refund < 0:
                check.problem(
                    first_row,
                    "refunded_amount",
                    f"{refund / 100:.2f}",
                    f"order {order_no} refunds a negative amount; a refund must be 0 or more",
                )
                self.bad.add(index)
            quantity = quantities[index]
            if quantity is not None and quantity >= NUMBER_LIMIT:
                check.problem(
                    first_row,
                    "quantity",
                    quantity,
                    f"order {order_no} adds up to more items than an order may hold "
                    f"(at most {NUMBER_LIMIT - 1:,})",
                )
                self.bad.add(index)


def merge_order_lines(check: ImportPass) -> MergedOrders:
    """Read every line once and merge lines by order_no, recording every problem on `check`."""
    orders = MergedOrders()
    for chunk in check.chunks():
        orders.merge_chunk(chunk, check)
    orders.check_totals(check)
    bad = check.bad
    if check.request.skip_invalid:
        # A bad line condemns its whole order: storing the other lines would store a wrong total.
        for index in sorted(orders.bad):
            for number in orders.rows(index):
                if number not in bad:
                    check.problem(number, "order_no", orders.order_nos[index], ANOTHER_LINE_BAD)
    return orders
