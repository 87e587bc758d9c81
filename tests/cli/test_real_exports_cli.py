"""Real shop exports end to end: a Chinese POS members sheet with a merged title, a two-row
merged header, cities and stores merged over blocks, subtotal rows per store and a 合计 row; an
orders export and a points file with a 合计 row; a nightly re-import of each."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from rich.progress import Progress, TaskID

from cpm.cli.import_cmd import progress_callback, progress_total
from cpm.db import Database
from tests.conftest import Cli, snapshot, table_rows, write_csv
from tests.io.test_hostile_files import ods_row, text_cell, write_ods
from tests.io.test_real_exports import (
    CITY_MERGED_DOWN,
    COVERED,
    MERGED_ORDER_RANGES,
    MERGED_ORDERS,
    ORDER_HEADER,
    TITLE,
    merged_xlsx,
    spanned,
)

MEMBERS: list[list[Any]] = [
    [TITLE, None, None, None, None, None, None],
    ["客户编号", "姓名", "联系方式", None, "城市", "门店", "累计消费(元)"],
    [None, None, "手机", "邮箱", None, None, None],
    ["M001", "张伟", "13800000001", "zw@x.cn", "北京", "朝阳店", 1288.5],
    ["M002", "王芳", "13800000002", None, None, None, 356],
    ["M003", "李合", "13800000003", None, None, None, 99.9],
    [None, "朝阳店 小计", None, None, None, "3人", 1744.4],
    ["M004", "刘洋", "13800000004", "ly@x.cn", None, "海淀店", 520],
    ["M005", "陈静", "13800000005", None, None, None, 75.25],
    [None, "海淀店 小计", None, None, None, "2人", 595.25],
    ["M006", "合计宝", "13800000006", None, "上海", "浦东店", 10],
    ["M007", "赵磊", "13800000007", "zl@x.cn", None, None, 2000],
    [None, "小计(浦东店)", None, None, None, "2人", 2010],
    ["合计 7人", None, None, None, None, None, 4349.65],
]
MEMBER_MERGES = [
    "A1:G1",  # the title
    "A2:A3",  # the two-row header
    "B2:B3",
    "C2:D2",
    "E2:E3",
    "F2:F3",
    "G2:G3",
    "E4:E10",  # 北京 over both Beijing stores, their subtotals included
    "F4:F6",  # each store over its members
    "F8:F9",
    "E11:E12",
    "F11:F12",
    "A14:D14",  # the 合计 label across the code, name and contact columns
]
MEMBERS_STORED = [
    ("M001", "张伟", "13800000001", "zw@x.cn", "北京"),
    ("M002", "王芳", "13800000002", None, "北京"),
    ("M003", "李合", "13800000003", None, "北京"),
    ("M004", "刘洋", "13800000004", "ly@x.cn", "北京"),
    ("M005", "陈静", "13800000005", None, "北京"),
    ("M006", "合计宝", "13800000006", None, "上海"),
    ("M007", "赵磊", "13800000007", "zl@x.cn", "上海"),
]
CUSTOMERS_SQL = "SELECT customer_code, name, phone, email, city FROM customers ORDER BY customer_code"

ORDERS: list[list[Any]] = [
    ["2026年11月订单明细", None, None, None, None, None],
    ["订单号", "客户编号", "下单时间", "实付金额", "订单状态", "门店"],
    ["S20261101001", "M001", datetime(2026, 11, 1, 10, 15), 128.5, "已完成", "朝阳店"],
    ["S20261101002", "M002", datetime(2026, 11, 1, 11, 2), 56, "已完成", "朝阳店"],
    ["S20261102003", "M001", datetime(2026, 11, 2, 9, 40), 99.9, "已完成", "朝阳店"],
    [None, None, None, 284.4, None, "朝阳店 小计"],
    ["S20261103004", "M006", datetime(2026, 11, 3, 15, 30), 1000, "已完成", "浦东店"],
    ["S20261103005", "M009", datetime(2026, 11, 3, 16, 5), 35.35, "已完成", "浦东店"],
    [None, None, None, 1035.35, None, "浦东店 小计"],
    ["合计：5单", None, None, 1319.75, None, None],
]


def counts(stdout: str) -> dict[str, str]:
    """The summary's table: label -> count."""
    return {" ".join(line.split()[:-1]): line.split()[-1] for line in stdout.splitlines()[1:] if line.split()}


def import_members(cli: Cli) -> Any:
    """Import the members export; the same file (the same bytes) each time."""
    path = cli.cwd / "会员明细.xlsx"
    if not path.exists():
        merged_xlsx(path, MEMBERS, MEMBER_MERGES)
    return cli("import", "customers", str(path))


def test_a_pos_members_export_imports_as_a_person_reads_it(cli: Cli, db: Database) -> None:
    result = import_members(cli)

    assert result.exit_code == 0, result.output
    assert table_rows(db, CUSTOMERS_SQL) == MEMBERS_STORED
    assert counts(result.stdout) == {
        "rows read": "7",
        "inserted": "7",
        "updated": "0",
        "unchanged": "0",
        "rejected rows": "0",
    }
    assert (
        "Skipped 4 totals rows: row 7 (朝阳店 小计), row 10 (海淀店 小计), row 13 (小计(浦东店)), "
        "row 14 (合计 7人)\n" in result.stderr
    )
    assert "Filled 13 merged ranges: each cell of a merged range holds the range's value.\n" in result.stderr
    assert "Ignored columns: 门店, 累计消费(元)\n" in result.stderr
    assert table_rows(db, "SELECT rows_read, inserted, rejected FROM import_batches") == [(7, 7, 0)]


def test_no_phantom_customer_is_made_of_a_totals_row(cli: Cli, db: Database) -> None:
    assert import_members(cli).exit_code == 0

    shown = cli("customer", "show", "合计")

    assert shown.exit_code == 1
    assert "no customer with code '合计'" in shown.stderr
    real = cli("customer", "show", "M006")  # named 合计宝, with a real code: a customer
    assert real.exit_code == 0 and "合计宝" in real.stdout


def test_the_same_members_export_again_has_nothing_to_read(cli: Cli, db: Database) -> None:
    assert import_members(cli).exit_code == 0
    before = table_rows(db, CUSTOMERS_SQL)

    again = import_members(cli)

    assert again.exit_code == 0, again.output
    assert "Nothing to read: this is the file of import #1" in again.stderr
    assert table_rows(db, CUSTOMERS_SQL) == before


def test_an_orders_export_with_subtotals_and_a_totals_row(cli: Cli, db: Database) -> None:
    assert import_members(cli).exit_code == 0
    path = merged_xlsx(cli.cwd / "订单明细.xlsx", ORDERS, ["A1:F1"], sheet="订单")

    result = cli("import", "orders", str(path))

    assert result.exit_code == 0, result.output
    assert table_rows(db, "SELECT COUNT(*), SUM(amount), SUM(net_amount) FROM orders") == [
        (5, 131975, 131975)
    ]
    assert table_rows(
        db,
        "SELECT c.customer_code, SUM(o.net_amount) FROM orders o JOIN customers c ON c.id = o.customer_id "
        "GROUP BY c.customer_code ORDER BY c.customer_code",
    ) == [("M001", 22840), ("M002", 5600), ("M006", 100000), ("M009", 3535)]
    assert counts(result.stdout)["new customers"] == "1"  # M009; none made of the 合计 row
    assert (
        "Skipped 3 totals rows: row 6 (朝阳店 小计), row 9 (浦东店 小计), row 10 (合计：5单)\n"
        in result.stderr
    )
    assert table_rows(db, "SELECT COUNT(*) FROM customers WHERE customer_code LIKE '%计%'") == [(0,)]

    again = cli("import", "orders", str(path))

    assert again.exit_code == 0, again.output
    assert "Nothing to read: this is the file of import #2" in again.stderr
    assert table_rows(db, "SELECT COUNT(*), SUM(net_amount) FROM orders") == [(5, 131975)]


def test_a_nightly_csv_with_a_totals_row_stays_nothing_to_read(cli: Cli, db: Database) -> None:
    path = write_csv(
        cli.cwd / "orders.csv",
        [
            ["订单号", "客户编号", "下单日期", "实付金额"],
            ["A1", "C1", "2026-11-01", "12.34"],
            ["A2", "C2", "2026-11-02", "0.66"],
            ["合计", "", "", "13.00"],
        ],
    )
    first = cli("import", "orders", str(path))
    assert first.exit_code == 0, first.output
    assert "Skipped 1 totals row: row 4 (合计)\n" in first.stderr

    for _ in range(2):
        again = cli("import", "orders", str(path))
        assert again.exit_code == 0, again.output
        assert "Nothing to read" in again.stderr
    assert table_rows(db, "SELECT COUNT(*), SUM(amount) FROM orders") == [(2, 1300)]
    assert table_rows(db, "SELECT rejected FROM import_batches") == [(0,), (0,), (0,)]


def test_a_points_file_with_a_totals_row(cli: Cli, db: Database) -> None:
    path = write_csv(
        cli.cwd / "积分.csv",
        [
            ["会员编号", "积分", "获得日期"],
            ["M001", "1200", "2026-10-01"],
            ["M002", "300", "2026-10-01"],
            ["合计", "1500", ""],
        ],
    )

    result = cli("import", "points", str(path))

    assert result.exit_code == 0, result.output
    assert "Skipped 1 totals row: row 4 (合计)\n" in result.stderr
    assert table_rows(
        db,
        "SELECT c.customer_code, p.points FROM points_ledger p JOIN customers c ON c.id = p.customer_id "
        "ORDER BY c.customer_code",
    ) == [("M001", 1200), ("M002", 300)]
    again = cli("import", "points", str(path))
    assert again.exit_code == 0 and counts(again.stdout)["inserted"] == "0"
    assert table_rows(db, "SELECT COUNT(*), SUM(points) FROM points_ledger") == [(2, 1500)]


def test_an_ods_members_export_fills_its_merged_cities(cli: Cli, db: Database) -> None:
    rows = (
        ods_row(spanned(TITLE, across=3), COVERED, COVERED)
        + ods_row(text_cell("会员号"), text_cell("姓名"), text_cell("城市"))
        + ods_row(text_cell("M1"), text_cell("张伟"), spanned("杭州", down=3))
        + ods_row(text_cell("M2"), text_cell("王芳"), COVERED)
        + ods_row(text_cell("M3"), text_cell("李娜"), COVERED)
        + ods_row(spanned("合计", across=2), COVERED, text_cell("3人"))
    )
    path = write_ods(cli.cwd / "会员.ods", {"会员": rows})

    result = cli("import", "customers", str(path))

    assert result.exit_code == 0, result.output
    assert table_rows(db, "SELECT customer_code, name, city FROM customers ORDER BY customer_code") == [
        ("M1", "张伟", "杭州"),
        ("M2", "王芳", "杭州"),
        ("M3", "李娜", "杭州"),
    ]
    assert "Skipped 1 totals row: row 6 (合计)\n" in result.stderr
    assert "Filled 3 merged ranges" in result.stderr


def test_many_totals_rows_are_named_by_the_first_few_and_counted(cli: Cli, db: Database) -> None:
    rows: list[list[str]] = [["customer_code", "name"]]
    for store in range(1, 8):
        rows += [[f"C{store}", f"member {store}"], ["", f"Store {store} subtotal"]]
    path = write_csv(cli.cwd / "stores.csv", rows)

    result = cli("import", "customers", str(path))

    assert result.exit_code == 0, result.output
    assert (
        "Skipped 7 totals rows: row 3 (Store 1 subtotal), row 5 (Store 2 subtotal), "
        "row 7 (Store 3 subtotal), row 9 (Store 4 subtotal), row 11 (Store 5 subtotal) and 2 more\n"
        in result.stderr
    )
    assert table_rows(db, "SELECT COUNT(*) FROM customers") == [(7,)]


def test_a_row_with_blank_keys_and_no_totals_label_still_stops_the_import(cli: Cli, db: Database) -> None:
    path = write_csv(
        cli.cwd / "orders.csv",
        [
            ["订单号", "客户编号", "下单日期", "实付金额"],
            ["A1", "C1", "2026-11-01", "10"],
            ["", "", "", "10"],
        ],
    )
    before = snapshot(db)

    result = cli("import", "orders", str(path))

    assert result.exit_code == 1
    assert "row 3, column 订单号 (order_no): (empty) — a value is required here" in result.stderr
    assert snapshot(db) == before


# --- the rejects file, --dry-run, the progress bar ------------------------------------------------

BAD_ORDERS = [
    ["订单号", "客户编号", "下单日期", "实付金额"],
    ["A1", "C1", "2026-11-01", "10.00"],
    ["A2", "C1", "yesterday", "20.00"],
    ["A3", "C2", "2026-11-03", "-"],
    ["合计", "", "", "30.00"],
]


def test_the_rejects_file_is_named_after_the_whole_file_name(cli: Cli, db: Database) -> None:
    path = merged_xlsx(cli.cwd / "订单.xlsx", BAD_ORDERS, [], sheet="订单")

    result = cli("import", "orders", str(path), "--skip-invalid")

    assert result.exit_code == 0, result.output
    rejects = cli.cwd / "订单.xlsx.rejects.csv"
    assert f"2 bad row(s) written to {rejects}" in result.stderr
    lines = rejects.read_text(encoding="utf-8-sig").splitlines()
    assert [line.split(",")[0] for line in lines] == ["row", "3", "4"]  # the 合计 row is no reject
    assert table_rows(db, "SELECT order_no, amount FROM orders") == [("A1", 1000)]


def test_a_dry_run_says_what_it_would_do_and_lists_the_rows_it_would_reject(cli: Cli, db: Database) -> None:
    path = write_csv(cli.cwd / "orders.csv", BAD_ORDERS)
    before = snapshot(db)

    result = cli("import", "orders", str(path), "--dry-run", "--skip-invalid")

    assert result.exit_code == 0, result.output
    assert counts(result.stdout) == {
        "rows read": "3",
        "orders in file": "1",
        "would insert": "1",
        "would update": "0",
        "unchanged": "0",
        "would reject rows": "2",
        "would create customers": "1",
    }
    assert "Would reject 2 rows (a dry run writes no rejects file):\n" in result.stderr
    assert "  orders.csv, row 3, column 下单日期 (order_date): 'yesterday'" in result.stderr
    assert "  orders.csv, row 4, column 实付金额 (amount): '-'" in result.stderr
    assert "Skipped 1 totals row: row 5 (合计)\n" in result.stderr
    assert not list(cli.cwd.glob("*.rejects.csv"))
    assert snapshot(db) == before


class FakeBar:
    """Records what the bar would show."""

    def __init__(self, total: int) -> None:
        self.total, self.completed = total, 0
        self.shown: list[tuple[int, int]] = []

    def update(self, task: TaskID, *, total: int | None = None, completed: int) -> None:
        self.total = total if total is not None else self.total
        self.completed = completed
        self.shown.append((self.completed, self.total))


def test_the_progress_bar_never_passes_its_total() -> None:
    expected = progress_total(200_001)  # a header and 200,000 rows
    assert expected == 200_000
    bar = FakeBar(expected)
    advance = progress_callback(bar, TaskID(0), expected)  # type: ignore[arg-type]
    for done in (5000, 195_000, 200_000):
        advance(done)
    assert bar.shown == [(5000, 200_000), (195_000, 200_000), (200_000, 200_000)]

    short = FakeBar(progress_total(3))  # a file whose line count said less than it holds
    advance = progress_callback(short, TaskID(0), progress_total(3))  # type: ignore[arg-type]
    advance(1)
    advance(5000)
    advance(7000)
    assert short.shown == [(1, 2), (5000, 5000), (7000, 7000)]
    assert all(done <= total for done, total in short.shown)
    assert progress_total(1) == 1  # a header alone: a bar of one


def test_a_workbook_gives_the_bar_every_row(tmp_path: Path) -> None:
    from cpm.io.sheets import open_sheet

    path = merged_xlsx(tmp_path / "o.xlsx", [["order_no"], *([f"A{n}"] for n in range(10))], [])
    sheet = open_sheet(path)
    assert sheet.total_rows == 11
    assert progress_total(sheet.total_rows) == len(list(sheet.rows)) - 1


def test_progress_is_a_real_rich_bar_when_driven(tmp_path: Path) -> None:
    with Progress(transient=True, disable=True) as bar:
        task = bar.add_task("Reading", total=progress_total(11))
        advance = progress_callback(bar, task, progress_total(11))
        advance(10)
        advance(12)
        assert (bar.tasks[0].completed, bar.tasks[0].total) == (12, 12)


# --- merged order numbers, merged header cells, counts, 分类汇总, a day without sales -------------


def test_a_subtotal_under_merged_order_lines_adds_no_money(cli: Cli, db: Database) -> None:
    path = merged_xlsx(cli.cwd / "订单.xlsx", MERGED_ORDERS, MERGED_ORDER_RANGES, sheet="订单")

    result = cli("import", "orders", str(path))

    assert result.exit_code == 0, result.output
    assert table_rows(db, "SELECT order_no, amount FROM orders ORDER BY order_no") == [
        ("SO1", 3000),
        ("SO2", 500),
    ]
    assert counts(result.stdout)["rows read"] == "3"
    assert "Skipped 2 totals rows: row 4 (小计), row 6 (合计)\n" in result.stderr


def test_an_ods_subtotal_under_merged_order_lines_adds_no_money(cli: Cli, db: Database) -> None:
    def cells(*texts: str) -> list[str]:
        return [text_cell(text) for text in texts]

    rows = (
        ods_row(*cells(*ORDER_HEADER))
        + ods_row(
            spanned("SO1", down=3),
            spanned("C001", down=3),
            spanned("2024-11-03", down=3),
            *cells("苹果", "10"),
        )
        + ods_row(COVERED, COVERED, COVERED, *cells("香蕉", "20"))
        + ods_row(COVERED, COVERED, COVERED, *cells("小计", "30"))
        + ods_row(*cells("SO2", "C002", "2024-11-04", "梨", "5"))
        + ods_row(spanned("合计", across=4), COVERED, COVERED, COVERED, text_cell("35"))
    )
    path = write_ods(cli.cwd / "订单.ods", {"订单": rows})

    result = cli("import", "orders", str(path))

    assert result.exit_code == 0, result.output
    assert table_rows(db, "SELECT order_no, amount FROM orders ORDER BY order_no") == [
        ("SO1", 3000),
        ("SO2", 500),
    ]


def test_a_header_cell_merged_down_over_members_keeps_every_member(cli: Cli, db: Database) -> None:
    path = merged_xlsx(cli.cwd / "会员.xlsx", CITY_MERGED_DOWN, ["C1:C3"])

    result = cli("import", "customers", str(path))

    assert result.exit_code == 0, result.output
    assert counts(result.stdout)["rows read"] == "5"
    assert table_rows(db, "SELECT customer_code, name, city FROM customers ORDER BY customer_code") == [
        ("M001", "张伟", None),
        ("M002", "王芳", None),
        ("M003", "李娜", None),
        ("M004", "赵六", None),
        ("M005", "钱七", None),
    ]


def test_a_counted_totals_row_makes_no_customer(cli: Cli, db: Database) -> None:
    path = merged_xlsx(
        cli.cwd / "会员.xlsx",
        [["客户编号", "姓名", "消费金额"], ["M001", "张伟", 10], ["M002", "王芳", 20], [2, "合计", 30]],
        [],
    )

    result = cli("import", "customers", str(path))

    assert result.exit_code == 0, result.output
    assert table_rows(db, "SELECT customer_code FROM customers ORDER BY customer_code") == [
        ("M001",),
        ("M002",),
    ]
    assert "Skipped 1 totals row: row 4 (合计)\n" in result.stderr


def test_an_orders_file_grouped_by_excels_subtotals_imports(cli: Cli, db: Database) -> None:
    # 数据 › 分类汇总 by customer: a "C001 汇总" row under each group and 总计 at the end.
    path = merged_xlsx(
        cli.cwd / "分类汇总.xlsx",
        [
            ["订单号", "客户编号", "下单日期", "实付金额"],
            ["A1", "C001", "2024-11-01", 10],
            ["A2", "C001", "2024-11-02", 5.5],
            [None, "C001 汇总", None, 15.5],
            ["A3", "C002", "2024-11-03", 7],
            [None, "C002 汇总", None, 7],
            [None, "总计", None, 22.5],
        ],
        [],
    )

    result = cli("import", "orders", str(path))

    assert result.exit_code == 0, result.output
    assert table_rows(db, "SELECT COUNT(*), SUM(amount) FROM orders") == [(3, 2250)]
    assert table_rows(db, "SELECT customer_code FROM customers ORDER BY customer_code") == [
        ("C001",),
        ("C002",),
    ]
    assert "Skipped 3 totals rows: row 4 (C001 汇总), row 6 (C002 汇总), row 7 (总计)\n" in result.stderr


def test_a_day_without_sales_imports_nothing_and_succeeds(cli: Cli, db: Database) -> None:
    path = write_csv(
        cli.cwd / "orders.csv", [["订单号", "客户编号", "下单日期", "实付金额"], ["合计", "", "", "0"]]
    )
    before = table_rows(db, "SELECT COUNT(*) FROM orders")

    result = cli("import", "orders", str(path))

    assert result.exit_code == 0, result.output
    assert counts(result.stdout)["rows read"] == "0"
    assert "No data rows: only totals rows (row 2: 合计). Nothing to import.\n" in result.stderr
    assert table_rows(db, "SELECT COUNT(*) FROM orders") == before == [(0,)]
    assert table_rows(db, "SELECT kind, rows_read, inserted FROM import_batches") == [("orders", 0, 0)]
    again = cli("import", "orders", str(path))
    assert again.exit_code == 0, again.output
    assert "Nothing to read" in again.stderr


def test_a_header_without_any_row_is_still_refused(cli: Cli, db: Database) -> None:
    path = write_csv(cli.cwd / "orders.csv", [["订单号", "客户编号", "下单日期", "实付金额"]])
    before = snapshot(db)

    result = cli("import", "orders", str(path))

    assert result.exit_code == 1
    assert "has a header row but no data rows" in result.stderr
    assert snapshot(db) == before
