"""Hostile files, end to end: `cpm import` refuses each by name (exit 1, `Error:` and a hint, the
database as it was) or reads it right, and never aborts, misreads or guesses silently."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from cpm.db import Database
from cpm.services import importing
from cpm.services.rows import ReadOptions
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


# --- text files: encodings ------------------------------------------------------------------------

CUSTOMERS = "customer_code,name\n"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        pytest.param(
            (CUSTOMERS + "C1,Müller\n").encode("latin-1"),
            ("line 2", "'C1,M黮ler'", "as cp1252 it reads 'C1,Müller'", "--encoding"),
            id="Latin-1",
        ),
        pytest.param(
            (CUSTOMERS + "C1,陳大文\n").encode("big5"),
            ("line 2", "as big5 it reads 'C1,陳大文'", "--encoding"),
            id="Big5",
        ),
        pytest.param(
            "客户编号,姓名\n".encode("gb18030") + "C1,张伟\n".encode() + "C2,李四\n".encode("gb18030"),
            ("mixes encodings", "line 2 holds UTF-8 text ('张伟'", "'寮犱紵'"),
            id="UTF-8 and GB18030 mixed",
        ),
    ],
)
def test_a_csv_in_another_encoding_is_refused_not_misread(
    content: bytes, words: tuple[str, ...], cli: Cli, db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(content)
    before = snapshot(db)
    result = cli("import", "customers", str(path))
    assert_refused(result, before, db, "customers.csv", *words)


@pytest.mark.parametrize(
    ("name", "encoding", "option"),
    [("Müller", "latin-1", "latin-1"), ("Zoë Müller", "cp1252", "cp1252"), ("陳大文", "big5", "big5")],
)
def test_encoding_names_the_encoding(
    name: str, encoding: str, option: str, cli: Cli, db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes((CUSTOMERS + f"C1,{name}\n").encode(encoding))
    result = cli("import", "customers", str(path), "--encoding", option)
    assert result.exit_code == 0, result.output
    assert table_rows(db, "SELECT name FROM customers") == [(name,)]


def test_encoding_that_does_not_fit_the_file_names_the_line(cli: Cli, db: Database, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes((CUSTOMERS + "C1,张三\nC2,李四\n").encode("gb18030"))
    before = snapshot(db)
    result = cli("import", "customers", str(path), "--encoding", "utf-8")
    assert_refused(result, before, db, "customers.csv, line 2: not utf-8 text")


@pytest.mark.parametrize("option", ["no-such-codec", "base64"])
def test_an_unknown_encoding_is_a_usage_error(option: str, cli: Cli, db: Database, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(CUSTOMERS + "C1,A\n", encoding="utf-8")
    before = snapshot(db)
    result = cli("import", "customers", str(path), "--encoding", option)
    assert result.exit_code == 2, result.output
    assert "--encoding" in result.stderr
    assert "is not a text encoding" in result.stderr
    assert "Traceback" not in result.output
    assert snapshot(db) == before


# Rare characters of Chinese names, several outside GB2312 (GBK's extension, some encoded with a
# Latin letter as their second byte: 昇 95 4E, 祎 B5 74, 玥 AB 68).
RARE_NAMES = ["王喆", "李堃", "陈昇", "刘祎", "赵玥", "孙琇", "周珺", "吴淏", "郑燊", "冯垚", "杨犇"]


@pytest.mark.parametrize("header", ["客户编号,客户姓名,城市\n", "customer_code,name,city\n"])
def test_gb18030_with_rare_name_characters_imports_as_it_was(
    header: str, cli: Cli, db: Database, tmp_path: Path
) -> None:
    rows = "".join(f"C{n},{name},北京\n" for n, name in enumerate(RARE_NAMES))
    path = tmp_path / "会员.csv"
    path.write_bytes((header + rows).encode("gb18030"))
    result = cli("import", "customers", str(path))
    assert result.exit_code == 0, result.output
    assert table_rows(db, "SELECT name FROM customers ORDER BY customer_code") == sorted(
        [(name,) for name in RARE_NAMES], key=lambda row: f"C{RARE_NAMES.index(row[0])}"
    )


def test_a_changed_encoding_reads_the_same_file_again() -> None:
    keys = {
        importing.read_options_key(
            path=Path("c.csv"), sheet=None, options=ReadOptions(), skip_invalid=False, encoding=encoding
        )
        for encoding in (None, "big5", "cp1252")
    }
    assert len(keys) == 3


# --- text files: delimiter and long cells ---------------------------------------------------------


def test_a_title_line_above_a_tab_separated_header(cli: Cli, db: Database, tmp_path: Path) -> None:
    path = tmp_path / "会员订单.csv"
    path.write_text(
        "会员订单导出 2026-11\n"
        "订单号\t客户编号\t下单日期\t实付金额\n"
        "A1\tC1\t2026-11-02\t1,234.50\n"
        "A2\tC2\t2026-11-03\t8.00\n",
        encoding="utf-8",
    )
    result = cli("import", "orders", str(path))
    assert result.exit_code == 0, result.output
    assert table_rows(db, "SELECT order_no, amount FROM orders ORDER BY 1") == [("A1", 123450), ("A2", 800)]


def test_a_one_megabyte_cell_is_named_as_such(cli: Cli, db: Database, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(CUSTOMERS + "C1,Ann\nC2," + "x" * (1 << 20) + "\n", encoding="utf-8")
    before = snapshot(db)
    result = cli("import", "customers", str(path))
    assert_refused(result, before, db, "customers.csv, row 3, column 2: a cell of 1,048,576 characters")
    assert "quote" not in result.stderr
