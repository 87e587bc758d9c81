"""`cpm report --xlsx`: the meeting workbook holds the JSON report's numbers, safely formatted."""

from __future__ import annotations

import json
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree

import openpyxl
import pytest

from tests.conftest import Cli, write_csv

AS_OF = "2025-07-01"
HOSTILE = ["=1+1", "+SUM(A1)", "-2+3", "@cmd"]  # leading tabs and CRs are trimmed by the import


@pytest.fixture
def shop(cli: Cli, tmp_path: Path) -> Path:
    customers = [["客户编号", "客户名称", "手机号", "邮箱", "城市"]]
    for n, name in enumerate(HOSTILE + ["张三", "李四"]):
        customers.append([f"C{n}", name, f"1380000{n:04d}", f"user{n}@shop.cn", '=HYPERLINK("x")'])
    # CSV: written to .xlsx by openpyxl these would already be formulas on the way in.
    assert cli("import", "customers", str(write_csv(tmp_path / "c.csv", customers))).exit_code == 0
    orders: list[list[object]] = [["order_no", "customer_code", "order_date", "amount", "status"]]
    for n in range(60):
        month = 1 + n % 6
        orders.append(
            [
                f"S{n}",
                f"C{n % (len(customers) - 1)}",
                f"2025-{month:02d}-{1 + n % 27:02d}",
                f"{(n + 1) * 37.5:.2f}",
                "refunded" if n % 13 == 0 else "completed",
            ]
        )
    assert cli("import", "orders", str(write_csv(tmp_path / "o.csv", orders))).exit_code == 0
    assert cli("award", "--as-of", AS_OF).exit_code == 0
    return tmp_path


def _write(cli: Cli, path: Path, *extra: str) -> dict[str, object]:
    result = cli("report", "--as-of", AS_OF, "--xlsx", str(path), "--format", "json", *extra)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_sheets_and_summary_cards_match_the_json_report(cli: Cli, shop: Path) -> None:
    path = shop / "meeting.xlsx"
    report = _write(cli, path)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == [
        "Summary",
        "Trend",
        "Segments",
        "Customers",
        "At risk",
        "Points",
        "Cohorts",
        "CLV",
        "CLV distribution",
    ]
    summary = wb["Summary"]
    assert "2025-06" in str(summary["A1"].value) and AS_OF in str(summary["A2"].value)
    cards = {
        row[0].value: row
        for row in summary.iter_rows()
        if row[0].value in ("Revenue", "Orders", "Churn rate")
    }
    kpis = report["kpis"]  # type: ignore[index]
    assert Decimal(str(cards["Revenue"][1].value)) == Decimal(kpis["current"]["revenue"])
    assert Decimal(str(cards["Revenue"][2].value)) == Decimal(kpis["previous"]["revenue"])
    assert cards["Orders"][1].value == kpis["current"]["orders"]
    assert cards["Revenue"][1].number_format == '"¥"#,##0.00'
    change = Decimal(kpis["change"]["revenue"])
    colour = cards["Revenue"][3].font.color.rgb[-6:]  # ARGB; the alpha byte varies by writer
    assert colour == ("007A33" if change > 0 else "C00000")


def test_customers_sheet_lists_every_customer_as_the_json_does(cli: Cli, shop: Path) -> None:
    path = shop / "meeting.xlsx"
    _write(cli, path)
    listed = json.loads(cli("report", "customers", "--as-of", AS_OF, "--format", "json").stdout)["customers"]
    ws = openpyxl.load_workbook(path)["Customers"]
    assert ws.freeze_panes == "A2"
    rows = list(ws.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert ws.auto_filter.ref == f"A1:T{len(body) + 1}"
    assert header[:8] == ("code", "name", "city", "sales rep", "phone", "email", "tier", "ABC")
    assert len(body) == len(listed)
    by_code = {row[0]: row for row in body}
    for customer in listed:
        row = by_code[customer["code"]]
        assert Decimal(str(row[12])) == Decimal(customer["window_revenue"])
        assert row[13] == customer["window_orders"]
        assert (row[8], row[9], row[10]) == (customer["r"], customer["f"], customer["m"])
        if customer["last_order"]:
            assert isinstance(row[15], datetime) and row[15].date().isoformat() == customer["last_order"]
    money_cell = ws.cell(row=2, column=13)
    date_cell = next(c for c in ws["P"][1:] if c.value is not None)
    assert money_cell.number_format == '"¥"#,##0.00' and date_cell.number_format == "yyyy-mm-dd"


def test_hostile_text_is_never_a_formula(cli: Cli, shop: Path) -> None:
    path = shop / "meeting.xlsx"
    _write(cli, path)
    ws = openpyxl.load_workbook(path)["Customers"]
    names = {c.value: c for c in ws["B"][1:]}
    for text in HOSTILE:
        cell = names[text]
        assert cell.data_type == "s", text
    for cell in ws["C"][1:]:  # the city "=HYPERLINK(...)"
        assert cell.data_type == "s" and cell.value == '=HYPERLINK("x")'
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.endswith(".xml") or name.endswith(".rels"):
                ElementTree.fromstring(archive.read(name))  # every part is well-formed XML
            if name.startswith("xl/worksheets/sheet"):
                assert b"<f>" not in archive.read(name)  # no formula anywhere


def test_charts_cover_their_data_and_cohorts_are_shaded(cli: Cli, shop: Path) -> None:
    path = shop / "meeting.xlsx"
    _write(cli, path)
    with zipfile.ZipFile(path) as archive:
        charts = sorted(n for n in archive.namelist() if n.startswith("xl/charts/chart"))
        texts = [archive.read(n).decode() for n in charts]
    assert len(charts) == 3  # trend, ABC share, tier share
    trend = next(t for t in texts if "Trend" in t)
    assert "'Trend'!$B$4:$B$15" in trend and "'Trend'!$E$4:$E$15" in trend  # 12 periods under the header
    abc = next(t for t in texts if "ABC" in t)
    assert "'Segments'!$E$4:$E$6" in abc  # the three ABC rows
    wb = openpyxl.load_workbook(path)
    cohorts = wb["Cohorts"]
    assert len(cohorts.conditional_formatting) == 1
    first = next(cohorts.iter_rows(min_row=4, max_row=4, values_only=True))
    assert first[2] == 1.0  # month 0 of a cohort is the whole cohort


def test_mask_pii_hides_phones_and_emails(cli: Cli, shop: Path) -> None:
    path = shop / "masked.xlsx"
    _write(cli, path, "--mask-pii")
    ws = openpyxl.load_workbook(path)["Customers"]
    phones = [c.value for c in ws["E"][1:]]
    emails = [c.value for c in ws["F"][1:]]
    assert "138****0000" in phones and all("*" in p for p in phones)
    assert "u***@shop.cn" in emails


def test_a_failed_write_leaves_the_old_file_and_a_missing_folder_is_an_error(cli: Cli, shop: Path) -> None:
    missing = cli("report", "--as-of", AS_OF, "--xlsx", str(shop / "nope" / "x.xlsx"))
    assert missing.exit_code == 1 and "does not exist" in missing.stderr
    folder = shop / "a-folder.xlsx"
    folder.mkdir()
    clash = cli("report", "--as-of", AS_OF, "--xlsx", str(folder))
    assert clash.exit_code == 1 and "is a folder" in clash.stderr
    path = shop / "meeting.xlsx"
    path.write_bytes(b"previous version")
    _write(cli, path)
    assert path.read_bytes()[:2] == b"PK"
    assert not [p for p in shop.iterdir() if p.name.startswith(".meeting.xlsx.")]  # no temporary left


def test_the_writer_stores_every_formula_like_text_as_text(tmp_path: Path) -> None:
    from cpm.io.workbook import Column, Sheet, write_workbook

    texts = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\t=1+1", "\r=1+1", "=cmd|' /C calc'!A0"]
    path = tmp_path / "w.xlsx"
    write_workbook(path, [Sheet(name="S", columns=[Column("text")], rows=[(t,) for t in texts])])
    cells = openpyxl.load_workbook(path)["S"]["A"][1:]
    # Every text comes back as written (lxml keeps even a bare carriage return), none as a formula.
    assert [c.value for c in cells] == texts
    assert all(c.data_type == "s" for c in cells)


def test_every_row_of_a_column_keeps_its_format_and_error_like_text_stays_text(tmp_path: Path) -> None:
    from cpm.io.workbook import DATE, INTEGER, MONEY, Column, Sheet, write_workbook

    rows = [
        ("#N/A", 1234.5, 3, date(2025, 1, 31)),
        ("#DIV/0!", None, None, None),
        ("plain", 0.1, 12_345, date(2024, 2, 29)),
    ]
    columns = [Column("text"), Column("money", MONEY), Column("count", INTEGER), Column("day", DATE)]
    path = tmp_path / "w.xlsx"
    write_workbook(path, [Sheet(name="S", columns=columns, rows=rows)])
    ws = openpyxl.load_workbook(path)["S"]
    body = list(ws.iter_rows(min_row=2))
    assert [c.value for c in body[0]] == ["#N/A", 1234.5, 3, datetime(2025, 1, 31)]
    assert [c.value for c in body[1]] == ["#DIV/0!", None, None, None]
    assert [c.value for c in body[2]] == ["plain", 0.1, 12_345, datetime(2024, 2, 29)]
    assert all(row[0].data_type == "s" for row in body)  # never an error value
    for row in (body[0], body[2]):
        assert [c.number_format for c in row[1:]] == ['"¥"#,##0.00', "#,##0", "yyyy-mm-dd"]
    assert all(c.number_format == "General" for c in body[1][1:])  # empty cells carry no format


def test_too_little_history_for_clv_says_so_on_the_clv_sheet(cli: Cli, shop: Path) -> None:
    path = shop / "meeting.xlsx"
    _write(cli, path)  # six customers: fewer than the ten repeat customers a fit needs
    first_cells = [row[0] for row in openpyxl.load_workbook(path)["CLV"].iter_rows(values_only=True)]
    assert any(str(cell).startswith("Not fitted:") for cell in first_cells)


def test_clv_sheets_match_the_clv_report(cli: Cli, tmp_path: Path) -> None:
    import random

    rng = random.Random(3)
    rows: list[list[object]] = [["order_no", "customer_code", "order_date", "amount"]]
    for n in range(600):
        rows.append(
            [
                f"S{n}",
                f"C{rng.randrange(60)}",
                f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                f"{rng.randint(2_000, 90_000) / 100:.2f}",
            ]
        )
    assert cli("import", "orders", str(write_csv(tmp_path / "o.csv", rows))).exit_code == 0
    path = tmp_path / "clv.xlsx"
    cli("report", "--as-of", "2026-01-01", "--xlsx", str(path))
    valued = json.loads(cli("report", "clv", "--as-of", "2026-01-01", "--format", "json").stdout)["customers"]
    wb = openpyxl.load_workbook(path)
    table = [r for r in wb["CLV"].iter_rows(values_only=True) if r[0] and str(r[0]).startswith("C")]
    assert [r[0] for r in table] == [c["code"] for c in valued][: len(table)]
    assert Decimal(str(table[0][7])) == Decimal(valued[0]["clv"])
    deciles = [r for r in wb["CLV distribution"].iter_rows(values_only=True) if str(r[0]).endswith("0%")]
    assert len(deciles) == 10 and sum(r[1] for r in deciles) == len(valued)
    assert abs(sum(r[5] for r in deciles) - 1) < 0.001  # the shares add up to the whole
