"""Correcting customers: edit a detail, remove one nothing refers to, forget one's personal data.

Each correction is recorded in `corrections` with its time and reason; an edit records one row
per changed field with the old and the new value as text. Merging is in customer_merge.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from cpm.errors import Conflict
from cpm.io.text import describe_character, hidden_character
from cpm.io.values import BadValue, clean_text, parse_date
from cpm.models import Correction, Customer, CustomerAlias, Order, PointsEntry, RowChange, TierChange
from cpm.services import ledger

# Editable fields, in the order a card shows them; dates are dates, the rest text.
EDITABLE = ("name", "phone", "email", "city", "birthday", "joined_on", "sales_rep", "tags")
DATE_FIELDS = ("birthday", "joined_on")
# What `forget` erases: everything that says who the person is. The code, the dates they joined
# and the sales rep (the shop's own data) stay, and so do the orders and points.
PERSONAL = ("name", "phone", "email", "birthday", "city", "tags")
MAX_TEXT = 200  # characters in a detail typed on the command line
_PHONE_CHARACTERS = re.compile(r"[0-9 +\-().]+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
CODE_HINT = "Check the code, e.g. with `cpm customer find`."


def parse_detail(name: str, text: str) -> str | date | None:
    """A detail as given on the command line, checked as an import checks its cell: a date as
    import files write them, text trimmed, without invisible characters and at most MAX_TEXT
    long; a phone of digits (with spaces, +, -, brackets), an e-mail with an @. An empty text
    clears the detail (None). Raises BadValue with what was expected."""
    value = clean_text(text)
    if not value:
        return None
    if name in DATE_FIELDS:
        return parse_date(value)
    value = unicodedata.normalize("NFC", value)
    bad = hidden_character(value)
    if bad is not None:
        raise BadValue(f"holds an invisible character {describe_character(bad)}; retype it without")
    if len(value) > MAX_TEXT:
        raise BadValue(f"is {len(value):,} characters long; at most {MAX_TEXT} are kept")
    if name == "phone":
        digits = sum(c.isdigit() for c in unicodedata.normalize("NFKC", value))
        if not _PHONE_CHARACTERS.fullmatch(unicodedata.normalize("NFKC", value)) or not 3 <= digits <= 20:
            raise BadValue("expected a phone number: 3 to 20 digits, with spaces, +, - or brackets")
    if name == "email" and not _EMAIL.fullmatch(value):
        raise BadValue("expected an e-mail address such as name@example.com")
    return value


def as_text(value: Any) -> str | None:
    """A value as a correction records it."""
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)


def _record(session: Session, **values: Any) -> Correction:
    correction = Correction(made_at=datetime.now(UTC), **values)
    session.add(correction)
    session.flush()
    return correction


def _reason(reason: str | None) -> str | None:
    return reason.strip() or None if reason is not None else None


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: str | None
    new: str | None


@dataclass
class EditResult:
    code: str
    changed: list[FieldChange] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # fields given their current value


def edit_customer(
    session: Session, *, code: str, values: dict[str, str | date | None], reason: str | None
) -> EditResult:
    """Set the given details (None clears one); one correction row per field that changes."""
    customer = ledger.customer_by_code(session, code, aliases=False, hint=CODE_HINT)
    result = EditResult(customer.customer_code)
    for name in EDITABLE:
        if name not in values:
            continue
        old, new = getattr(customer, name), values[name]
        if old == new:
            result.unchanged.append(name)
            continue
        setattr(customer, name, new)
        change = FieldChange(name, as_text(old), as_text(new))
        result.changed.append(change)
        _record(
            session,
            action="edit",
            customer_id=customer.id,
            field=name,
            old_value=change.old,
            new_value=change.new,
            reason=_reason(reason),
        )
    session.add(customer)
    session.flush()
    return result


@dataclass(frozen=True)
class References:
    """What refers to a customer, so that deleting it would lose something."""

    orders: int
    ledger_rows: int
    tier_changes: int
    aliases: int

    def described(self) -> str:
        parts = [
            (self.orders, "order", "orders"),
            (self.ledger_rows, "ledger row", "ledger rows"),
            (self.tier_changes, "tier change", "tier changes"),
            (self.aliases, "merged code", "merged codes"),
        ]
        return ", ".join(f"{n:,} {one if n == 1 else many}" for n, one, many in parts if n)

    def __bool__(self) -> bool:
        return bool(self.orders or self.ledger_rows or self.tier_changes or self.aliases)


def references(session: Session, customer_id: int) -> References:
    def count(model: Any, column: Any) -> int:
        return int(session.exec(select(func.count()).select_from(model).where(column == customer_id)).one())

    return References(
        orders=count(Order, col(Order.customer_id)),
        ledger_rows=count(PointsEntry, col(PointsEntry.customer_id)),
        tier_changes=count(TierChange, col(TierChange.customer_id)),
        aliases=count(CustomerAlias, col(CustomerAlias.customer_id)),
    )


def remove_customer(session: Session, *, code: str, reason: str | None) -> str:
    """Delete a customer nothing refers to; returns its code. Refused, saying what refers to it,
    otherwise. The correction keeps the code (its customer row is gone)."""
    customer = ledger.customer_by_code(session, code, aliases=False, hint=CODE_HINT)
    assert customer.id is not None
    found = references(session, customer.id)
    if found:
        raise Conflict(
            f"customer {customer.customer_code} cannot be removed: {found.described()} refer to it",
            hint=f"Merge it into the right customer (`cpm customer merge {customer.customer_code} CODE`), "
            f"or erase its personal data with `cpm customer forget {customer.customer_code}`.",
        )
    # Earlier corrections of this customer stay on record, no longer tied to a row.
    session.execute(
        update(Correction).where(col(Correction.customer_id) == customer.id).values(customer_id=None)
    )
    session.execute(
        update(Customer).where(col(Customer.merged_into_id) == customer.id).values(merged_into_id=None)
    )
    session.delete(customer)
    session.flush()
    _record(
        session,
        action="remove",
        field="customer_code",
        old_value=customer.customer_code,
        reason=_reason(reason),
    )
    return customer.customer_code


@dataclass(frozen=True)
class ForgetResult:
    code: str
    erased: list[str]  # the fields that held something
    already_forgotten: bool


def forget_customer(session: Session, *, code: str, reason: str | None) -> ForgetResult:
    """Erase the personal data (PERSONAL) of a customer and of the customers merged into it, and
    the values earlier edits and imports recorded of those fields; keep the code, orders, points.
    Recorded without the erased values."""
    customer = ledger.customer_by_code(session, code, aliases=False, hint=CODE_HINT)
    assert customer.id is not None
    merged_in = list(session.exec(select(Customer).where(col(Customer.merged_into_id) == customer.id)))
    people = [customer, *merged_in]
    erased = [name for name in PERSONAL if any(getattr(person, name) is not None for person in people)]
    if not erased and customer.forgotten_at is not None:
        return ForgetResult(customer.customer_code, [], True)
    now = datetime.now(UTC)
    for person in people:
        for name in PERSONAL:
            setattr(person, name, None)
        person.forgotten_at = now
        session.add(person)
    ids = [person.id for person in people]
    session.execute(
        update(Correction)
        .where(col(Correction.customer_id).in_(ids), col(Correction.field).in_(PERSONAL))
        .values(old_value=None, new_value=None)
    )
    _erase_recorded_values(session, ids)
    session.flush()
    _record(session, action="forget", customer_id=customer.id, reason=_reason(reason))
    return ForgetResult(customer.customer_code, erased, False)


def _erase_recorded_values(session: Session, customer_ids: list[Any]) -> None:
    """The previous values an import recorded of these customers' rows (for `cpm imports undo`)
    lose their personal fields: an undo must not bring them back either."""
    changes = session.exec(
        select(RowChange).where(
            col(RowChange.table_name) == "customers",
            col(RowChange.row_id).in_(customer_ids),
            col(RowChange.previous).is_not(None),
        )
    ).all()
    for change in changes:
        try:
            previous = json.loads(change.previous or "null")
        except ValueError:
            continue
        if isinstance(previous, dict) and any(previous.get(name) is not None for name in PERSONAL):
            previous.update({name: None for name in PERSONAL if name in previous})
            change.previous = json.dumps(previous, ensure_ascii=False)
            session.add(change)
