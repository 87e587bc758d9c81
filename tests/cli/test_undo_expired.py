"""An undone import whose orders' points expired meanwhile: balances come back to what they were."""

from __future__ import annotations

from cpm.db import Database
from tests.conftest import Cli, table_rows, write_csv

HEADER = ["order_no", "customer_code", "order_date", "amount", "status"]


def _balance(db: Database, code: str) -> int:
    [(points,)] = table_rows(
        db,
        "SELECT COALESCE(SUM(l.points), 0) FROM customers c "
        f"LEFT JOIN points_ledger l ON l.customer_id = c.id WHERE c.customer_code = '{code}'",
    )
    return int(points)


def test_points_that_expired_before_the_undo_are_not_taken_twice(cli: Cli, db: Database) -> None:
    live = write_csv(cli.cwd / "live.csv", [HEADER, ["L1", "C1", "2026-10-05", "300.00", "completed"]])
    assert cli("import", "orders", str(live)).exit_code == 0
    assert cli("award", "--as-of", "2026-11-01").exit_code == 0
    assert _balance(db, "C1") == 300  # 1 point per yuan

    # An old order imported by mistake: it earns 100 points that expired on 2025-01-05 (12 months).
    old = write_csv(cli.cwd / "old.csv", [HEADER, ["X1", "C1", "2024-01-05", "100.00", "completed"]])
    assert cli("import", "orders", str(old)).exit_code == 0
    assert cli("award", "--as-of", "2026-11-01").exit_code == 0
    assert _balance(db, "C1") == 300  # +100 earned, −100 expired
    [(batch,)] = table_rows(db, "SELECT MAX(id) FROM import_batches")

    undone = cli("imports", "undo", str(batch), "--reason", "wrong file")
    assert undone.exit_code == 0, undone.output
    assert cli("award", "--as-of", "2026-11-01").exit_code == 0
    assert _balance(db, "C1") == 300  # no debt of 100 for points that were never real
    assert cli("award", "--as-of", "2026-11-01").exit_code == 0
    assert _balance(db, "C1") == 300


def test_points_of_an_undone_order_still_open_are_taken_back(cli: Cli, db: Database) -> None:
    recent = write_csv(cli.cwd / "recent.csv", [HEADER, ["R1", "C1", "2026-10-05", "80.00", "completed"]])
    assert cli("import", "orders", str(recent)).exit_code == 0
    assert cli("award", "--as-of", "2026-11-01").exit_code == 0
    assert _balance(db, "C1") == 80
    [(batch,)] = table_rows(db, "SELECT MAX(id) FROM import_batches")
    assert cli("points", "redeem", "C1", "30", "--reason", "gift").exit_code == 0
    assert cli("imports", "undo", str(batch)).exit_code == 0
    assert cli("award", "--as-of", "2026-11-01").exit_code == 0
    # 80 earned, 30 spent, 80 taken back: the 30 spent on points that never existed is owed.
    assert _balance(db, "C1") == -30


def test_an_undone_opening_balance_that_expired_is_not_taken_twice(cli: Cli, db: Database) -> None:
    live = write_csv(cli.cwd / "live.csv", [HEADER, ["L1", "C3", "2026-10-05", "300.00", "completed"]])
    assert cli("import", "orders", str(live)).exit_code == 0
    opening = write_csv(
        cli.cwd / "opening.csv",
        [["customer_code", "points", "earned_on"], ["C3", "100", "2024-01-01"], ["C3", "40", "2026-06-01"]],
    )
    assert cli("import", "points", str(opening)).exit_code == 0
    [(batch,)] = table_rows(db, "SELECT MAX(id) FROM import_batches")
    assert cli("award", "--as-of", "2026-11-01").exit_code == 0
    assert _balance(db, "C3") == 340  # 300 earned + 40 open; the 100 of 2024 expired on 2025-01-01
    assert cli("imports", "undo", str(batch)).exit_code == 0
    assert _balance(db, "C3") == 300  # the open 40 taken back; nothing for the expired 100
    assert cli("award", "--as-of", "2026-11-01").exit_code == 0
    assert _balance(db, "C3") == 300


def test_an_import_cannot_be_undone_after_a_merge_and_nothing_is_written(cli: Cli, db: Database) -> None:
    first = write_csv(
        cli.cwd / "first.csv",
        [
            HEADER,
            ["O1", "C1", "2026-10-05", "100.00", "completed"],
            ["O2", "C2", "2026-10-06", "50.00", "completed"],
        ],
    )
    assert cli("import", "orders", str(first)).exit_code == 0
    changed = write_csv(cli.cwd / "changed.csv", [HEADER, ["O1", "C1", "2026-10-05", "120.00", "completed"]])
    assert cli("import", "orders", str(changed)).exit_code == 0
    [(batch,)] = table_rows(db, "SELECT MAX(id) FROM import_batches")
    assert cli("customer", "merge", "C1", "C2", "--reason", "one person").exit_code == 0
    before = table_rows(db, "SELECT order_no, customer_id, amount FROM orders ORDER BY order_no")

    refused = cli("imports", "undo", str(batch))
    assert refused.exit_code == 1
    assert "merge" in refused.output and f"import batch {batch} cannot be undone" in refused.output
    assert table_rows(db, "SELECT order_no, customer_id, amount FROM orders ORDER BY order_no") == before
    assert table_rows(db, "SELECT COUNT(*) FROM import_batches WHERE undone_at IS NOT NULL") == [(0,)]
