"""The database tables. Money is integer minor units (cents / 分); dates are dates."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

# Constraint names must be stable before the first migration so that later batch migrations
# on SQLite can find and alter them.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class ImportBatch(SQLModel, table=True):
    """One run of `cpm import`: which file, and what it did."""

    __tablename__ = "import_batches"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    file_name: str
    file_path: str
    sha256: str = Field(max_length=64, index=True)
    sheet: str | None = None
    # How the file was read (requested sheet, --map, --dayfirst, …) as canonical JSON: the same
    # file read the same way gives the same rows.
    read_options: str | None = None
    imported_at: datetime
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    customers_created: int = 0
    undone_at: datetime | None = None  # when `cpm imports undo` took this batch back


class Customer(SQLModel, table=True):
    """A customer, keyed by the shop's own customer code."""

    __tablename__ = "customers"

    id: int | None = Field(default=None, primary_key=True)
    customer_code: str = Field(unique=True, max_length=64)
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    city: str | None = None
    joined_on: date | None = None
    birthday: date | None = None
    sales_rep: str | None = None
    tags: str | None = None
    import_id: int | None = Field(default=None, foreign_key="import_batches.id")
    # A removed customer (merged into another, or taken back by an undone import while the ledger
    # still names it) stays as a row for the ledger's sake; no report, list or award sees it.
    removed_at: datetime | None = None
    merged_into_id: int | None = Field(default=None, foreign_key="customers.id", index=True)
    # Personal data erased at the customer's request; imports leave it erased (--restore-forgotten).
    forgotten_at: datetime | None = None


class CustomerAlias(SQLModel, table=True):
    """A customer code that now means another customer (the old code of a merged customer)."""

    __tablename__ = "customer_aliases"

    id: int | None = Field(default=None, primary_key=True)
    alias_code: str = Field(unique=True, max_length=64)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    created_at: datetime


class Correction(SQLModel, table=True):
    """One recorded correction: an edit, merge, removal, forgetting, void or undo, with its time
    and reason. One row per changed field for an edit (old and new value as text)."""

    __tablename__ = "corrections"

    id: int | None = Field(default=None, primary_key=True)
    action: str = Field(max_length=16)
    customer_id: int | None = Field(default=None, foreign_key="customers.id", index=True)
    order_id: int | None = Field(default=None, foreign_key="orders.id", index=True)
    import_id: int | None = Field(default=None, foreign_key="import_batches.id", index=True)
    field: str | None = Field(default=None, max_length=32)
    old_value: str | None = None
    new_value: str | None = None
    reason: str | None = None
    made_at: datetime


class RowChange(SQLModel, table=True):
    """What an import did to one stored row, so that `cpm imports undo` can take it back:
    `previous` is the row's values before the import as JSON, or None when the import created it."""

    __tablename__ = "import_row_changes"
    __table_args__ = (Index("ix_import_row_changes_row", "table_name", "row_id", "import_id"),)

    id: int | None = Field(default=None, primary_key=True)
    import_id: int = Field(foreign_key="import_batches.id", index=True)
    table_name: str = Field(max_length=32)
    row_id: int
    previous: str | None = None


class Order(SQLModel, table=True):
    """An order (all its lines merged), keyed by order_no.

    net_amount is amount − refunded_amount, or 0 for a cancelled or pending order (awaiting
    payment: stored, counted nowhere until a later import says otherwise); it is stored so that
    every report reads the same definition.
    """

    __tablename__ = "orders"
    __table_args__ = (
        # Covers the per-customer aggregates (spend, orders, first/last order) without the table.
        Index("ix_orders_customer_date_net", "customer_id", "order_date", "net_amount"),
        # Covers the per-period aggregates (revenue, orders, active customers) of reports.
        Index("ix_orders_date_customer_net", "order_date", "customer_id", "net_amount"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("refunded_amount >= 0 AND refunded_amount <= amount", name="refund_within_amount"),
        CheckConstraint("status IN ('completed', 'refunded', 'cancelled', 'pending')", name="status_known"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_no: str = Field(unique=True, max_length=64)
    customer_id: int = Field(foreign_key="customers.id")
    order_date: date
    amount: int
    refunded_amount: int = 0
    net_amount: int
    quantity: int | None = None
    channel: str | None = None
    sales_rep: str | None = None
    status: str = Field(default="completed", max_length=16)
    import_id: int | None = Field(default=None, foreign_key="import_batches.id")
    # Taken back by an undone import while the ledger still names it (net_amount is then 0).
    removed_at: datetime | None = None


class TierChange(SQLModel, table=True):
    """A customer's tier changed on `effective_on` (as computed by a report or an award)."""

    __tablename__ = "tier_changes"
    __table_args__ = (UniqueConstraint("customer_id", "effective_on", name="uq_tier_changes_customer_day"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id")
    effective_on: date
    tier: str = Field(max_length=16)
    previous_tier: str = Field(max_length=16)
    spend: int  # net spend over the window that decided the tier, in cents
    window_days: int
    rules_version: str = Field(max_length=16)
    recorded_at: datetime


class PointsEntry(SQLModel, table=True):
    """One row of the append-only points ledger. Rows are only ever inserted; a correction is a
    new row. A customer's balance is the sum of their rows' points.

    Credits (earn, positive opening/adjust) are lots that expire on `expires_on`; debits
    (reverse, redeem, expire, negative opening/adjust) consume lots, soonest-expiring first.
    `natural_key` names the fact (`earn:<order_no>`, `expire:<lot id>`, …) so it is posted once.
    """

    __tablename__ = "points_ledger"
    __table_args__ = (
        Index("ix_points_ledger_customer_effective", "customer_id", "effective_on", "id"),
        Index("ix_points_ledger_order", "order_id", "id"),
        Index("ix_points_ledger_lot", "lot_id"),
        Index("ix_points_ledger_expires", "expires_on"),
        # A unique index rather than a UNIQUE constraint: a bulk award can drop and rebuild it,
        # and the rebuild fails (and the award with it) if any key were ever posted twice.
        Index("ux_points_ledger_natural_key", "natural_key", unique=True),
        CheckConstraint(
            "kind IN ('earn', 'reverse', 'redeem', 'expire', 'adjust', 'opening', 'transfer')",
            name="kind_known",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    natural_key: str = Field(max_length=200)
    customer_id: int = Field(foreign_key="customers.id")
    kind: str = Field(max_length=16)
    points: int
    effective_on: date  # the business date of the fact: order date, expiry date, day of a redemption
    order_id: int | None = Field(default=None, foreign_key="orders.id")
    order_net: int | None = None  # the order's net amount (cents) this row brought the points in line with
    factor: str | None = Field(default=None, max_length=32)  # points per currency unit used for the order
    lot_id: int | None = Field(default=None, foreign_key="points_ledger.id")  # the lot an expiry closes
    earned_on: date | None = None
    expires_on: date | None = None
    rules_version: str = Field(max_length=16)
    note: str | None = None
    created_at: datetime


class AwardRun(SQLModel, table=True):
    """One completed `cpm award`: what it had seen, so the next run can skip what cannot have
    changed since (orders untouched by any import, lots already closed)."""

    __tablename__ = "award_runs"

    id: int | None = Field(default=None, primary_key=True)
    as_of: date
    rules_version: str = Field(max_length=16)
    last_import_id: int  # newest orders or customers import batch when the run started (0: none)
    last_ledger_id: int  # newest ledger row when the run finished (0: none)
    last_tier_change_id: int  # newest tier change when the run finished (0: none)
    created_at: datetime
