"""The committed sample data: made by sample_data/generate.py, the same on every run, and it imports cleanly.

Expected values are computed here from the files themselves (openpyxl, csv, Decimal), never with
cpm's own parsing code.
"""

from __future__ import annotations

import csv
import os
import re
import runpy
import subprocess
import sys
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from cpm.db import Database
from tests.conftest import Cli, table_rows

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
WORKBOOKS = ("customers.xlsx", "orders.xlsx")
CSV_FILE = "orders.csv"
FIRST_DAY, LAST_DAY = date(2024, 11, 1), date(2026, 10, 31)

Cells = dict[str, list[tuple[Any, ...]]]


def read_cells(path: Path) -> Cells:
    """Every sheet's cell values, row by row."""
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        return {name: list(workbook[name].iter_rows(values_only=True)) for name in workbook.sheetnames}
    finally:
        workbook.close()


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def as_records(cells: Cells, sheet: str) -> list[dict[str, Any]]:
    header, *rows = cells[sheet]
    return [dict(zip(header, row, strict=True)) for row in rows]


def cents(value: int | float) -> int:
    """A cell's amount in cents; the sample must never hold more than two decimals."""
    hundredths = Decimal(str(value)) * 100
    assert hundredths == hundredths.to_integral_value(), value
    return int(hundredths)


def day_of(value: Any) -> date:
    """A date cell, or one of the two text forms the sample uses (2025年3月5日, 2025/3/5)."""
    if isinstance(value, datetime):
        return value.date()
    match = re.fullmatch(r"(\d{4})年(\d{1,2})月(\d{1,2})日|(\d{4})/(\d{1,2})/(\d{1,2})", value)
    assert match, value
    year, month, day = (int(g) for g in match.groups() if g is not None)
    return date(year, month, day)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two runs of the generator at once: the script in a process of its own (with a hash seed of
    its own), and its generate() in this process."""
    folders = (tmp_path_factory.mktemp("first"), tmp_path_factory.mktemp("second"))
    script = SAMPLE / "generate.py"
    run = subprocess.Popen(
        [sys.executable, str(script), "--out", str(folders[0])],
        env={**os.environ, "PYTHONHASHSEED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        runpy.run_path(str(script), run_name="sample_data_generate")["generate"](folders[1])
    finally:
        _, err = run.communicate(timeout=120)
    assert run.returncode == 0, err.decode()
    return folders


@pytest.fixture(scope="module")
def generated_cells(generated: tuple[Path, Path]) -> list[dict[str, Cells]]:
    return [{name: read_cells(folder / name) for name in WORKBOOKS} for folder in generated]


@pytest.fixture(scope="module")
def committed() -> dict[str, Cells]:
    return {name: read_cells(SAMPLE / name) for name in WORKBOOKS}


def test_the_generator_writes_the_same_files_every_time(
    generated: tuple[Path, Path], generated_cells: list[dict[str, Cells]]
) -> None:
    first, second = generated
    assert generated_cells[0] == generated_cells[1]
    for name in WORKBOOKS:
        # Fixed document and zip times: not only the same cells but the same bytes.
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert (first / CSV_FILE).read_bytes() == (second / CSV_FILE).read_bytes()


def test_the_committed_files_are_what_the_generator_makes(
    generated: tuple[Path, Path], generated_cells: list[dict[str, Cells]], committed: dict[str, Cells]
) -> None:
    for name in WORKBOOKS:
        assert generated_cells[0][name] == committed[name], f"{name} differs: run sample_data/generate.py"
    csv_bytes = (generated[0] / CSV_FILE).read_bytes()
    assert csv_bytes == (SAMPLE / CSV_FILE).read_bytes(), f"{CSV_FILE} differs: run sample_data/generate.py"
    total = sum((SAMPLE / name).stat().st_size for name in (*WORKBOOKS, CSV_FILE))
    assert total < 2_000_000


def test_the_sample_is_shaped_as_documented(committed: dict[str, Cells]) -> None:
    customers = as_records(committed["customers.xlsx"], "客户")
    assert list(committed["customers.xlsx"]) == ["客户"]
    assert [c["客户编号"] for c in customers] == [f"C{n:04d}" for n in range(1, 501)]
    assert all(re.fullmatch(r"1[358]\d{9}", c["手机号"]) for c in customers)
    joined = {c["客户编号"]: c["注册日期"].date() for c in customers}
    assert all(date(2022, 1, 1) <= day <= LAST_DAY for day in joined.values())

    assert list(committed["orders.xlsx"]) == ["订单"]
    lines = as_records(committed["orders.xlsx"], "订单")
    positions: dict[str, list[int]] = defaultdict(list)
    for position, line in enumerate(lines):
        positions[line["订单号"]].append(position)
    orders = {no: [lines[p] for p in where] for no, where in positions.items()}
    days = [day_of(line["下单日期"]) for line in lines]
    assert days == sorted(days)
    assert days[0] == FIRST_DAY and days[-1] == LAST_DAY
    for order_no, order in orders.items():
        first, where = order[0], positions[order_no]
        assert re.fullmatch(r"SO\d{10}", order_no)
        assert where == list(range(where[0], where[0] + len(where))), f"{order_no}: lines not consecutive"
        assert {(line["客户编号"], day_of(line["下单日期"])) for line in order} == {
            (first["客户编号"], day_of(first["下单日期"]))
        }
        assert joined[first["客户编号"]] <= day_of(first["下单日期"])
        assert 2000 <= sum(cents(line["实付金额"]) for line in order) <= 300000
    multi = sum(len(order) > 1 for order in orders.values())
    assert 0.03 < multi / len(orders) < 0.07
    live = sum(order[0]["订单状态"] == "已完成" for order in orders.values())
    assert 0.95 < live / len(orders) < 0.99

    web = read_csv(SAMPLE / CSV_FILE)
    assert (SAMPLE / CSV_FILE).read_bytes().startswith(b"\xef\xbb\xbf")
    assert all(re.fullmatch(r"[$¥]\d{1,3}(,\d{3})*\.\d{2}", row["Total"]) for row in web)
    assert all(re.fullmatch(r"\d{2}/\d{2}/\d{4}", row["Order Date"]) for row in web)
    newcomers = sorted({row["Customer ID"] for row in web} - set(joined))
    assert newcomers == [f"W{n:04d}" for n in range(1, 21)]


def test_the_sample_imports_without_a_rejected_row(
    cli: Cli, db: Database, committed: dict[str, Cells]
) -> None:
    lines = as_records(committed["orders.xlsx"], "订单")
    web = read_csv(SAMPLE / CSV_FILE)
    pos_orders = {line["订单号"] for line in lines}
    web_orders = {row["Order ID"] for row in web}
    pos_amount = sum(cents(line["实付金额"]) for line in lines)
    codes = {row[0] for row in committed["customers.xlsx"]["客户"][1:]}
    codes |= {line["客户编号"] for line in lines} | {row["Customer ID"] for row in web}

    for args in (
        ("customers", str(SAMPLE / "customers.xlsx")),
        ("orders", str(SAMPLE / "orders.xlsx")),
        ("orders", str(SAMPLE / CSV_FILE), "--dayfirst"),
    ):
        result = cli("import", *args)
        assert result.exit_code == 0, result.output
        assert re.search(r"^rejected rows\s+0$", result.stdout, re.MULTILINE), result.stdout

    assert table_rows(db, "SELECT COUNT(*) FROM orders") == [(len(pos_orders | web_orders),)]
    stored = dict(table_rows(db, "SELECT order_no, amount FROM orders"))
    assert sum(stored[order_no] for order_no in pos_orders) == pos_amount
    assert table_rows(db, "SELECT COUNT(*) FROM customers") == [(len(codes),)]

    again = cli("import", "orders", str(SAMPLE / "orders.xlsx"))
    assert again.exit_code == 0, again.output
    assert table_rows(
        db, "SELECT inserted, updated, unchanged, rejected FROM import_batches ORDER BY id DESC LIMIT 1"
    ) == [(0, 0, len(pos_orders), 0)]
    assert table_rows(db, "SELECT SUM(rejected) FROM import_batches") == [(0,)]
