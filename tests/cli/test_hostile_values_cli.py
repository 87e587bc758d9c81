"""Hostile cell values through `cpm import`, end to end.

Codes that differ only by width or invisible ends are one code on every import path; a code with
a control or bidi character, an amount in other digits or with contradicting signs, a time that
is no time, Excel's serial 60 and a NaN or infinite number cell are each refused by cell (file,
sheet, row, column, value), the whole file is rejected and the database is as it was — or, with
--skip-invalid, the bad rows go to the rejects file.
"""

from __future__ import annotations

import shutil
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from cpm import db as database
from cpm.db import Database
from tests.conftest import Cli, snapshot, table_rows, write_csv, write_xlsx

ORDER_HEADER = ["order_no", "customer_code", "order_date", "amount", "quantity"]
GOOD_ORDER = ["A1", "C1", "2024-01-05", "100.00", 1]


@pytest.fixture(scope="module")
def empty_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database, made once: migrating per test is most of the time."""
    folder = tmp_path_factory.mktemp("empty")
    target = Database.from_option(str(folder / "shop.db"))
    database.create_database_file(target)
    database.upgrade(target)
    database.dispose_engines()
    return folder / "shop.db"


@pytest.fixture
def shop(empty_file: Path, tmp_path: Path) -> Database:
    return Database.from_option(str(shutil.copy2(empty_file, tmp_path / "shop.db")))


@pytest.fixture
def cli(shop: Database, tmp_path: Path) -> Cli:
    assert shop.path is not None
    return Cli(shop.path, tmp_path)


def assert_refused(result: Any, before: list[str], db: Database, *words: str) -> None:
    """Exit 1, no traceback, `Error:` on stderr with every word, nothing written."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stderr.startswith("Error: "), result.stderr
    for word in words:
        assert word in result.stderr, f"{word!r} not in:\n{result.stderr}"
    assert snapshot(db) == before


def with_xml_replaced(path: Path, replacements: dict[str, str]) -> Path:
    """The workbook at `path` with text in its XML swapped: what openpyxl refuses to write.

    A number cell's `<v>1</v>` can become `<v>NaN</v>` (calamine hands it over as float('nan')),
    and a text can hold Excel's escapes of control characters (`_x001B_` is ESC).
    """
    original = path.with_suffix(".orig.xlsx")
    path.rename(original)
    with zipfile.ZipFile(original) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.endswith(".xml"):
                for old, new in replacements.items():
                    data = data.replace(old.encode(), new.encode())
            target.writestr(item, data)
    original.unlink()
    return path


# --- one code, one customer -----------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_codes_differing_only_by_width_or_invisible_ends_are_one_customer(
    suffix: str, cli: Cli, shop: Database, tmp_path: Path
) -> None:
    rows = [
        ["customer_code", "name"],
        ["C0001", "张伟"],
        ["Ｃ０００１", "张伟"],
        ["\u200bC0001 ", "张伟"],
        ["\ufeffＣ０００２\u3000", "王芳"],
    ]
    path = tmp_path / f"customers{suffix}"
    (write_csv if suffix == ".csv" else write_xlsx)(path, rows)
    result = cli("import", "customers", str(path))
    assert result.exit_code == 0, result.output
    assert table_rows(shop, "SELECT customer_code, name FROM customers ORDER BY 1") == [
        ("C0001", "张伟"),
        ("C0002", "王芳"),
    ]


def test_one_customer_twice_by_width_with_different_data_is_a_conflict(
    cli: Cli, shop: Database, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "customers.csv", [["customer_code", "city"], ["C1", "上海"], ["Ｃ１", "北京"]]
    )
    before = snapshot(shop)
    result = cli("import", "customers", str(path))
    assert_refused(
        result, before, shop, "row 2, column customer_code", "row 3, column customer_code", "上海", "北京"
    )


def test_order_lines_whose_numbers_differ_only_by_width_are_one_order(
    cli: Cli, shop: Database, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "orders.csv",
        [
            ORDER_HEADER,
            ["A1", "C1", "2024-01-05", "100.00", 1],
            ["Ａ１", "Ｃ１", "2024-01-05", "20.50", 2],  # the same order, typed in full width
            [" A1\u200b", "\u200bC1", "2024-01-05", "1.00", 1],
        ],
    )
    result = cli("import", "orders", str(path))
    assert result.exit_code == 0, result.output
    assert table_rows(
        shop,
        "SELECT o.order_no, c.customer_code, o.amount, o.quantity FROM orders o JOIN customers c "
        "ON c.id = o.customer_id",
    ) == [("A1", "C1", 12150, 4)]


def test_a_later_file_with_full_width_codes_finds_the_stored_customers_and_orders(
    cli: Cli, shop: Database, tmp_path: Path
) -> None:
    first = write_csv(tmp_path / "first.csv", [ORDER_HEADER, GOOD_ORDER])
    assert cli("import", "orders", str(first)).exit_code == 0
    again = write_csv(
        tmp_path / "again.csv", [ORDER_HEADER, ["Ａ１", "Ｃ１", "2024-01-05", "１００．００", "１"]]
    )
    result = cli("import", "orders", str(again))
    assert result.exit_code == 0, result.output
    assert table_rows(shop, "SELECT customer_code FROM customers") == [("C1",)]
    assert table_rows(shop, "SELECT order_no, amount FROM orders") == [("A1", 10000)]
    assert table_rows(shop, "SELECT inserted, updated, unchanged FROM import_batches ORDER BY id") == [
        (1, 0, 0),
        (0, 0, 1),
    ]


def test_opening_points_for_a_full_width_code_go_to_that_customer(
    cli: Cli, shop: Database, tmp_path: Path
) -> None:
    customers = write_csv(tmp_path / "customers.csv", [["customer_code", "name"], ["C1", "Li"]])
    assert cli("import", "customers", str(customers)).exit_code == 0
    points = write_csv(
        tmp_path / "points.csv", [["customer_code", "points", "earned_on"], ["Ｃ１", "120", "2024-01-05"]]
    )
    result = cli("import", "points", str(points))
    assert result.exit_code == 0, result.output
    assert table_rows(
        shop, "SELECT c.customer_code, p.points FROM points_ledger p JOIN customers c ON c.id = p.customer_id"
    ) == [("C1", 120)]


@pytest.mark.parametrize(
    ("code", "named"),
    [
        ("C_x001B_[31m1", "U+001B"),  # Excel's escape of ESC: an ANSI colour sequence
        ("C_x0007_1", "U+0007"),  # BEL
        ("C\u202e1", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ("C\u200b1", "U+200B (ZERO WIDTH SPACE)"),
    ],
)
@pytest.mark.parametrize("column", ["order_no", "customer_code"])
def test_a_code_with_an_invisible_character_is_refused_by_cell(
    column: str, code: str, named: str, cli: Cli, shop: Database, tmp_path: Path
) -> None:
    bad = dict(zip(ORDER_HEADER, ["A2", "C2", "2024-01-06", "20", 1], strict=True))
    bad[column] = "PLACEHOLDER"
    path = write_xlsx(tmp_path / "orders.xlsx", [ORDER_HEADER, GOOD_ORDER, list(bad.values())])
    with_xml_replaced(path, {"PLACEHOLDER": code})
    before = snapshot(shop)
    result = cli("import", "orders", str(path))
    assert_refused(
        result,
        before,
        shop,
        f"orders.xlsx, sheet Sheet1, row 3, column {column}",
        named,
        "invisible character",
    )
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert "row 2," not in result.stderr


def test_with_skip_invalid_a_code_with_a_control_character_goes_to_the_rejects(
    cli: Cli, shop: Database, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "customers.csv",
        [["customer_code", "name"], ["C1", "Li"], ["C\x1b2", "Wang"], ["C3", "Zhao"]],
    )
    result = cli("import", "customers", str(path), "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert table_rows(shop, "SELECT customer_code FROM customers ORDER BY 1") == [("C1",), ("C3",)]
    lines = (tmp_path / "customers.csv.rejects.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 2 and lines[1].startswith("3,") and "U+001B" in lines[1]


def test_names_with_control_characters_are_kept_as_they_are(cli: Cli, shop: Database, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "customers.csv", [["customer_code", "name"], ["C1", " Li\x1b[31m Lei\u202e "]]
    )
    result = cli("import", "customers", str(path))
    assert result.exit_code == 0, result.output
    assert table_rows(shop, "SELECT name FROM customers") == [("Li\x1b[31m Lei\u202e",)]


# --- amounts and times -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "bad", "words"),
    [
        ("amount", "¹²³.⁴⁵", ("U+00B9 (SUPERSCRIPT ONE)",)),
        ("amount", "①②", ("U+2460 (CIRCLED DIGIT ONE)",)),
        ("amount", "12٣.00", ("U+0663 (ARABIC-INDIC DIGIT THREE)",)),
        ("amount", "(-12.00)", ("'(-12.00)'", "parentheses")),
        ("amount", "$12€", ("'$12€'", "two currency signs")),
        ("quantity", "③", ("U+2462",)),
        ("order_date", "2024-01-05 25:61", ("'2024-01-05 25:61'", "the time 25:61")),
        ("order_date", "2024-01-05T10:00:00+99:99", ("offset +99:99",)),
        ("order_date", "2024年1月5日 24:30", ("the time 24:30",)),
    ],
)
def test_a_bad_amount_count_or_time_is_refused_by_cell(
    column: str, bad: str, words: tuple[str, ...], cli: Cli, shop: Database, tmp_path: Path
) -> None:
    row = dict(zip(ORDER_HEADER, ["A2", "C1", "2024-01-06", "20", 1], strict=True))
    row[column] = bad
    path = write_csv(tmp_path / "orders.csv", [ORDER_HEADER, GOOD_ORDER, list(row.values())])
    before = snapshot(shop)
    result = cli("import", "orders", str(path))
    assert_refused(result, before, shop, f"orders.csv, row 3, column {column}", *words)


def test_full_width_amounts_and_codes_import(cli: Cli, shop: Database, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "orders.csv",
        [
            ORDER_HEADER,
            ["ＳＯ１", "Ｃ１", "２０２４－０１－０５", "￥１，２３４．５０", "２"],
            ["SO2", "C1", "2024-01-06", "(12.00)", 1],
        ],
    )
    result = cli("import", "orders", str(path), "--skip-invalid")
    assert result.exit_code == 0, result.output
    # (12.00) is a negative amount: an order adding up to less than 0 is refused (README, Orders).
    assert table_rows(shop, "SELECT order_no, order_date, amount, quantity FROM orders") == [
        ("SO1", "2024-01-05", 123450, 2)
    ]
    assert "negative" in (tmp_path / "orders.csv.rejects.csv").read_text(encoding="utf-8-sig")


# --- Excel serials, as a workbook hands them over -------------------------------------------------


def test_excel_serials_in_a_workbook_around_excels_fictitious_leap_day(
    cli: Cli, shop: Database, tmp_path: Path
) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["customer_code", "joined_on"])
    # Plain numbers (calamine hands over the float) and date cells (calamine converts them).
    for code, value in (("N1", 1), ("N2", 59), ("N3", 61), ("N4", 45292)):
        sheet.append([code, value])
    for code, value in (("D1", date(1900, 1, 1)), ("D2", date(1900, 2, 28)), ("D3", date(1900, 3, 1))):
        sheet.append([code, value])
        sheet.cell(sheet.max_row, 2).number_format = "yyyy-mm-dd"
    sheet.append(["D4", 1])
    sheet.cell(sheet.max_row, 2).number_format = "yyyy-mm-dd"  # serial 1 shown as a date
    workbook.save(tmp_path / "customers.xlsx")
    result = cli("import", "customers", str(tmp_path / "customers.xlsx"))
    assert result.exit_code == 0, result.output
    assert table_rows(shop, "SELECT customer_code, joined_on FROM customers ORDER BY 1") == [
        ("D1", "1900-01-01"),
        ("D2", "1900-02-28"),
        ("D3", "1900-03-01"),
        ("D4", "1900-01-01"),
        ("N1", "1900-01-01"),
        ("N2", "1900-02-28"),
        ("N3", "1900-03-01"),
        ("N4", "2024-01-01"),
    ]


def test_excel_serial_60_as_a_number_is_refused_by_cell(cli: Cli, shop: Database, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "customers.xlsx", [["customer_code", "joined_on"], ["C1", 59], ["C2", 60]])
    before = snapshot(shop)
    result = cli("import", "customers", str(path))
    assert_refused(result, before, shop, "row 3, column joined_on: 60", "1900-02-29, a day that never was")


def test_serials_typed_as_text_are_dates_only_when_recent(cli: Cli, shop: Database, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "customers.csv", [["customer_code", "joined_on"], ["C1", "45292"], ["C2", "59"]]
    )
    before = snapshot(shop)
    result = cli("import", "customers", str(path))
    assert_refused(result, before, shop, "row 3, column joined_on: '59'", "not a date")
    ok = write_csv(tmp_path / "ok.csv", [["customer_code", "joined_on"], ["C1", "45292"]])
    assert cli("import", "customers", str(ok)).exit_code == 0
    assert table_rows(shop, "SELECT joined_on FROM customers") == [("2024-01-01",)]


# --- NaN and infinite number cells -----------------------------------------------------------------


@pytest.mark.parametrize("stored", ["NaN", "INF", "-inf"])
@pytest.mark.parametrize(
    ("column", "at"),
    [
        ("order_no", 0),
        ("customer_code", 1),
        ("order_date", 2),
        ("amount", 3),
        ("quantity", 4),
        ("name (customer_name)", 5),
    ],
)
def test_a_nan_or_infinite_number_cell_is_refused_by_cell(
    column: str, at: int, stored: str, cli: Cli, shop: Database, tmp_path: Path
) -> None:
    header = [*ORDER_HEADER, "name"]
    bad: list[Any] = ["A2", "C2", "2024-01-06", "20", 1, "Wang"]
    bad[at] = 987654321  # a number no other cell holds, replaced in the file's XML below
    path = write_xlsx(tmp_path / "orders.xlsx", [header, [*GOOD_ORDER, "Li"], bad])
    with_xml_replaced(path, {"<v>987654321</v>": f"<v>{stored}</v>"})
    before = snapshot(shop)
    result = cli("import", "orders", str(path))
    shown = "nan" if stored == "NaN" else "-inf" if stored.startswith("-") else "inf"
    assert_refused(result, before, shop, f"row 3, column {column}: {shown}")
    assert "row 2," not in result.stderr
    assert table_rows(shop, "SELECT count(*) FROM customers") == [(0,)]
