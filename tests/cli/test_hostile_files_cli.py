"""Hostile files, end to end: `cpm import` refuses each by name (exit 1, `Error:` and a hint, the
database as it was) or reads it right, and never aborts, misreads or guesses silently."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import openpyxl

from cpm.db import Database
from tests.conftest import Cli, snapshot, table_rows
from tests.io.test_hostile_files import (
    HEADER_ROWS,
    ODS_ERRORS,
    far_cell,
    ods_row,
    read_in_child,
    text_cell,
    write_ods,
    write_sheet_xml,
)

ORDER_HEADER = ["order_no", "customer_code", "order_date", "amount"]


def assert_refused(result: Any, before: list[str], db: Database, *words: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stderr.startswith("Error: "), result.stderr
    for word in words:
        assert word in result.stderr, f"{word!r} not in:\n{result.stderr}"
    assert "Hint: " in result.stderr
    assert snapshot(db) == before


def test_a_stray_value_far_away_without_dimension_is_refused(db: Database, tmp_path: Path) -> None:
    """Run as a separate process: calamine would abort it (exit -6), not raise."""
    path = write_sheet_xml(tmp_path / "far.xlsx", HEADER_ROWS + far_cell("XFD1048576", 1048576))
    assert read_in_child(path).returncode == 1  # the reader alone refuses it too
    before = snapshot(db)
    result = subprocess.run(
        [sys.executable, "-m", "cpm", "--db", str(db.path), "import", "orders", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CPM_LANG": "en"},
        check=False,
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stderr.startswith(
        "Error: far.xlsx, sheet Orders: values reach row 1,048,576 and column XFD, 17,179,869,184 cells"
    ), result.stderr
    assert "Ctrl+End" in result.stderr
    assert snapshot(db) == before


def test_an_ods_error_cell_in_the_order_number_is_a_bad_cell(cli: Cli, db: Database, tmp_path: Path) -> None:
    header = ods_row(*(text_cell(name) for name in ORDER_HEADER))
    good = ods_row(*(text_cell(value) for value in ["A1", "C1", "2024-01-05", "10"]))
    failed = ods_row(ODS_ERRORS["#N/A"], *(text_cell(value) for value in ["C1", "2024-01-05", "20"]))
    path = write_ods(tmp_path / "orders.ods", {"订单": header + good + failed})
    before = snapshot(db)
    result = cli("import", "orders", str(path))
    assert_refused(result, before, db, "orders.ods, sheet 订单, row 3, column order_no", "required")


def test_the_first_visible_sheet_is_imported(cli: Cli, db: Database, tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    old = workbook.active
    assert old is not None
    old.title = "Old"
    old.append(ORDER_HEADER)
    old.append(["OLD1", "C9", "2020-01-01", "99"])
    old.sheet_state = "hidden"
    orders = workbook.create_sheet("Orders")
    orders.append(ORDER_HEADER)
    orders.append(["A1", "C1", "2024-01-05", "10"])
    workbook.active = 1
    workbook.save(tmp_path / "book.xlsx")
    result = cli("import", "orders", str(tmp_path / "book.xlsx"))
    assert result.exit_code == 0, result.output
    assert table_rows(db, "SELECT order_no FROM orders") == [("A1",)]
    result = cli("import", "orders", str(tmp_path / "book.xlsx"), "--sheet", "Old")
    assert result.exit_code == 0, result.output
    assert table_rows(db, "SELECT order_no FROM orders ORDER BY 1") == [("A1",), ("OLD1",)]
