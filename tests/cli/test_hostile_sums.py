"""Totals beyond what 64-bit sums hold are refused where they enter, so reports never overflow.

Each order may hold up to 9,999,999,999,999.99 and each opening row up to 999,999,999,999,999
points; 1,001 of either add up past the database's bound of 10^18 minor units (or points), which
keeps every SUM a report or the ledger computes ten thousand times inside 64 bits.
"""

from __future__ import annotations

from pathlib import Path

from cpm.db import Database
from tests.conftest import Cli, snapshot, write_csv

BIGGEST_AMOUNT = "9999999999999.99"  # 10^15 - 1 cents
BIGGEST_POINTS = "999999999999999"  # 10^15 - 1 points


def orders(count: int) -> list[list[str]]:
    rows = [["order_no", "customer_code", "order_date", "amount"]]
    rows += [[f"O{i}", f"C{i % 7}", "2024-05-01", BIGGEST_AMOUNT] for i in range(count)]
    return rows


def test_orders_within_the_bound_import_and_report(cli: Cli, tmp_path: Path) -> None:
    # 999 × (10^15 − 1) cents < 10^18: accepted, and every report still adds them up.
    write_csv(tmp_path / "o.csv", orders(999))
    assert cli("import", "orders", str(tmp_path / "o.csv")).exit_code == 0
    report = cli("report", "--as-of", "2024-07-01", "--format", "json")
    assert report.exit_code == 0, report.output
    assert cli("points", "balance").exit_code == 0


def test_orders_beyond_the_bound_are_refused_and_nothing_is_written(cli: Cli, tmp_path: Path) -> None:
    db = Database.from_option(str(cli.db_path))
    before = snapshot(db)
    write_csv(tmp_path / "o.csv", orders(1001))
    result = cli("import", "orders", str(tmp_path / "o.csv"))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: o.csv: the order amounts in the database would add up to")
    assert "Traceback" not in result.output
    assert snapshot(db) == before
    assert cli("report", "--as-of", "2024-07-01", "--format", "json").exit_code == 0


def test_opening_points_beyond_the_bound_are_refused(cli: Cli, tmp_path: Path) -> None:
    db = Database.from_option(str(cli.db_path))
    rows = [["customer_code", "points", "earned_on"]]
    rows += [[f"C{i}", BIGGEST_POINTS, "2024-05-01"] for i in range(1001)]
    write_csv(tmp_path / "p.csv", rows)
    before = snapshot(db)
    result = cli("import", "points", str(tmp_path / "p.csv"))
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: p.csv: the points in the ledger would add up to")
    assert snapshot(db) == before
    assert cli("points", "balance").exit_code == 0
