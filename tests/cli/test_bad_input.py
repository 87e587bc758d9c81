"""Malformed input files, end to end.

Each one is refused with `Error: …` on stderr naming the file (and, for a cell, the sheet, the row as
Excel shows it, the column header and the bad value) plus a hint, exit code 1, no traceback, and the
database exactly as it was. A few well-formed files that are easy to get wrong (GB18030, BOM, TSV,
UTF-16, a workbook whose name does not match its content) are positive controls.
"""

from __future__ import annotations

import base64
import io
import shutil
import zipfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.styles import Font

from cpm import db as database
from cpm.db import Database
from tests.conftest import Cli, snapshot, table_rows, write_csv, write_xlsx

ORDER_HEADER = ["order_no", "customer_code", "order_date", "amount", "quantity"]
GOOD_ORDER = ["A1", "C1", "2024-01-05", "100.00", 1]
CUSTOMER_HEADER = ["customer_code", "name", "city"]
OLE2_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# A real Excel 97-2003 .xls (written by LibreOffice from order_no,customer_code,order_date,amount /
# A1,C1,2024-01-05,10; sheet "o"): no library here writes .xls, and the format must be tried for real.
LEGACY_XLS = zlib.decompress(
    base64.b64decode(
        """
    eNrtV11oXFUQnnN3s7m7+btJE39ajdfYbtP8SGMfjGhN0rRqwZoQIxYJ1M3uTRq7m1s2G7SgdJtaQTCg9MGXghTSB1H8QdAHFRN9
    8cE/hEL1KfWt6MPWH6TQ5PqdOedm1yXB3ViKP5nLnHNm7pkzc8+ZmTP3m6/rF8++u/kiFcG9FKBlL0yhAp4Amj5hERmat+x5ns/2
    NuBfBUu6l2cYxPlVAOWZV+pzDet+A/6bMEQungzZtI8m0afpGJUDN8BjCtcrRWa5xHmlwob+9euX+Vvm8QCwOP5lrpfxHwFWAauB
    NcBaYJ26Aqge2ADcBGwENrFPEN0IvAl4M3AzcAvwFuCtWv9tupfYgvEdmt62kW+uK4RNnGKogj6s+UIeOZ/9RXjEO8EF9osfgCN0
    VPpGfywZt68X7GEbYkLaMA8n3Y2RoDPg1tLbzP2I293sfYBesru1Rx80etn2WW5buK0lKf8By3zPnC745ecyeo6/rIOgQvQh/01Q
    jJLFb+navW0OVtOcjK8HnUknHUs2B+vpnIytY4CRzlRqpDORWORgmqPfPLsgcOdtyZdrMv/X0vhGmXz63/HnsHer7XO7mp8r5u9Y
    g9+xBr9tDX54VT7BHdieYJ5/2gCRJU/2VjbAfX02xH1DNsj9pmwl943ZCu9JdvRT0PBVUAWF+xLWE3gWhAkkGp4V9CM9ITN5bojV
    hHIyY0u1fmVfiLuoKidj7RPcCyadELgZzHnRi7aXmi9b6m4w4ccmcr/5O66Hq9TP+SSk7hI3nXDShyZdTItPT2XcFKi4m3Ai/qtE
    LONgbizlTk9mYEJfF5r+Lg8XkEmHg+oCiptNwPxZNenekLeUymbWn7JZNb4mga+U8V/PX2ZhuauvX/72wOhgzyHmZ/P/NbTNUDt2
    Am8Wgm0s0c7tDM9tpK10O1G0P9oyPJFypuxHnKftITcVm+wYcsank7F0S7TrrmhfE9wk+pfzBmPjjh0dPMkKnuc2CmN2MVzq2V4w
    bsX4ZOeFmc4LuZ4dBeOzSHFhfKLgZ4Y6RIfwZfxe0GNY26TneA+JXjDruJe0lPqlJk8bMslG8nQAz2xlnsb2iBer6vS216qOtOeQ
    aVj+WCU/Ucc8UcRb4rJCFRKkKQFKrFAGH5pPBUAFNCVYLrhCSTlZuHyMy0BApok+/UxKt7HcTzQoV8o9pI4+Z2qHlgtgzdxOtVqu
    lfnhnLVKyWRQhOWkjNR0v9FA74fUvUN0H3afuLhRNvoKAOOIhnGzcCHhl2kRNW/ZC0RUDWeZahvn1dQHZM10YCKedqfcsYy975m4
    k7TvubtzODbqJJMOO/eeibGx7r9TOwr/7NYJyx7xlq+yLi2eeu3nKwOHrTdeMal9+3vfyY1+VkelfN+t68tevRkP6zrzoK41E7re
    PKod7NISUbMe79RyPpQyLsd+yTHOf3n+zJ1brNOvwv6OK2/tlTd5EW9E17l+lrQKbF2L/0+Ca/n/x99Z5MOrycgQyYbV+HFoT9MR
    GmU7jpRtfwOnK5V6vDL+q45X+n7aD70p+NgAbHhqXfoDBf9gpchIH96/EicDqAmddZ9fBPrL/f+z9b8aV6b0KE3j+1OoTeXZ74cX
    jPGZSE4GNasLztrQqvVXlLH/uD3pzRX9e6EhzjY47IHl2dO9ju/fCsxs/P8z/AEXJjfu
        """
    )
)


@pytest.fixture(scope="module")
def seeded_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database that already holds an order, made once: migrating per test is most of the time."""
    folder = tmp_path_factory.mktemp("seeded")
    target = Database.from_option(str(folder / "shop.db"))
    database.create_database_file(target)
    database.upgrade(target)
    seed = write_csv(folder / "seed.csv", [ORDER_HEADER, ["S1", "C0", "2023-12-01", "50", 2]])
    result = Cli(folder / "shop.db", folder)("--quiet", "import", "orders", str(seed))
    assert result.exit_code == 0, result.output
    database.dispose_engines()  # the last connection closed: the WAL is folded into the file
    return folder / "shop.db"


@pytest.fixture
def shop(seeded_file: Path, tmp_path: Path) -> Database:
    """A copy of the seeded database, so "nothing changed" covers stored rows too."""
    return Database.from_option(str(shutil.copy2(seeded_file, tmp_path / "shop.db")))


@pytest.fixture
def cli(shop: Database, tmp_path: Path) -> Cli:
    assert shop.path is not None
    return Cli(shop.path, tmp_path)


def assert_refused(result: Any, before: list[str], db: Database, *words: str) -> None:
    """Exit 1, no traceback, `Error:` and a hint on stderr with every word, nothing written."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stderr.startswith("Error: "), result.stderr
    for word in words:
        assert word in result.stderr, f"{word!r} not in:\n{result.stderr}"
    assert "Hint: " in result.stderr, f"no hint in:\n{result.stderr}"
    assert snapshot(db) == before


def write_rows(path: Path, rows: Sequence[Sequence[Any]]) -> Path:
    return write_xlsx(path, rows) if path.suffix == ".xlsx" else write_csv(path, rows)


def xlsx_bytes(rows: Sequence[Sequence[Any]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def truncated_xlsx() -> bytes:
    whole = xlsx_bytes([ORDER_HEADER] + [[f"A{n}", "C1", "2024-01-05", n, 1] for n in range(100)])
    return whole[: len(whole) // 2]  # as a download or a copy cut short leaves it


def damaged_xls() -> bytes:
    data = bytearray(LEGACY_XLS)
    data[64] = 0  # the mini-FAT sector count: calamine panics (a Rust panic, not an exception)
    return bytes(data)


# --- the file itself cannot be read ---------------------------------------------------------------


def test_missing_file(cli: Cli, shop: Database, tmp_path: Path) -> None:
    before = snapshot(shop)
    result = cli("import", "orders", str(tmp_path / "nowhere.xlsx"))
    assert_refused(result, before, shop, "nowhere.xlsx", "no such file")


def test_a_folder(cli: Cli, shop: Database, tmp_path: Path) -> None:
    folder = tmp_path / "exports.xlsx"
    folder.mkdir()
    before = snapshot(shop)
    result = cli("import", "orders", str(folder))
    assert_refused(result, before, shop, "exports.xlsx", "folder")


SPREADSHEET_2003_XML = (
    b'<?xml version="1.0"?>\n<?mso-application progid="Excel.Sheet"?>\n'
    b'<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"><Worksheet ss:Name="S"/></Workbook>\n'
)

# name of the file, its content, words the message must hold (besides the file name)
BROKEN_FILES: dict[str, tuple[str, Callable[[], bytes], tuple[str, ...]]] = {
    "empty xlsx": ("orders.xlsx", lambda: b"", ("empty",)),
    "empty csv": ("orders.csv", lambda: b"", ("empty",)),
    "png renamed xlsx": ("photo.xlsx", lambda: PNG_MAGIC + bytes(range(256)) * 4, ("PNG",)),
    "png renamed csv": ("orders.csv", lambda: PNG_MAGIC + bytes(512), ("PNG",)),
    "text renamed xlsx": ("notes.xlsx", lambda: b"order_no,amount\nA1,10\n", ("text", ".csv")),
    "html saved as xls": (
        "pos-export.xls",
        lambda: b"<html><body><table><tr><td>1</td></tr></table>",
        ("HTML",),
    ),
    "excel 2003 xml as xls": ("old.xls", lambda: SPREADSHEET_2003_XML, ("2003",)),
    "zip with junk inside": (
        "junk.xlsx",
        lambda: zip_bytes({"[Content_Types].xml": b"\x00garbage<<<", "xl/workbook.xml": b"nope"}),
        ("damaged",),
    ),
    "word document renamed xlsx": (
        "letter.xlsx",
        lambda: zip_bytes({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"}),
        ("Word",),
    ),
    "plain zip renamed xlsx": ("archive.xlsx", lambda: zip_bytes({"orders.csv": b"a,b\n"}), ("zip",)),
    "truncated xlsx": ("cut.xlsx", truncated_xlsx, ("damaged",)),
    "encrypted xlsx (OLE2 container)": ("secret.xlsx", lambda: OLE2_MAGIC + bytes(4096), ("password",)),
    "OLE2 header only, as xls": ("broken.xls", lambda: OLE2_MAGIC + bytes(4096), ("damaged",)),
    "xls that makes the reader panic": ("panic.xls", damaged_xls, ("damaged",)),
}


@pytest.mark.parametrize("case", BROKEN_FILES, ids=list(BROKEN_FILES))
def test_unreadable_file(case: str, cli: Cli, shop: Database, tmp_path: Path) -> None:
    name, content, words = BROKEN_FILES[case]
    path = tmp_path / name
    path.write_bytes(content())
    before = snapshot(shop)
    result = cli("import", "orders", str(path))
    assert_refused(result, before, shop, name, *words)


def test_encrypted_xlsx_made_by_msoffcrypto(cli: Cli, shop: Database, tmp_path: Path) -> None:
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = tmp_path / "plain.xlsx"
    plain.write_bytes(xlsx_bytes([ORDER_HEADER, GOOD_ORDER]))
    secret = tmp_path / "secret.xlsx"
    with plain.open("rb") as source, secret.open("wb") as target:
        OOXMLFile(source).encrypt("pa55word", target)
    before = snapshot(shop)
    assert_refused(cli("import", "orders", str(secret)), before, shop, "secret.xlsx", "password")


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
@pytest.mark.parametrize(
    ("rows", "words"),
    [
        ([ORDER_HEADER], ("no data",)),
        ([["", ""], ["", ""]], ("no data",)),
        ([["Orders 2024"]], ("order_no",)),
    ],
    ids=["header only", "blank rows only", "title only"],
)
def test_no_data(
    suffix: str, rows: list[list[Any]], words: tuple[str, ...], cli: Cli, shop: Database, tmp_path: Path
) -> None:
    path = write_rows(tmp_path / f"orders{suffix}", rows)
    before = snapshot(shop)
    result = cli("import", "orders", str(path))
    assert_refused(result, before, shop, path.name, *words)


def test_sheet_that_does_not_exist_lists_the_sheets(cli: Cli, shop: Database, tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "book.xlsx", [ORDER_HEADER, GOOD_ORDER], sheet="订单", Notes=[["x"]])
    before = snapshot(shop)
    result = cli("import", "orders", str(path), "--sheet", "Orders")
    assert_refused(result, before, shop, "book.xlsx", "Orders", "订单", "Notes")


def test_sheet_option_on_a_csv(cli: Cli, shop: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orders.csv", [ORDER_HEADER, GOOD_ORDER])
    before = snapshot(shop)
    result = cli("import", "orders", str(path), "--sheet", "Orders")
    assert_refused(result, before, shop, "orders.csv", "--sheet")


def test_missing_required_columns_are_named_and_map_suggested(
    cli: Cli, shop: Database, tmp_path: Path
) -> None:
    path = write_xlsx(tmp_path / "orders.xlsx", [["Ref", "customer_code", "amount"], ["A1", "C1", 10]])
    before = snapshot(shop)
    result = cli("import", "orders", str(path))
    assert_refused(result, before, shop, "orders.xlsx", "order_no", "order_date", "--map", "Ref")
    missing = result.stderr.partition("missing")[2].partition("Header row")[0]
    assert "customer_code" not in missing and "amount" not in missing


def test_map_naming_a_column_that_is_not_there(cli: Cli, shop: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orders.csv", [ORDER_HEADER, GOOD_ORDER])
    before = snapshot(shop)
    result = cli("import", "orders", str(path), "--map", "Ref=order_no")
    assert_refused(result, before, shop, "orders.csv", "Ref")


def test_a_stray_value_far_away_is_refused_not_a_crash(cli: Cli, shop: Database, tmp_path: Path) -> None:
    """calamine would allocate the whole A1:XFD1048576 grid (550 GB) and abort the process."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(ORDER_HEADER)
    sheet.append(GOOD_ORDER)
    sheet["XFD1048576"] = "oops"
    workbook.save(tmp_path / "stray.xlsx")
    before = snapshot(shop)
    result = cli("import", "orders", str(tmp_path / "stray.xlsx"))
    assert_refused(result, before, shop, "stray.xlsx", "1,048,576", "XFD", "Ctrl+End")


def test_formatting_far_away_is_no_problem(cli: Cli, shop: Database, tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(ORDER_HEADER)
    sheet.append(GOOD_ORDER)
    sheet["XFD1048576"].font = Font(bold=True)  # the used range is huge, the data is not
    workbook.save(tmp_path / "styled.xlsx")
    result = cli("import", "orders", str(tmp_path / "styled.xlsx"))
    assert result.exit_code == 0, result.output
    assert table_rows(shop, "SELECT amount FROM orders WHERE order_no = 'A1'") == [(10000,)]


# --- bad cells ------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
@pytest.mark.parametrize(
    ("column", "bad", "words"),
    [
        ("quantity", -3, ("-3", "negative")),
        ("amount", "ten yuan", ("'ten yuan'",)),
        ("amount", "12.345", ("12.345",)),
        ("order_date", "2024-13-45", ("2024-13-45",)),
        ("order_date", "yesterday", ("yesterday",)),
        ("order_date", "25/01/2024", ("25/01/2024", "--dayfirst")),
        ("customer_code", "", ("(empty)", "required")),
    ],
)
def test_bad_cell_is_located(
    suffix: str, column: str, bad: Any, words: tuple[str, ...], cli: Cli, shop: Database, tmp_path: Path
) -> None:
    row = dict(zip(ORDER_HEADER, ["A2", "C1", "2024-01-06", "20", 1], strict=True))
    row[column] = bad
    path = write_rows(
        tmp_path / f"orders{suffix}",
        [ORDER_HEADER, GOOD_ORDER, list(row.values()), ["A3", "C2", "2024-01-07", "30", 2]],
    )
    before = snapshot(shop)
    result = cli("import", "orders", str(path))
    where = "orders.xlsx, sheet Sheet1" if suffix == ".xlsx" else "orders.csv"
    assert_refused(result, before, shop, f"{where}, row 3, column {column}", *words)
    assert "row 2," not in result.stderr and "row 4," not in result.stderr


def test_day_first_date_imports_with_dayfirst(cli: Cli, shop: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orders.csv", [ORDER_HEADER, ["A1", "C1", "25/01/2024", "10", 1]])
    result = cli("import", "orders", str(path), "--dayfirst")
    assert result.exit_code == 0, result.output
    assert table_rows(shop, "SELECT order_date FROM orders WHERE order_no = 'A1'") == [("2024-01-25",)]


def test_customer_code_twice_with_conflicting_data_names_both_rows(
    cli: Cli, shop: Database, tmp_path: Path
) -> None:
    path = write_xlsx(
        tmp_path / "customers.xlsx",
        [
            CUSTOMER_HEADER,
            ["C1", "Li Lei", "Shanghai"],
            ["C2", "Han Meimei", "Beijing"],
            ["C1", "Li Lei", "Xi'an"],
        ],
    )
    before = snapshot(shop)
    result = cli("import", "customers", str(path))
    assert_refused(
        result, before, shop, "customers.xlsx", "row 2, column customer_code", "row 4, column customer_code"
    )
    assert "'C1'" in result.stderr and "Shanghai" in result.stderr and "Xi'an" in result.stderr
    assert "row 3," not in result.stderr


@pytest.mark.parametrize(
    ("column", "other", "shown"),
    [("customer_code", "C9", "'C9'"), ("order_date", "2024-02-01", "2024-02-01")],
)
def test_order_lines_that_disagree(
    column: str, other: str, shown: str, cli: Cli, shop: Database, tmp_path: Path
) -> None:
    second_line = dict(zip(ORDER_HEADER, ["A1", "C1", "2024-01-05", "5", 1], strict=True))
    second_line[column] = other
    path = write_csv(
        tmp_path / "lines.csv",
        [ORDER_HEADER, GOOD_ORDER, ["B1", "C2", "2024-01-05", "7", 1], list(second_line.values())],
    )
    before = snapshot(shop)
    result = cli("import", "orders", str(path))
    assert_refused(result, before, shop, f"lines.csv, row 4, column {column}", shown, "A1", "row 2")


@pytest.mark.parametrize(
    ("column", "line", "lines", "shown"),
    [
        # Each cell holds the largest amount allowed; 9,224 of them pass SQLite's 64-bit integers.
        ("amount", "9999999999999.99", 9300, "'92999999999999907.00'"),
        ("amount", "9999999999999.99", 2, "'19999999999999.98'"),
        ("quantity", "999999999999999", 9300, "9299999999999990700"),
    ],
)
def test_order_lines_adding_up_to_too_much(
    column: str, line: str, lines: int, shown: str, cli: Cli, shop: Database, tmp_path: Path
) -> None:
    order_line = dict(zip(ORDER_HEADER, ["A1", "C1", "2024-01-05", "10.00", 1], strict=True))
    order_line[column] = line
    path = write_csv(
        tmp_path / "big.csv",
        [ORDER_HEADER, ["B1", "C2", "2024-01-05", "7", 1], *[list(order_line.values())] * lines],
    )
    before = snapshot(shop)
    result = cli("import", "orders", str(path))
    assert_refused(result, before, shop, f"big.csv, row 3, column {column}: {shown}", "A1", "1 problem")


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param([["A1", "C1", "2024-01-05", "10", "-5", ""]], id="a negative refund given"),
        pytest.param(
            [
                ["A1", "C1", "2024-01-05", "20", "", "completed"],
                ["A1", "C1", "2024-01-05", "-5", "", "refunded"],
            ],
            id="a refunded discount line",
        ),
    ],
)
def test_an_order_refunding_a_negative_amount(
    lines: list[list[str]], cli: Cli, shop: Database, tmp_path: Path
) -> None:
    header = [*ORDER_HEADER[:4], "refunded_amount", "status"]
    path = write_csv(tmp_path / "refunds.csv", [header, ["B1", "C2", "2024-01-05", "7", "", ""], *lines])
    before = snapshot(shop)
    result = cli("import", "orders", str(path))
    assert_refused(
        result, before, shop, "refunds.csv, row 3, column refunded_amount: '-5.00'", "A1", "negative"
    )


def test_every_bad_row_is_counted(cli: Cli, shop: Database, tmp_path: Path) -> None:
    rows = [ORDER_HEADER] + [[f"A{n}", "C1", f"2024-13-{n % 28 + 1:02d}", "10", 1] for n in range(300)]
    path = write_csv(tmp_path / "many.csv", rows)
    before = snapshot(shop)
    result = cli("import", "orders", str(path))
    assert_refused(result, before, shop, "many.csv", "300 problems", "300 rows")
    listed = [line for line in result.stderr.splitlines() if line.startswith("  many.csv, row ")]
    assert len(listed) == 200
    assert listed[0].startswith("  many.csv, row 2, column order_date: '2024-13-01'")
    assert listed[-1].startswith("  many.csv, row 201, column order_date")
    assert "… and 100 more (order_date: 100)" in result.stderr


# --- text files -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(
            b"order_no,customer_code,order_date,amount\nA1,C1,2024-01-05,\xff\xfe\xfa\n", id="bad bytes"
        ),
        pytest.param(
            b"\xff\xfe\xfaorder_no,customer_code,order_date,amount\nA1,C1,2024-01-05,1\n", id="at start"
        ),
        pytest.param(
            "order_no,customer_code,order_date,amount\nA1,Zoë,2024-01-05,1\n".encode("cp1252"), id="cp1252"
        ),
    ],
)
def test_csv_in_an_unknown_encoding(content: bytes, cli: Cli, shop: Database, tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(content)
    before = snapshot(shop)
    result = cli("import", "orders", str(path))
    assert_refused(result, before, shop, "latin.csv", "UTF-8")


@pytest.mark.parametrize(
    ("lines", "row"),
    [
        ('A1,C1,2024-01-05,10\nA2,"C2,2024-01-06,20\nA3,C3,2024-01-07,30\n', "row 3"),
        ('"A1"x,C1,2024-01-05,10\n', "row 2"),
        # The rest of the file swallowed by the open quote outgrows the csv module's field limit.
        ('A1,"C1,2024-01-05,10\n' + "A2,C2,2024-01-06,20\n" * 10_000, "row 2"),
    ],
    ids=["unclosed quote", "text after a closing quote", "unclosed quote in a long file"],
)
def test_malformed_csv_quoting(lines: str, row: str, cli: Cli, shop: Database, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("order_no,customer_code,order_date,amount\n" + lines, encoding="utf-8")
    before = snapshot(shop)
    result = cli("import", "orders", str(path))
    assert_refused(result, before, shop, f"orders.csv, {row}", "quote")


def test_gb18030_csv_with_chinese_headers_imports(cli: Cli, shop: Database, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "订单.csv",
        [
            ["订单号", "客户编号", "下单日期", "实付金额", "客户姓名"],
            ["A1", "C1", "2024年1月5日", "¥1,234.50", "张三"],
        ],
        encoding="gb18030",
    )
    result = cli("import", "orders", str(path))
    assert result.exit_code == 0, result.output
    stored = table_rows(
        shop,
        "SELECT o.order_date, o.amount, c.name FROM orders o JOIN customers c ON c.id = o.customer_id "
        "WHERE o.order_no = 'A1'",
    )
    assert stored == [("2024-01-05", 123450, "张三")]


@pytest.mark.parametrize(
    ("name", "encoding", "delimiter"),
    [
        ("bom.csv", "utf-8-sig", ","),
        ("orders.tsv", "utf-8", "\t"),
        ("semicolons.csv", "utf-8", ";"),
        ("unicode-text.txt", "utf-16", "\t"),  # Excel's "Unicode Text" export
    ],
)
def test_text_variants_import(
    name: str, encoding: str, delimiter: str, cli: Cli, shop: Database, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / name,
        [ORDER_HEADER, GOOD_ORDER, ["A2", "C2", "2024-01-06", "1,234.50", 3]],
        encoding=encoding,
        delimiter=delimiter,
    )
    result = cli("import", "orders", str(path))
    assert result.exit_code == 0, result.output
    assert table_rows(shop, "SELECT order_no, amount FROM orders WHERE order_no LIKE 'A%' ORDER BY 1") == [
        ("A1", 10000),
        ("A2", 123450),
    ]


# --- the content decides the format, not the name -------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("legacy.xls", lambda: LEGACY_XLS),
        ("legacy-renamed.xlsx", lambda: LEGACY_XLS),
        ("modern-saved-as.xls", lambda: xlsx_bytes([ORDER_HEADER[:4], GOOD_ORDER[:3] + [10]])),
        ("workbook-named.csv", lambda: xlsx_bytes([ORDER_HEADER[:4], GOOD_ORDER[:3] + [10]])),
    ],
)
def test_workbook_under_another_name_imports(
    name: str, content: Callable[[], bytes], cli: Cli, shop: Database, tmp_path: Path
) -> None:
    path = tmp_path / name
    path.write_bytes(content())
    result = cli("import", "orders", str(path))
    assert result.exit_code == 0, result.output
    assert table_rows(shop, "SELECT order_date, amount FROM orders WHERE order_no = 'A1'") == [
        ("2024-01-05", 1000)
    ]


# --- --skip-invalid and --dry-run -----------------------------------------------------------------


def test_skip_invalid_imports_good_rows_and_writes_rejects(cli: Cli, shop: Database, tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "mixed.xlsx",
        [ORDER_HEADER, GOOD_ORDER, ["A2", "C1", "yesterday", "20", 1], ["A3", "C2", "2024-01-07", "30", 2]],
    )
    result = cli("import", "orders", str(path), "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert table_rows(shop, "SELECT order_no FROM orders ORDER BY 1") == [("A1",), ("A3",), ("S1",)]
    lines = (tmp_path / "mixed.xlsx.rejects.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("row,problem,order_no,customer_code,order_date,amount")
    assert len(lines) == 2
    assert lines[1].startswith("3,") and lines[1].endswith(",A2,C1,yesterday,20,1")


def test_skip_invalid_imports_nothing_when_the_rejects_cannot_be_written(
    cli: Cli, shop: Database, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "mixed.csv", [ORDER_HEADER, GOOD_ORDER, ["A2", "C1", "yesterday", "20", 1]])
    (tmp_path / "mixed.csv.rejects.csv").mkdir()
    before = snapshot(shop)
    result = cli("import", "orders", str(path), "--skip-invalid")
    assert_refused(result, before, shop, "mixed.csv.rejects.csv")


def test_dry_run_writes_nothing_but_counts(cli: Cli, shop: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orders.csv", [ORDER_HEADER, GOOD_ORDER, ["A2", "C9", "2024-01-06", "20", 1]])
    before = snapshot(shop)
    result = cli("import", "orders", str(path), "--dry-run")
    assert result.exit_code == 0, result.output
    counts = {
        " ".join(line.split()[:-1]): line.split()[-1] for line in result.stdout.splitlines() if line.split()
    }
    assert (
        counts["rows read"] == "2"
        and counts["would insert"] == "2"
        and counts["would create customers"] == "2"
    )
    assert snapshot(shop) == before
    assert not list(tmp_path.glob("*.rejects.csv"))
