"""How imports find customers after corrections: merged codes land on the customer they were
merged into, and a forgotten customer's personal data stays erased unless the owner says so."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from cpm.models import Customer, CustomerAlias
from cpm.services import bulk
from cpm.services.customer_edits import PERSONAL


def customer_ids(session: Session) -> dict[str, int]:
    """Customer code → id for an import: every stored code, with a merged customer's code (an
    alias) naming the customer it was merged into."""
    ids: dict[str, int] = bulk.fetch_pairs(session, "SELECT customer_code, id FROM customers")
    ids.update(bulk.fetch_pairs(session, "SELECT alias_code, customer_id FROM customer_aliases"))
    return ids


Record = tuple[str, tuple[Any, ...]]


def customers_to_write(
    session: Session, chosen: Sequence[Record], present: Sequence[str], *, restore_forgotten: bool
) -> list[Record]:
    """The rows a customers import writes, keyed by the code of the customer they land on.

    - A row under a merged customer's code updates the customer it was merged into; if the file
      also has a row under that customer's own code, that row wins and the old one is left out
      (the shop's export may go on listing both for a while).
    - A forgotten customer keeps its personal fields as they are stored (erased) unless
      `restore_forgotten` (then see `unforget`).
    """
    aliases = dict(
        session.exec(
            select(CustomerAlias.alias_code, Customer.customer_code).join(
                Customer, col(Customer.id) == col(CustomerAlias.customer_id)
            )
        ).all()
    )
    own = {code for code, _ in chosen if code not in aliases}
    rows: list[Record] = []
    landed: set[str] = set()
    for code, record in chosen:
        target = aliases.get(code, code)
        if target in landed or (target != code and target in own):
            continue
        landed.add(target)
        rows.append((target, record))
    personal = [i for i, name in enumerate(present) if name in PERSONAL]
    if not personal:
        return rows
    forgotten = {
        customer.customer_code: customer
        for customer in session.exec(select(Customer).where(col(Customer.forgotten_at).is_not(None)))
        if customer.customer_code in landed
    }
    if not forgotten:
        return rows
    if restore_forgotten:
        return rows
    kept: list[Record] = []
    for code, record in rows:
        customer = forgotten.get(code)
        if customer is not None:
            values = list(record)
            for i in personal:
                values[i] = getattr(customer, present[i])
            record = tuple(values)
        kept.append((code, record))
    return kept


def unforget(session: Session, rows: Sequence[Record], present: Sequence[str]) -> None:
    """After an import with --restore-forgotten wrote their personal fields, the customers of
    `rows` are no longer forgotten (done after the write, so an undo of the import, which keeps
    the rows as they were before it, makes them forgotten again)."""
    if not any(name in PERSONAL for name in present):
        return
    codes = [code for code, _ in rows]
    for start in range(0, len(codes), 500):
        session.execute(
            update(Customer)
            .where(
                col(Customer.customer_code).in_(codes[start : start + 500]),
                col(Customer.forgotten_at).is_not(None),
            )
            .values(forgotten_at=None)
        )
