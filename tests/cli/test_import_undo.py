"""`cpm imports undo N` and `cpm order void`: an import taken back leaves the database as before it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cpm.db import Database
from tests.conftest import Cli, snapshot, table_rows, write_csv

ORDERS = ["order_no", "customer_code", "order_date", "amount", "status"]
CUSTOMERS = ["customer_code", "name", "city"]
POINTS = ["customer_code", "points", "earned_on"]
AS_OF = "2026-02-01"
# Written by imports and undos themselves (their record), not content an undo takes back.
RECORDS = {"import_batches", "import_row_changes", "corrections"}


def tables(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    names = table_rows(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    return {name: table_rows(db, f"SELECT * FROM {name} ORDER BY 1") for (name,) in names}  # noqa: S608


def visible(db: Database, table: str) -> list[tuple[Any, ...]]:
    return table_rows(db, f"SELECT * FROM {table} WHERE removed_at IS NULL ORDER BY id")  # noqa: S608


def new_ledger_sums(db: Database, after_id: int) -> dict[str, int]:
    rows = table_rows(
        db,
        "SELECT c.customer_code, SUM(p.points) FROM points_ledger p JOIN customers c ON c.id = p.customer_id "
        f"WHERE p.id > {after_id} GROUP BY c.customer_code ORDER BY 1",  # noqa: S608
    )
    return dict(rows)


def last_ledger_id(db: Database) -> int:
    return int(table_rows(db, "SELECT COALESCE(MAX(id), 0) FROM points_ledger")[0][0])


def balances(db: Database) -> dict[str, int]:
    rows = table_rows(
        db,
        "SELECT c.customer_code, SUM(p.points) FROM points_ledger p JOIN customers c ON c.id = p.customer_id "
        "GROUP BY c.customer_code ORDER BY 1",
    )
    return dict(rows)


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return result


def _shop(cli: Cli) -> None:
    """Two customers and their two January orders."""
    ok(
        cli(
            "import",
            "customers",
            str(
                write_csv(
                    cli.cwd / "members.csv", [CUSTOMERS, ["C1", "张三", "上海"], ["C2", "李四", "北京"]]
                )
            ),
        )
    )
    orders = [
        ORDERS,
        ["A1", "C1", "2026-01-05", "100.00", "completed"],
        ["A2", "C2", "2026-01-06", "50.00", "completed"],
    ]
    ok(cli("import", "orders", str(write_csv(cli.cwd / "january.csv", orders))))


def _second_import(cli: Cli, kind: str) -> Path:
    """A file of `kind` that both changes stored rows and creates new ones."""
    if kind == "customers":
        rows = [CUSTOMERS, ["C1", "张三丰", "杭州"], ["C3", "王五", "深圳"]]
    elif kind == "orders":
        # A1 changed, A2 refunded, A3 new for a customer not stored yet.
        rows = [
            ORDERS,
            ["A1", "C1", "2026-01-05", "120.00", "completed"],
            ["A2", "C2", "2026-01-06", "50.00", "refunded"],
            ["A3", "C9", "2026-01-07", "30.00", "completed"],
        ]
    else:
        rows = [POINTS, ["C1", "100", "2026-01-10"], ["C8", "50", "2026-01-10"]]
    return write_csv(cli.cwd / f"second-{kind}.csv", rows)


@pytest.mark.parametrize("kind", ["customers", "orders"])
def test_an_import_then_its_undo_leaves_every_table_as_before(cli: Cli, db: Database, kind: str) -> None:
    _shop(cli)
    before = tables(db)

    ok(cli("import", kind, str(_second_import(cli, kind))))
    assert tables(db) != before
    undone = ok(cli("imports", "undo", "3", "--reason", "wrong export"))

    assert "Undid import 3" in undone.output
    after = tables(db)
    for name in before:
        if name not in RECORDS:
            assert after[name] == before[name], name
    assert table_rows(db, "SELECT action, import_id, reason, old_value FROM corrections") == [
        ("undo", 3, "wrong export", f"second-{kind}.csv")
    ]
    assert table_rows(db, "SELECT id FROM import_batches WHERE undone_at IS NOT NULL") == [(3,)]


def test_an_orders_import_that_inserts_and_updates_undone_between_awards(cli: Cli, db: Database) -> None:
    _shop(cli)
    ok(cli("award", "--as-of", AS_OF))
    assert balances(db) == {"C1": 100, "C2": 50}
    before = tables(db)
    ledger_before = last_ledger_id(db)

    imported = ok(cli("import", "orders", str(_second_import(cli, "orders"))))
    assert table_rows(db, "SELECT inserted, updated, customers_created FROM import_batches WHERE id = 3") == [
        (1, 2, 1)
    ]
    assert "inserted" in imported.output
    ok(cli("award", "--as-of", AS_OF))
    # A1 topped up by 20, A2 reversed, A3 earned 30 for the new C9.
    assert balances(db) == {"C1": 120, "C2": 0, "C9": 30}

    ok(cli("imports", "undo", "3"))
    ok(cli("award", "--as-of", AS_OF))

    after = tables(db)
    assert visible(db, "orders") == before["orders"]
    assert visible(db, "customers") == before["customers"]
    for name in before:
        if name not in RECORDS | {"orders", "customers", "points_ledger", "award_runs", "tier_changes"}:
            assert after[name] == before[name], name
    # A3 and C9 are named by the ledger: kept, marked removed, A3 with net 0.
    assert table_rows(db, "SELECT order_no, net_amount FROM orders WHERE removed_at IS NOT NULL") == [
        ("A3", 0)
    ]
    assert table_rows(db, "SELECT customer_code FROM customers WHERE removed_at IS NOT NULL") == [("C9",)]
    # Ledger aside: what was posted since sums to zero for every customer.
    assert new_ledger_sums(db, ledger_before) == {"C1": 0, "C2": 0, "C9": 0}
    assert balances(db) == {"C1": 100, "C2": 50, "C9": 0}
    # A second award finds nothing more to do.
    ledger_now = last_ledger_id(db)
    ok(cli("award", "--as-of", AS_OF))
    assert last_ledger_id(db) == ledger_now


def test_a_customers_import_undone_after_an_award_restores_the_customers(cli: Cli, db: Database) -> None:
    _shop(cli)
    ok(cli("award", "--as-of", AS_OF))
    before = tables(db)
    ok(cli("import", "customers", str(_second_import(cli, "customers"))))
    ok(cli("award", "--as-of", AS_OF))

    ok(cli("imports", "undo", "3"))

    assert visible(db, "customers") == before["customers"]
    assert table_rows(db, "SELECT COUNT(*) FROM customers") == [(2,)]  # C3: nothing names it, deleted
    assert tables(db)["orders"] == before["orders"]


def test_an_opening_points_import_undone_is_reversed_by_new_ledger_rows(cli: Cli, db: Database) -> None:
    _shop(cli)
    before = tables(db)
    ok(cli("import", "points", str(_second_import(cli, "points"))))
    assert balances(db) == {"C1": 100, "C8": 50}

    undone = ok(cli("imports", "undo", "3"))

    assert "reversed 2 opening-points rows (-150 points)" in undone.output
    after = tables(db)
    for name in before:
        if name not in RECORDS | {"points_ledger", "customers"}:
            assert after[name] == before[name], name
    assert visible(db, "customers") == before["customers"]
    # The two opening rows stay; two new rows take them back.
    assert table_rows(db, "SELECT kind, points FROM points_ledger ORDER BY id") == [
        ("opening", 100),
        ("opening", 50),
        ("reverse", -100),
        ("reverse", -50),
    ]
    assert balances(db) == {"C1": 0, "C8": 0}
    assert table_rows(db, "SELECT customer_code FROM customers WHERE removed_at IS NOT NULL") == [("C8",)]


def test_the_same_points_file_imported_again_after_an_undo_posts_again_once(cli: Cli, db: Database) -> None:
    _shop(cli)
    path = _second_import(cli, "points")
    ok(cli("import", "points", str(path)))
    ok(cli("imports", "undo", "3"))

    ok(cli("import", "points", str(path)))
    ok(cli("import", "points", str(path)))

    assert balances(db) == {"C1": 100, "C8": 50}
    assert table_rows(db, "SELECT customer_code FROM customers WHERE removed_at IS NOT NULL") == []


def test_the_same_orders_file_after_an_undo_is_read_again_and_brings_the_orders_back(
    cli: Cli, db: Database
) -> None:
    _shop(cli)
    path = _second_import(cli, "orders")
    ok(cli("import", "orders", str(path)))
    ok(cli("award", "--as-of", AS_OF))
    stored = (
        "SELECT order_no, customer_id, order_date, amount, net_amount, status FROM orders ORDER BY order_no"
    )
    imported = table_rows(db, stored)
    ok(cli("imports", "undo", "3"))
    ok(cli("award", "--as-of", AS_OF))

    again = ok(cli("import", "orders", str(path)))

    assert "Nothing to read" not in again.output
    assert table_rows(db, stored) == imported
    assert table_rows(db, "SELECT COUNT(*) FROM orders WHERE removed_at IS NOT NULL") == [(0,)]
    assert table_rows(db, "SELECT COUNT(*) FROM customers WHERE removed_at IS NOT NULL") == [(0,)]
    ok(cli("award", "--as-of", AS_OF))
    assert balances(db) == {"C1": 120, "C2": 0, "C9": 30}
    # And that import, in turn, can be undone.
    ok(cli("imports", "undo", "4"))
    assert table_rows(db, "SELECT order_no FROM orders WHERE removed_at IS NULL ORDER BY order_no") == [
        ("A1",),
        ("A2",),
    ]


def test_undo_is_refused_while_a_later_import_changed_the_same_rows(cli: Cli, db: Database) -> None:
    _shop(cli)
    ok(cli("import", "orders", str(_second_import(cli, "orders"))))
    later = [ORDERS, ["A1", "C1", "2026-01-05", "90.00", "completed"]]
    ok(cli("import", "orders", str(write_csv(cli.cwd / "fix.csv", later))))
    untouched = snapshot(db)

    refused = cli("imports", "undo", "3")

    assert refused.exit_code == 1
    assert "import batch 3 cannot be undone" in refused.output
    assert "batch 4 (fix.csv): 1 row(s)" in refused.output
    assert "undo batch 4 first" in refused.output
    assert snapshot(db) == untouched
    ok(cli("imports", "undo", "4"))
    assert table_rows(db, "SELECT amount FROM orders WHERE order_no = 'A1'") == [(12000,)]
    ok(cli("imports", "undo", "3"))
    assert table_rows(db, "SELECT order_no, amount, status FROM orders ORDER BY id") == [
        ("A1", 10000, "completed"),
        ("A2", 5000, "completed"),
    ]


def test_undo_is_refused_while_a_later_import_refers_to_a_customer_it_created(cli: Cli, db: Database) -> None:
    _shop(cli)
    ok(cli("import", "orders", str(_second_import(cli, "orders"))))  # creates C9
    more = [ORDERS, ["A4", "C9", "2026-01-20", "10.00", "completed"]]
    ok(cli("import", "orders", str(write_csv(cli.cwd / "more.csv", more))))
    untouched = snapshot(db)

    refused = cli("imports", "undo", "3")

    assert refused.exit_code == 1
    assert "undo batch 4 first" in refused.output
    assert snapshot(db) == untouched


def test_undo_twice_an_unknown_batch_and_bad_numbers_are_refused(cli: Cli, db: Database) -> None:
    _shop(cli)
    ok(cli("imports", "undo", "2"))
    untouched = snapshot(db)

    twice = cli("imports", "undo", "2")
    unknown = cli("imports", "undo", "9")
    word = cli("imports", "undo", "two")
    zero = cli("imports", "undo", "0")

    assert twice.exit_code == 1
    assert "import batch 2 (january.csv) was undone already" in twice.output
    assert unknown.exit_code == 1
    assert "no import batch 9" in unknown.output
    assert word.exit_code == 2
    assert "Invalid value for 'N'" in word.output
    assert zero.exit_code == 2
    assert "Invalid value for 'N'" in zero.output
    assert snapshot(db) == untouched


def test_a_dry_run_says_what_it_would_do_and_writes_nothing(cli: Cli, db: Database) -> None:
    _shop(cli)
    ok(cli("import", "orders", str(_second_import(cli, "orders"))))
    untouched = snapshot(db)

    dry = ok(cli("imports", "undo", "3", "--dry-run"))

    assert (
        "Would undo import 3 (orders, second-orders.csv): would delete 1 order and 1 customer it created; "
        "would give 2 orders and 0 customers back their earlier values (dry run: nothing was written)"
    ) in " ".join(dry.output.split())
    assert snapshot(db) == untouched


def test_imports_lists_undone_batches_as_undone(cli: Cli, db: Database) -> None:
    _shop(cli)
    plain = ok(cli("imports"))
    assert "undone" not in plain.output
    ok(cli("imports", "undo", "2"))

    listed = ok(cli("imports"))
    limited = ok(cli("imports", "--limit", "1"))

    assert "undone (UTC)" in listed.output
    undone_at = table_rows(db, "SELECT undone_at FROM import_batches WHERE id = 2")[0][0]

    def last_cell(file_name: str) -> str:
        line = next(line for line in listed.output.splitlines() if file_name in line)
        return line.strip().strip("│").split("│")[-1].strip()

    assert last_cell("january.csv") == undone_at[:16]
    assert last_cell("members.csv") == ""
    assert "january.csv" in limited.output and "members.csv" not in limited.output


def test_an_order_a_removed_by_undo_is_not_in_the_customer_card(cli: Cli, db: Database) -> None:
    _shop(cli)
    extra = [ORDERS, ["A5", "C1", "2026-01-15", "70.00", "completed"]]
    ok(cli("import", "orders", str(write_csv(cli.cwd / "extra.csv", extra))))
    ok(cli("award", "--as-of", AS_OF))
    ok(cli("imports", "undo", "3"))
    assert table_rows(db, "SELECT order_no FROM orders WHERE removed_at IS NOT NULL") == [("A5",)]

    card = ok(cli("customer", "show", "C1", "--as-of", AS_OF))

    assert "A1" in card.output
    assert "A5" not in card.output


def test_void_cancels_an_order_and_the_next_award_takes_its_points_back(cli: Cli, db: Database) -> None:
    _shop(cli)
    ok(cli("award", "--as-of", AS_OF))

    voided = ok(cli("order", "void", "A1", "--reason", "customer cancelled by phone"))

    assert "Voided order A1 of C1: completed → cancelled, net 100.00 → 0.00" in " ".join(
        voided.output.split()
    )
    assert table_rows(db, "SELECT status, net_amount FROM orders WHERE order_no = 'A1'") == [("cancelled", 0)]
    assert table_rows(db, "SELECT action, field, old_value, new_value, reason FROM corrections") == [
        ("void", "status", "completed", "cancelled", "customer cancelled by phone")
    ]
    ok(cli("award", "--as-of", AS_OF))
    assert balances(db) == {"C1": 0, "C2": 50}


def test_void_refuses_an_unknown_or_cancelled_order_and_a_missing_reason(cli: Cli, db: Database) -> None:
    _shop(cli)
    ok(cli("order", "void", "A2", "--reason", "duplicate"))
    untouched = snapshot(db)

    again = cli("order", "void", "A2", "--reason", "duplicate")
    unknown = cli("order", "void", "Z9", "--reason", "typo")
    no_reason = cli("order", "void", "A1")
    blank = cli("order", "void", "A1", "--reason", "  ")

    assert again.exit_code == 1
    assert "order A2 is already cancelled" in again.output
    assert unknown.exit_code == 1
    assert "no order with number 'Z9'" in unknown.output
    assert no_reason.exit_code == 2
    assert "--reason" in no_reason.output
    assert blank.exit_code == 2
    assert "--reason" in blank.output
    assert snapshot(db) == untouched


def test_a_voided_order_listed_again_as_completed_by_a_file_is_completed_again(
    cli: Cli, db: Database
) -> None:
    _shop(cli)
    ok(cli("order", "void", "A1", "--reason", "cancelled at the till"))

    again = ok(cli("import", "orders", str(cli.cwd / "january.csv")))

    assert "Nothing to read" not in again.output
    assert table_rows(db, "SELECT status, net_amount FROM orders WHERE order_no = 'A1'") == [
        ("completed", 10000)
    ]


def test_undo_is_refused_while_a_later_void_changed_an_order_it_changed(cli: Cli, db: Database) -> None:
    _shop(cli)
    ok(cli("import", "orders", str(_second_import(cli, "orders"))))  # changes A1
    ok(cli("order", "void", "A1", "--reason", "fraud"))
    untouched = snapshot(db)

    refused = cli("imports", "undo", "3")

    assert refused.exit_code == 1
    assert "1 correction(s) since it changed rows it had changed (first: void #1 of a row of orders" in (
        " ".join(refused.output.split())
    )
    assert snapshot(db) == untouched


def test_a_void_does_not_hold_back_the_undo_of_a_customers_import(cli: Cli, db: Database) -> None:
    _shop(cli)
    ok(cli("import", "customers", str(_second_import(cli, "customers"))))  # renames C1
    ok(cli("order", "void", "A1", "--reason", "fraud"))

    ok(cli("imports", "undo", "3"))

    assert table_rows(db, "SELECT customer_code, name, city FROM customers ORDER BY id") == [
        ("C1", "张三", "上海"),
        ("C2", "李四", "北京"),
    ]
    assert table_rows(db, "SELECT status FROM orders WHERE order_no = 'A1'") == [("cancelled",)]
