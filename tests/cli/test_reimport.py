"""Importing a file again: the very file of the last import is not read again; anything else is."""

from __future__ import annotations

from pathlib import Path

from cpm.db import Database
from tests.conftest import Cli, snapshot, table_rows, write_csv

HEADER = ["order_no", "customer_code", "order_date", "amount", "status"]


def _orders(path: Path, amount_of_a1: str = "100.00") -> Path:
    return write_csv(
        path,
        [
            HEADER,
            ["A1", "C1", "2026-01-05", amount_of_a1, "completed"],
            ["A2", "C2", "2026-01-06", "50.00", "completed"],
            ["A2", "C2", "2026-01-06", "25.50", "completed"],
        ],
    )


def _batches(db: Database) -> list[tuple[object, ...]]:
    return table_rows(
        db, "SELECT rows_read, inserted, updated, unchanged, rejected FROM import_batches ORDER BY id"
    )


def test_the_same_file_again_is_recorded_unchanged_without_changing_a_row(cli: Cli, db: Database) -> None:
    path = _orders(cli.cwd / "orders.csv")
    assert cli("import", "orders", str(path)).exit_code == 0
    orders_before = table_rows(db, "SELECT * FROM orders ORDER BY order_no")
    customers_before = table_rows(db, "SELECT * FROM customers ORDER BY id")

    again = cli("import", "orders", str(path))

    assert again.exit_code == 0
    assert "Nothing to read: this is the file of import #1" in again.output
    assert table_rows(db, "SELECT * FROM orders ORDER BY order_no") == orders_before
    assert table_rows(db, "SELECT * FROM customers ORDER BY id") == customers_before
    # 3 lines read, 2 orders in the file: the repeat is recorded as 2 unchanged.
    assert _batches(db) == [(3, 2, 0, 0, 0), (3, 0, 0, 2, 0)]


def test_a_file_imported_again_after_another_file_is_read_and_restores_its_values(
    cli: Cli, db: Database
) -> None:
    first = _orders(cli.cwd / "january.csv")
    corrected = _orders(cli.cwd / "january-corrected.csv", amount_of_a1="80.00")
    assert cli("import", "orders", str(first)).exit_code == 0
    assert cli("import", "orders", str(corrected)).exit_code == 0
    assert table_rows(db, "SELECT amount FROM orders WHERE order_no = 'A1'") == [(8000,)]

    again = cli("import", "orders", str(first))

    assert again.exit_code == 0
    assert "Nothing to read" not in again.output
    assert table_rows(db, "SELECT amount FROM orders WHERE order_no = 'A1'") == [(10000,)]
    assert _batches(db)[-1] == (3, 0, 1, 1, 0)


def test_the_same_file_read_another_way_is_read_again(cli: Cli, db: Database) -> None:
    path = write_csv(
        cli.cwd / "orders.csv",
        [HEADER, ["A1", "C1", "05/01/2026", "100.00", "completed"]],
    )
    assert cli("import", "orders", str(path)).exit_code == 0
    assert table_rows(db, "SELECT order_date FROM orders") == [("2026-05-01",)]

    again = cli("import", "orders", str(path), "--dayfirst")

    assert again.exit_code == 0
    assert "Nothing to read" not in again.output
    assert table_rows(db, "SELECT order_date FROM orders") == [("2026-01-05",)]


def test_a_file_with_rejected_rows_is_read_again_and_its_rejects_written_again(
    cli: Cli, db: Database
) -> None:
    path = write_csv(
        cli.cwd / "orders.csv",
        [
            HEADER,
            ["A1", "C1", "2026-01-05", "100.00", "completed"],
            ["A2", "C1", "not a date", "5", "completed"],
        ],
    )
    assert cli("import", "orders", str(path), "--skip-invalid").exit_code == 0
    rejects = cli.cwd / "orders.csv.rejects.csv"
    rejects.unlink()

    again = cli("import", "orders", str(path), "--skip-invalid")

    assert again.exit_code == 0
    assert "Nothing to read" not in again.output
    assert "not a date" in rejects.read_text(encoding="utf-8-sig")
    assert _batches(db)[-1] == (2, 0, 0, 1, 1)


def test_a_dry_run_of_the_same_file_writes_nothing(cli: Cli, db: Database) -> None:
    path = _orders(cli.cwd / "orders.csv")
    assert cli("import", "orders", str(path)).exit_code == 0
    before = snapshot(db)

    dry = cli("import", "orders", str(path), "--dry-run")

    assert dry.exit_code == 0
    assert "unchanged" in dry.output and "Dry run: nothing was written." in dry.output
    assert snapshot(db) == before


def test_customers_file_again_after_an_orders_import_still_needs_no_reading(cli: Cli, db: Database) -> None:
    customers = write_csv(
        cli.cwd / "customers.csv", [["customer_code", "name"], ["C1", "Wang"], ["C9", "Li"]]
    )
    assert cli("import", "customers", str(customers)).exit_code == 0
    assert cli("import", "orders", str(_orders(cli.cwd / "orders.csv"))).exit_code == 0

    again = cli("import", "customers", str(customers))

    assert again.exit_code == 0
    assert "Nothing to read" in again.output
    assert table_rows(db, "SELECT customer_code, name FROM customers ORDER BY customer_code") == [
        ("C1", "Wang"),
        ("C2", None),
        ("C9", "Li"),
    ]


def test_the_same_bytes_under_another_kind_of_name_are_read_again(cli: Cli, db: Database) -> None:
    # A .tsv is split at tabs, a .csv where its first line says: the same bytes are other rows.
    content = "customer_code,a,b\tcustomer_code\tname\nC1,,\tC9\tAlice\n"
    as_csv = cli.cwd / "f.csv"
    as_csv.write_text(content, encoding="utf-8")
    as_tsv = cli.cwd / "f.tsv"
    as_tsv.write_text(content, encoding="utf-8")
    assert cli("import", "customers", str(as_csv)).exit_code == 0

    again = cli("import", "customers", str(as_tsv))

    assert again.exit_code == 0
    assert "Nothing to read" not in again.output
    assert ("C9", "Alice") in table_rows(db, "SELECT customer_code, name FROM customers")
    # Named .xlsx, the text is no workbook: refused as it would be on a first import.
    as_xlsx = cli.cwd / "f.xlsx"
    as_xlsx.write_text(content, encoding="utf-8")
    before = snapshot(db)
    refused = cli("import", "customers", str(as_xlsx))
    assert refused.exit_code == 1
    assert "is a text file, not a .xlsx workbook" in refused.stderr
    assert snapshot(db) == before
