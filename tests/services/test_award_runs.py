"""What lets a repeated award skip work — the record of the last run, and bulk ledger inserts that
rebuild the indexes — must never change what is posted."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect

from cpm import db as database
from cpm.config import Settings
from cpm.db import Database
from cpm.errors import CpmError
from cpm.io.sheets import file_sha256, open_sheet
from cpm.services import bulk, importing
from tests.conftest import Cli, table_rows, write_csv
from tests.services.test_points_corrections import award, import_orders, ledger


def import_customers(db: Database, path: Path) -> None:
    request = importing.ImportRequest(sheet=open_sheet(path), path=path, sha256=file_sha256(path))
    with database.session_scope(db, write=True) as session:
        importing.import_customers(session, request)


def test_a_customers_import_after_an_award_is_seen_by_the_next(db: Database, tmp_path: Path) -> None:
    rules = Settings(birthday_multiplier=Settings().points_rate * 2)
    orders = write_csv(
        tmp_path / "o.csv",
        [["order_no", "customer_code", "order_date", "amount"], ["O1", "C1", "2025-05-10", "0.60"]],
    )
    import_orders(db, orders)
    award(db, date(2025, 6, 1), rules)
    assert ledger(db) == []  # floor(0.60 × 1) = 0: nothing to earn, no birthday known
    award(db, date(2025, 6, 2), rules)
    # Now the shop records C1's birthday, in May: the order was in the birthday month, and
    # earns floor(0.60 × 2) = 1 — the award must look at it again although it is old.
    import_customers(db, write_csv(tmp_path / "c.csv", [["customer_code", "birthday"], ["C1", "1990-05-03"]]))
    award(db, date(2025, 6, 3), rules)
    assert ledger(db) == [("earn:O1", "C1", "earn", 1)]


def test_each_award_is_recorded_with_what_it_had_seen(db: Database, tmp_path: Path) -> None:
    orders = write_csv(
        tmp_path / "o.csv",
        [["order_no", "customer_code", "order_date", "amount"], ["O1", "C1", "2025-01-10", "100"]],
    )
    import_orders(db, orders)
    award(db, date(2025, 6, 1))
    award(db, date(2026, 2, 1))  # the lot of 2025-01-10 expired on 2026-01-10
    assert ledger(db) == [("earn:O1", "C1", "earn", 100), ("expire:1", "C1", "expire", -100)]
    runs = table_rows(
        db, "SELECT as_of, rules_version, last_import_id, last_ledger_id FROM award_runs ORDER BY id"
    )
    version = Settings().version()
    assert runs == [("2025-06-01", version, 1, 1), ("2026-02-01", version, 1, 2)]


def ledger_row(key: str, customer_id: int) -> list[object]:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return [
        key,
        customer_id,
        "adjust",
        1,
        "2025-01-01",
        None,
        None,
        None,
        None,
        "2025-01-01",
        "2026-01-01",
        "v",
        "t",
        now,
    ]


COLUMNS = (
    "natural_key",
    "customer_id",
    "kind",
    "points",
    "effective_on",
    "order_id",
    "order_net",
    "factor",
    "lot_id",
    "earned_on",
    "expires_on",
    "rules_version",
    "note",
    "created_at",
)


def test_a_bulk_ledger_insert_rebuilds_every_index_and_still_refuses_a_key_twice(db: Database) -> None:
    with database.session_scope(db, write=True) as session:
        session.connection().exec_driver_sql("INSERT INTO customers (customer_code) VALUES ('C1')")
    rows = [ledger_row(f"adjust:{n}", 1) for n in range(bulk.BULK_LOAD_ROWS)]
    with database.session_scope(db, write=True) as session:
        bulk.insert_rows(session, table="points_ledger", columns=COLUMNS, rows=rows)
    engine = database.get_engine(db)
    indexes = {i["name"]: i["unique"] for i in inspect(engine).get_indexes("points_ledger")}
    assert indexes == {
        "ix_points_ledger_customer_effective": 0,
        "ix_points_ledger_expires": 0,
        "ix_points_ledger_lot": 0,
        "ix_points_ledger_order": 0,
        "ux_points_ledger_natural_key": 1,
    }
    before = table_rows(db, "SELECT COUNT(*) FROM points_ledger")
    # A second load as large as the table, one key of which is already stored: refused whole.
    again = [ledger_row(f"adjust:more-{n}", 1) for n in range(bulk.BULK_LOAD_ROWS - 1)] + [
        ledger_row("adjust:7", 1)
    ]
    with (
        pytest.raises(CpmError, match="UNIQUE constraint failed"),
        database.session_scope(db, write=True) as session,
    ):
        bulk.insert_rows(session, table="points_ledger", columns=COLUMNS, rows=again)
    assert table_rows(db, "SELECT COUNT(*) FROM points_ledger") == before
    assert {i["name"] for i in inspect(engine).get_indexes("points_ledger")} == set(indexes)


def test_a_tier_recorded_by_a_report_since_the_last_award_is_seen_by_the_next(
    db: Database, cli: Cli, tmp_path: Path
) -> None:
    orders = write_csv(
        tmp_path / "o.csv",
        [
            ["order_no", "customer_code", "order_date", "amount"],
            ["O1", "C1", "2024-01-10", "6000"],
            ["O2", "C2", "2025-05-01", "100"],
        ],
    )
    import_orders(db, orders)
    award(db, date(2025, 6, 1))
    # A report as of 2024-06-01 records C1 as VIP then (6,000 in the year before).
    assert cli("report", "customers", "--as-of", "2024-06-01", "--format", "json").exit_code == 0
    award(db, date(2025, 6, 1))
    # By 2025-06-01 C1's spend has left the window: the award records the drop back to Regular.
    changes = table_rows(
        db,
        "SELECT c.customer_code, t.effective_on, t.tier, t.previous_tier FROM tier_changes t"
        " JOIN customers c ON c.id = t.customer_id ORDER BY t.id",
    )
    assert changes == [("C1", "2024-06-01", "vip", "regular"), ("C1", "2025-06-01", "regular", "vip")]


def test_an_import_that_changed_nothing_does_not_make_the_next_award_look_again(
    db: Database, tmp_path: Path
) -> None:
    orders = write_csv(
        tmp_path / "o.csv",
        [["order_no", "customer_code", "order_date", "amount"], ["O1", "C1", "2025-01-10", "100"]],
    )
    import_orders(db, orders)
    award(db, date(2025, 6, 1))
    import_orders(db, orders)  # the nightly export again: every row unchanged
    award(db, date(2025, 6, 2))
    # The second award saw the same import mark as the first: only orders dated from the first
    # award's as-of on could need anything.
    assert table_rows(db, "SELECT last_import_id FROM award_runs ORDER BY id") == [(1,), (1,)]
    # A changed order is an import that counts: the next award looks at it and corrects it.
    changed = write_csv(
        tmp_path / "o2.csv",
        [["order_no", "customer_code", "order_date", "amount"], ["O1", "C1", "2025-01-10", "60"]],
    )
    import_orders(db, changed)
    award(db, date(2025, 6, 3))
    assert table_rows(db, "SELECT last_import_id FROM award_runs ORDER BY id") == [(1,), (1,), (3,)]
    assert ledger(db) == [("earn:O1", "C1", "earn", 100), ("order:O1:2", "C1", "reverse", -40)]
