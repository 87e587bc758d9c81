"""Shop exports as they really come: totals and subtotal rows, merged cells, merged header blocks."""

from __future__ import annotations

import base64
import re
import zipfile
import zlib
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from cpm.errors import InvalidInput
from cpm.io.merged import MergedRanges
from cpm.io.sheets import open_sheet
from cpm.io.totals import is_bare_totals_label, is_totals_label, may_hold_totals_label
from cpm.services.fields import CUSTOMER_FIELDS, ORDER_FIELDS
from cpm.services.rows import ReadOptions, read_sheet
from tests.conftest import write_csv
from tests.io.test_hostile_files import ods_row, text_cell, write_ods

# --- totals labels --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "label",
    [
        "合计",
        "合计 300人",
        "合计：",
        "合计:",
        "合计（300人）",
        "合　计",
        "合 计：300 人",
        "总计 ¥12,345.67",
        "共计 12 条",
        "总额",
        "小计",
        "小计(朝阳店)",
        "小计【朝阳店】",
        "朝阳店 小计",
        "朝阳店小计",
        "本页合计",
        "合計",
        "總計",
        "Total",
        "TOTAL",
        "ＴＯＴＡＬ",
        "Total: 12",
        "Totals",
        "Total (300 customers)",
        "Total:  $1,234.50",
        "Grand total",
        "GRAND TOTAL:",
        "Subtotal",
        "Sub-total",
        "Sub Total (12)",
        "Store A subtotal",
        "Sum",
        "sum:",
        " 合计 ",
        # Excel's 数据 › 分类汇总 writes "C001 汇总" under each group and 总计 at the end.
        "汇总",
        "总汇总",
        "C001 汇总",
        "匯總",
        "合计：共2人",
        "合计 共3笔",
        "【合计】",
        "(合计)",
        "合计金额",
        "合计行",
        "合计 300条记录",
        "合计300笔订单",
        "合计/Total",
        "Total/合计",
        "Grand-Total",
        "TOTAL AMOUNT",
        "Total Amount:",
    ],
)
def test_totals_labels_are_recognised(label: str) -> None:
    assert is_totals_label(label)


@pytest.mark.parametrize(
    "value",
    [
        "合肥店",
        "王合",
        "合计的",
        "合计x",
        "Totally Fresh",
        "Summer",
        "Sumner",
        "summary",
        "sum of all",
        "SUM01",
        "TOTAL-1",
        "A-Total",
        "Totally",
        "Summer",
        "汇丰银行",
        "汇源果汁",
        "合计宝",
        "SUM-2",
        "C0001",
        "",
        "   ",
        12.0,
        None,
    ],
)
def test_other_cells_are_no_totals_label(value: Any) -> None:
    assert not is_totals_label(value)


@pytest.mark.parametrize(
    ("value", "bare"),
    [
        ("合计", True),
        ("合计 3人", True),
        ("Total: 12", True),
        ("【合计】", True),
        ("小计(朝阳店)", True),
        ("朝阳店 小计", False),  # a store's subtotal: a label, but not the word alone
        ("王小计", False),  # perhaps a name
        ("Store A subtotal", False),
        ("合计宝", False),
        (12, False),
    ],
)
def test_a_bare_label_is_the_word_alone_with_its_count(value: Any, bare: bool) -> None:
    assert is_bare_totals_label(value) is bare


def test_a_column_is_looked_at_closer_only_when_it_may_hold_a_label() -> None:
    assert not may_hold_totals_label(["C0001", "SO20260101", "张三", "北京"])
    assert may_hold_totals_label(["C0001", "合计 2人"])
    assert may_hold_totals_label(["C0001", "ＴＯＴＡＬ"])
    assert may_hold_totals_label(["SUM01"])  # a closer look then finds it is a code
    assert not may_hold_totals_label([])
    with pytest.raises(TypeError):
        may_hold_totals_label(["C0001", 12.0])  # type: ignore[list-item]


# --- merged cells ---------------------------------------------------------------------------------

# The members sheet as a POS exports it: a merged title, a two-row header (客户编号 and 城市
# merged down, 联系方式 merged across over 手机 and 邮箱), a city merged over a block of members.
TITLE = "2026年11月会员明细"
MEMBERS_LAYOUT: list[list[Any]] = [
    [TITLE, None, None, None],
    ["客户编号", "联系方式", None, "城市"],
    [None, "手机", "邮箱", None],
    ["C001", "13800000001", "a@x.cn", "北京"],
    ["C002", "13800000002", None, None],
    ["合计 2人", None, None, None],
]
MEMBERS_MERGES = ["A1:D1", "A2:A3", "B2:C2", "D2:D3", "D4:D5"]
MEMBERS_FILLED = [
    (1, [TITLE] * 4),
    (2, ["客户编号", "联系方式", "联系方式", "城市"]),
    (3, ["客户编号", "手机", "邮箱", "城市"]),
    (4, ["C001", "13800000001", "a@x.cn", "北京"]),
    (5, ["C002", "13800000002", "", "北京"]),
    (6, ["合计 2人", "", "", ""]),
]

# The same sheet written as a real Excel 97-2003 .xls (by xlwt, with write_merge; no library
# here writes .xls).
MEMBERS_XLS = zlib.decompress(
    base64.b64decode(
        """
eNrtWE1IVFEU/u77cX4cx9HU0EAGISuTmBmhJNCxolxEk6WgVGgzOkkoYwwu+iMtcxWBEC2KNoabICw3lRVRm2gRGbUIgkCLVq2C
oiB1Ove8NzZjs3CgpJ/3Pe655557zrnn3f/3nk8VTI9OlM1gEeqhYj7hQE6KTFByJAseUH0iIdlkbqeUsPBXwWGngczRcS/vqU2O
oRzvGSi4qT0iCryldABHEOqLRb3LiK0cQ1jIGOqIClwhiRulHFUh006mK5jeYM37TBtYcp5pHelOi32YCoaqas1Z3KZUcJ0b0u9t
tnnNEj+K8UTO4oERYejq2BI/HO79MyvKNRfGQOPWGI1F4+HeaRTRAI7hc8ILfEqu1IdeS768cgGSf02X2zLILygaMIjEQZ7gw3Ch
VpM1iijb3dYyi4vIo5JMLogAfAhgI/rb/TRP7d1SxX3o8SkN4ur+TZGSgS/NxLYMfjs5Gc3vIIc7I5u7KRsfmThB2bNWpZ2cb/P5
/Lk00WtqfQb8tOLDDUc3dMZIaWXz9ZChFEhTCugQ9pbRc16K4G7IKc8B3jc8aftGHq8nF9Eu5DNfwKvKQyfD7LWPL3ZFmoIdLBnk
s8I4UVbLTkACp6UFGbuR9AfImiq2WM/0DHtdxXwZ0yJaC5RXNhWbzI4h1jnLtZXUTg3jZXBNCr+W+OEPe+6UD78LriN+vHHmeNH4
q+AoKuiE6yJ7+QyhWlSLy5ckJoPJXJi7zxumpT/tRHbFY8aeMI/NfMzByWwB0wfUR+DekY/KFiKDhWALSY1Ssj8fUMSCOFkyalTi
dbNtZZEnqa2YbUttY1zUhZL0o5leFfZkRKRmiEhlPzmmrcqebAsl6cm+UJKeHGZMWgZfGvtymvoa+8o149BS4tC5r9JtdbaVvfie
5odOmhq3KPgNVHP8FE4/oKJeKcQtFjWkyJ2wYMGCBQsWLFj4fyBvlwrfjYzbtm7evW3mf505SvPWb5J/FnvRR08/fZhuR4zyOI5l
NX9KoIukL7FEm+T/QolWaj2OHkQ4jp6s5y99i4nU91myoefXLaFs25/PJs7f3P53UDTuAA==
        """
    )
)


def merged_xlsx(path: Path, rows: list[list[Any]], merges: list[str], *, sheet: str = "会员") -> Path:
    workbook = openpyxl.Workbook()
    worksheet = workbook.active
    assert worksheet is not None
    worksheet.title = sheet
    for row in rows:
        worksheet.append(row)
    for cells in merges:
        worksheet.merge_cells(cells)
    workbook.save(path)
    return path


def spanned(text: str, *, down: int = 1, across: int = 1) -> str:
    return (
        f'<table:table-cell office:value-type="string" table:number-rows-spanned="{down}" '
        f'table:number-columns-spanned="{across}"><text:p>{text}</text:p></table:table-cell>'
    )


COVERED = "<table:covered-table-cell/>"
EMPTY = "<table:table-cell/>"
MEMBERS_ODS = (
    ods_row(spanned(TITLE, across=4), COVERED, COVERED, COVERED)
    + ods_row(spanned("客户编号", down=2), spanned("联系方式", across=2), COVERED, spanned("城市", down=2))
    + ods_row(COVERED, text_cell("手机"), text_cell("邮箱"), COVERED)
    + ods_row(text_cell("C001"), text_cell("13800000001"), text_cell("a@x.cn"), spanned("北京", down=2))
    + ods_row(text_cell("C002"), text_cell("13800000002"), EMPTY, COVERED)
    + ods_row(text_cell("合计 2人"))
)


def members_file(kind: str, folder: Path) -> Path:
    if kind == "xlsx":
        return merged_xlsx(folder / "会员.xlsx", MEMBERS_LAYOUT, MEMBERS_MERGES)
    if kind == "xls":
        path = folder / "会员.xls"
        path.write_bytes(MEMBERS_XLS)
        return path
    return write_ods(folder / "会员.ods", {"会员": MEMBERS_ODS})


@pytest.mark.parametrize("kind", ["xlsx", "xls", "ods"])
def test_every_cell_of_a_merged_range_holds_its_value(kind: str, tmp_path: Path) -> None:
    sheet = open_sheet(members_file(kind, tmp_path))
    rows = [(number, cells[:4] + [""] * (4 - len(cells))) for number, cells in sheet.rows]
    assert rows == MEMBERS_FILLED
    assert sheet.merges is not None and sheet.merges.filled == 5
    assert sheet.total_rows == 6  # the header and the title count; the progress bar expects 5 rows


@pytest.mark.parametrize("kind", ["xlsx", "xls", "ods"])
def test_a_two_row_merged_header_names_each_column_and_the_data_starts_under_it(
    kind: str, tmp_path: Path
) -> None:
    parsed = read_sheet(open_sheet(members_file(kind, tmp_path)), CUSTOMER_FIELDS, ReadOptions())
    assert parsed.match.columns == {"customer_code": 0, "phone": 1, "email": 2, "city": 3}
    assert parsed.match.ignored == []
    chunks = list(parsed.chunks)
    assert [number for chunk in chunks for number in chunk.numbers] == [4, 5]
    assert [code for chunk in chunks for code in chunk.columns["customer_code"]] == ["C001", "C002"]
    assert [city for chunk in chunks for city in chunk.columns["city"]] == ["北京", "北京"]
    assert [row for chunk in chunks for row in chunk.totals] == [(6, "合计 2人")]
    assert not any(chunk.problems for chunk in chunks)


def test_a_header_merged_across_names_only_its_first_column(tmp_path: Path) -> None:
    # 手机 merged over two columns: one phone column, not two, and nothing reported as ignored.
    path = merged_xlsx(
        tmp_path / "wide.xlsx",
        [["会员号", "手机", None, "城市"], ["C1", "138", "139", "北京"]],
        ["B1:C1"],
    )
    parsed = read_sheet(open_sheet(path), CUSTOMER_FIELDS, ReadOptions())
    assert parsed.header == ["会员号", "手机", None, "城市"]
    assert parsed.match.columns == {"customer_code": 0, "phone": 1, "city": 3}
    assert parsed.match.ignored == []
    chunk = next(parsed.chunks)
    assert chunk.numbers == [2] and chunk.columns["phone"] == ["138"]


def test_a_required_column_under_a_merged_group_is_found_in_the_second_header_row(tmp_path: Path) -> None:
    # 客户编号 merged down over rows 2-3; 订单号 and 日期 only in row 3, under a merged 订单信息.
    path = merged_xlsx(
        tmp_path / "orders.xlsx",
        [
            ["客户编号", "订单信息", None, "金额"],
            [None, "订单号", "日期", None],
            ["C1", "S1", "2026-11-01", 12.5],
            ["C2", "S2", "2026-11-02", 8],
        ],
        ["A1:A2", "B1:C1", "D1:D2"],
    )
    parsed = read_sheet(open_sheet(path), ORDER_FIELDS, ReadOptions())
    assert parsed.match.columns == {"customer_code": 0, "order_no": 1, "order_date": 2, "amount": 3}
    chunk = next(parsed.chunks)
    assert chunk.numbers == [3, 4]
    assert chunk.columns["order_no"] == ["S1", "S2"] and chunk.columns["amount"] == [1250, 800]


def test_a_merged_range_reaching_past_the_data_is_cut_to_it(tmp_path: Path) -> None:
    path = merged_xlsx(
        tmp_path / "past.xlsx",
        [["customer_code", "city"], ["C1", "北京"], ["C2", None]],
        ["B2:F9"],  # formatting far right and below the last value
    )
    assert list(open_sheet(path).rows) == [
        (1, ["customer_code", "city"]),
        (2, ["C1", "北京"]),
        (3, ["C2", "北京"]),
    ]


def test_a_range_whose_first_cell_is_empty_fills_nothing(tmp_path: Path) -> None:
    path = merged_xlsx(
        tmp_path / "blank.xlsx", [["customer_code", "city"], ["C1", None], ["C2", None]], ["B2:B3"]
    )
    sheet = open_sheet(path)
    assert list(sheet.rows) == [(1, ["customer_code", "city"]), (2, ["C1", ""]), (3, ["C2", ""])]
    assert sheet.merges is not None and sheet.merges.filled == 0


def test_a_sheet_without_merged_cells_has_no_ranges(tmp_path: Path) -> None:
    path = merged_xlsx(tmp_path / "plain.xlsx", [["customer_code"], ["C1"]], [])
    assert open_sheet(path).merges is None
    assert open_sheet(write_csv(tmp_path / "plain.csv", [["customer_code"], ["C1"]])).merges is None


def test_ranges_are_filled_as_rows_stream_past() -> None:
    merges = MergedRanges.from_corners([((1, 0), (3, 0)), ((5, 1), (5, 2)), ((0, 0), (0, 0))])
    assert merges is not None
    assert merges.by_row == {2: [(4, 0, 0)], 6: [(6, 1, 2)]}  # a one-cell "range" is none
    rows = [(n, ["" if n != 2 else "北京", "x" if n == 6 else ""]) for n in range(1, 9)]
    filled = list(merges.fill(iter(rows)))
    assert [cells for _, cells in filled] == [
        ["", ""],
        ["北京", ""],
        ["北京", ""],
        ["北京", ""],
        ["", ""],
        ["", "x"],  # the range runs past the row's last cell: cut to it
        ["", ""],
        ["", ""],
    ]
    assert merges.filled == 2


# --- totals and subtotal rows while reading -------------------------------------------------------


def test_totals_and_subtotal_rows_are_left_out_and_named(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "members.csv",
        [
            ["客户编号", "姓名", "门店"],
            ["C001", "张三", "朝阳店"],
            ["C002", "王合计", "朝阳店"],  # a name holding 合计, with a real code: a customer
            ["", "朝阳店 小计", "2人"],
            ["C003", "李四", "浦东店"],
            ["", "小计(浦东店)", ""],
            [],
            ["合计：3人", "", ""],
        ],
    )
    chunks = list(read_sheet(open_sheet(path), CUSTOMER_FIELDS, ReadOptions()).chunks)
    assert [n for chunk in chunks for n in chunk.numbers] == [2, 3, 5]
    assert [c for chunk in chunks for c in chunk.columns["customer_code"]] == ["C001", "C002", "C003"]
    assert [row for chunk in chunks for row in chunk.totals] == [
        (4, "朝阳店 小计"),
        (6, "小计(浦东店)"),
        (8, "合计：3人"),
    ]
    assert not any(chunk.problems for chunk in chunks)


def test_an_orders_totals_row_needs_both_keys_blank_or_a_label(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "orders.csv",
        [
            ["订单号", "客户编号", "下单日期", "实付金额"],
            ["S1", "C1", "2026-11-01", "10.00"],
            ["合计", "", "", "10.00"],
            ["", "", "Total: 1", "10.00"],
            ["S2", "Total", "2026-11-02", "5.00"],  # a real order number: an order, whatever the code says
        ],
    )
    chunks = list(read_sheet(open_sheet(path), ORDER_FIELDS, ReadOptions()).chunks)
    assert [n for chunk in chunks for n in chunk.numbers] == [2, 5]
    assert [row for chunk in chunks for row in chunk.totals] == [(3, "合计"), (4, "Total: 1")]


def test_a_row_with_blank_keys_and_no_totals_label_is_still_a_problem(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "members.csv", [["客户编号", "姓名"], ["C1", "张三"], ["", "李四"]])
    chunks = list(read_sheet(open_sheet(path), CUSTOMER_FIELDS, ReadOptions()).chunks)
    assert [row for chunk in chunks for row in chunk.totals] == []
    problems = [p for chunk in chunks for ps in chunk.problems.values() for p in ps]
    assert [(p.row, p.expected) for p in problems] == [(3, "a value is required here")]


def test_a_merged_title_row_is_still_skipped(tmp_path: Path) -> None:
    path = merged_xlsx(
        tmp_path / "title.xlsx",
        [[TITLE, None, None], ["customer_code", "name", "city"], ["C1", "张三", "北京"]],
        ["A1:C1"],
    )
    parsed = read_sheet(open_sheet(path), CUSTOMER_FIELDS, ReadOptions())
    assert parsed.header == ["customer_code", "name", "city"]
    assert next(parsed.chunks).numbers == [3]


def test_a_merged_sheet_without_the_required_column_is_still_refused(tmp_path: Path) -> None:
    path = merged_xlsx(tmp_path / "bad.xlsx", [[TITLE, None], ["姓名", "城市"], ["张三", "北京"]], ["A1:B1"])
    # The title, merged across, is named once.
    with pytest.raises(InvalidInput, match=f"missing required column.*Header row 1 has: {TITLE}$"):
        read_sheet(open_sheet(path), CUSTOMER_FIELDS, ReadOptions())


def test_a_number_next_to_a_bare_totals_label_is_a_count_not_a_code(tmp_path: Path) -> None:
    # Codes typed as numbers; the last row counts them (=COUNTA(A2:A3) caches 2, which calamine
    # reads as the number it shows) and sums the spending.
    path = merged_xlsx(
        tmp_path / "numbers.xlsx",
        [["客户编号", "姓名", "消费金额"], [1001, "张伟", 10], [1002, "王小计", 20], [2, "合计", 30]],
        [],
    )
    chunks = list(read_sheet(open_sheet(path), CUSTOMER_FIELDS, ReadOptions()).chunks)
    assert [n for chunk in chunks for n in chunk.numbers] == [2, 3]
    assert [c for chunk in chunks for c in chunk.columns["customer_code"]] == ["1001", "1002"]
    assert [row for chunk in chunks for row in chunk.totals] == [(4, "合计")]


# --- merged cells and totals rows together --------------------------------------------------------

ORDER_HEADER: list[Any] = ["订单号", "客户编号", "下单日期", "商品", "实付金额"]
# SO1 has two lines and a 小计 row, its number, customer and date merged over all three.
MERGED_ORDERS: list[list[Any]] = [
    ORDER_HEADER,
    ["SO1", "C001", "2024-11-03", "苹果", 10],
    [None, None, None, "香蕉", 20],
    [None, None, None, "小计", 30],
    ["SO2", "C002", "2024-11-04", "梨", 5],
    ["合计", None, None, None, 35],
]
MERGED_ORDER_RANGES = ["A2:A4", "B2:B4", "C2:C4", "A6:D6"]


def test_a_subtotal_row_under_a_merged_order_number_is_a_totals_row(tmp_path: Path) -> None:
    path = merged_xlsx(tmp_path / "orders.xlsx", MERGED_ORDERS, MERGED_ORDER_RANGES, sheet="订单")
    chunks = list(read_sheet(open_sheet(path), ORDER_FIELDS, ReadOptions()).chunks)
    assert [n for chunk in chunks for n in chunk.numbers] == [2, 3, 5]
    assert [o for chunk in chunks for o in chunk.columns["order_no"]] == ["SO1", "SO1", "SO2"]
    assert [a for chunk in chunks for a in chunk.columns["amount"]] == [1000, 2000, 500]
    assert [row for chunk in chunks for row in chunk.totals] == [(4, "小计"), (6, "合计")]


def test_a_copied_key_needs_the_label_typed_in_its_row(tmp_path: Path) -> None:
    # A product merged down with the order number is copied too: a line, not a subtotal.
    path = merged_xlsx(
        tmp_path / "orders.xlsx",
        [ORDER_HEADER, ["SO1", "C001", "2024-11-03", "Total 牌牙膏", 10], [None, None, None, None, 20]],
        ["A2:A3", "B2:B3", "C2:C3", "D2:D3"],
        sheet="订单",
    )
    chunks = list(read_sheet(open_sheet(path), ORDER_FIELDS, ReadOptions()).chunks)
    assert [n for chunk in chunks for n in chunk.numbers] == [2, 3]
    assert [row for chunk in chunks for row in chunk.totals] == []


# A header cell merged down into the data: 城市 over rows 1–3, above the first members.
CITY_MERGED_DOWN: list[list[Any]] = [
    ["客户编号", "姓名", "城市"],
    ["M001", "张伟", None],
    ["M002", "王芳", None],
    ["M003", "李娜", None],
    ["M004", "赵六", None],
    ["M005", "钱七", None],
]


def test_a_header_cell_merged_down_into_the_data_loses_no_row(tmp_path: Path) -> None:
    path = merged_xlsx(tmp_path / "members.xlsx", CITY_MERGED_DOWN, ["C1:C3"])
    parsed = read_sheet(open_sheet(path), CUSTOMER_FIELDS, ReadOptions())
    assert parsed.match.columns == {"customer_code": 0, "name": 1, "city": 2}
    chunks = list(parsed.chunks)
    assert [n for chunk in chunks for n in chunk.numbers] == [2, 3, 4, 5, 6]
    assert [c for chunk in chunks for c in chunk.columns["customer_code"]] == [
        "M001",
        "M002",
        "M003",
        "M004",
        "M005",
    ]
    # The header's name is no city: the merged cells under it read empty.
    assert [c for chunk in chunks for c in chunk.columns["city"]] == [None] * 5


def test_a_key_header_merged_into_the_first_row_makes_that_row_a_problem(tmp_path: Path) -> None:
    # 客户编号 merged over A1:A2 hides M001's code (Excel shows the header there): the row is named
    # as lacking a code, not dropped.
    path = merged_xlsx(
        tmp_path / "members.xlsx",
        [
            ["客户编号", "姓名", "城市"],
            ["M001", "张伟", "北京"],
            ["M002", "王芳", None],
            ["M003", "李娜", None],
        ],
        ["A1:A2"],
    )
    chunks = list(read_sheet(open_sheet(path), CUSTOMER_FIELDS, ReadOptions()).chunks)
    assert [n for chunk in chunks for n in chunk.numbers] == [2, 3, 4]
    problems = [p for chunk in chunks for ps in chunk.problems.values() for p in ps]
    assert [(p.row, p.column, p.expected) for p in problems] == [
        (2, "客户编号 (customer_code)", "a value is required here")
    ]


def test_a_two_row_header_with_a_cell_merged_past_it_ends_that_cell_at_the_header(tmp_path: Path) -> None:
    path = merged_xlsx(
        tmp_path / "members.xlsx",
        [
            ["客户编号", "联系方式", None, "城市"],
            [None, "手机", "邮箱", None],
            ["C001", "138", "a@x.cn", None],
            ["C002", "139", None, None],
            ["C003", "137", None, "上海"],
        ],
        ["A1:A2", "B1:C1", "D1:D4"],  # 城市 reaching two rows into the data
    )
    parsed = read_sheet(open_sheet(path), CUSTOMER_FIELDS, ReadOptions())
    assert parsed.match.columns == {"customer_code": 0, "phone": 1, "email": 2, "city": 3}
    chunks = list(parsed.chunks)
    assert [n for chunk in chunks for n in chunk.numbers] == [3, 4, 5]
    assert [c for chunk in chunks for c in chunk.columns["city"]] == [None, None, "上海"]


def with_merge_refs(path: Path, refs: list[str]) -> Path:
    """Rewrite the first sheet's merged ranges as written, duplicated, reversed or overlapping as
    they come, and leave the cells they cover as they are (openpyxl would empty them)."""
    part = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info.filename) for info in archive.infolist()}
    xml = re.sub(r"<mergeCells.*?</mergeCells>", "", members[part].decode(), flags=re.S)
    merges = "".join(f'<mergeCell ref="{ref}"/>' for ref in refs)
    members[part] = xml.replace(
        "</sheetData>", f'</sheetData><mergeCells count="{len(refs)}">{merges}</mergeCells>', 1
    ).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


CITIES: list[list[Any]] = [["customer_code", "city"], ["C1", "北京"], ["C2", None], ["C3", None]]


def test_a_range_given_many_times_is_filled_once(tmp_path: Path) -> None:
    path = with_merge_refs(merged_xlsx(tmp_path / "dup.xlsx", CITIES, []), ["B2:B1048576"] * 2000)
    sheet = open_sheet(path)
    assert sheet.merges is not None and sheet.merges.by_row == {2: [(1048576, 1, 1)]}
    assert [cells for _, cells in sheet.rows] == [
        ["customer_code", "city"],
        *[[f"C{n}", "北京"] for n in (1, 2, 3)],
    ]
    assert sheet.merges.filled == 1


def test_a_reversed_range_is_read_as_the_same_range(tmp_path: Path) -> None:
    path = with_merge_refs(merged_xlsx(tmp_path / "rev.xlsx", CITIES, []), ["B4:B2"])
    assert [cells[1] for _, cells in open_sheet(path).rows] == ["city", "北京", "北京", "北京"]


def test_a_range_overlapping_an_earlier_one_is_ignored() -> None:
    corners = [((1, 1), (9, 1)), ((1, 1), (9, 1)), ((3, 0), (4, 2)), ((5, 1), (2, 1)), ((10, 1), (11, 1))]
    merges = MergedRanges.from_corners(corners)
    assert merges is not None
    assert merges.by_row == {2: [(10, 1, 1)], 11: [(12, 1, 1)]}
    many = MergedRanges.from_corners([((1, 2), (1_048_575, 2 + n % 3)) for n in range(20_000)])
    assert many is not None and many.by_row == {2: [(1_048_576, 2, 2)]}


def test_a_range_whose_first_cell_is_empty_reads_empty_over_what_it_hides(tmp_path: Path) -> None:
    # Excel shows B2:B3 empty, though B3 holds 上海 under the merge.
    rows: list[list[Any]] = [["customer_code", "city"], ["C1", None], ["C2", "上海"], ["C3", "广州"]]
    path = with_merge_refs(merged_xlsx(tmp_path / "hidden.xlsx", rows, []), ["B2:B3"])
    sheet = open_sheet(path)
    assert [cells for _, cells in sheet.rows] == [
        ["customer_code", "city"],
        ["C1", ""],
        ["C2", ""],
        ["C3", "广州"],
    ]
    assert sheet.merges is not None and sheet.merges.filled == 0


def test_a_range_right_of_every_cell_fills_nothing() -> None:
    assert MergedRanges.from_corners([((1, 10), (5, 12))], width=6) is None
    merges = MergedRanges.from_corners([((1, 4), (5, 12))], width=6)
    assert merges is not None and merges.by_row == {2: [(6, 4, 5)]}  # cut at the last cell
