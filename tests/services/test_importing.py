"""Import rules: merging order lines, net amounts, re-import counts, and what a re-import keeps."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from cpm.db import Database
from cpm.errors import InvalidInput
from cpm.io.sheets import file_sha256, open_sheet
from cpm.io.values import BadValue
from cpm.services import bulk, importing, rows
from cpm.services.fields import CODE, COUNT, DATE, MONEY, POINTS, STATUS, TEXT
from cpm.services.rows import REQUIRED, BadCell, ReadOptions, column_reader
from tests.conftest import table_rows, write_csv, write_xlsx

ORDER_HEADER = ["订单号", "客户编号", "下单日期", "实付金额", "数量", "渠道", "订单状态", "退款金额"]


def run(
    session: Session, kind: str, path: Path, *, skip_invalid: bool = False, **options: Any
) -> importing.ImportSummary:
    request = importing.ImportRequest(
        sheet=open_sheet(path),
        path=path,
        sha256=file_sha256(path),
        options=ReadOptions(**options),
        skip_invalid=skip_invalid,
    )
    action = importing.import_orders if kind == "orders" else importing.import_customers
    return action(session, request)


def orders_of(session: Session) -> dict[str, tuple[Any, ...]]:
    conn = session.connection()
    rows = conn.exec_driver_sql(
        "SELECT o.order_no, c.customer_code, o.order_date, o.amount, o.refunded_amount, o.net_amount,"
        " o.quantity, o.channel, o.status FROM orders o JOIN customers c ON c.id = o.customer_id"
    ).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


@pytest.fixture(params=[False, True], ids=["upsert compares", "stored rows compared first"])
def bulk_sized(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A re-import both ways: the second treats these small files as a million-row file is
    treated, comparing them with the stored orders before anything goes to the upsert."""
    if request.param:
        monkeypatch.setattr(bulk, "BULK_LOAD_ROWS", 1)


def test_lines_of_one_order_are_summed(session: Session, tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "o.xlsx",
        [
            ORDER_HEADER,
            ["S1", "C1", "2025-03-01", 100.5, 1, "门店", "已完成", None],
            ["S1", "C1", "2025-03-01", "¥1,000.25", 2, None, "已完成", None],
            ["S2", "C2", "2025-03-02", 20, 3, "淘宝", "已完成", None],
        ],
    )
    summary = run(session, "orders", path)
    assert (summary.rows_read, summary.records, summary.inserted) == (3, 2, 2)
    orders = orders_of(session)
    # 100.50 + 1,000.25 = 1,100.75 → 110075 cents; quantities 1 + 2 = 3; the first channel given stays.
    assert orders["S1"] == ("C1", "2025-03-01", 110075, 0, 110075, 3, "门店", "completed")
    assert orders["S2"] == ("C2", "2025-03-02", 2000, 0, 2000, 3, "淘宝", "completed")


def test_refunds_and_cancellations_set_the_net_amount(session: Session, tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "o.xlsx",
        [
            ORDER_HEADER,
            ["R1", "C1", "2025-03-01", 80, 1, None, "已退款", None],  # full refund: net 0
            ["P1", "C1", "2025-03-02", 100, 1, None, "已完成", 30],  # partial: 100 - 30
            ["X1", "C1", "2025-03-03", 50, 1, None, "已取消", None],  # cancelled: net 0
            ["M1", "C2", "2025-03-04", 100, 1, None, "completed", None],  # a live order with
            ["M1", "C2", "2025-03-04", 30, 1, None, "refunded", None],  # one returned line
        ],
    )
    run(session, "orders", path)
    orders = orders_of(session)
    assert orders["R1"][2:5] == (8000, 8000, 0) and orders["R1"][-1] == "refunded"
    assert orders["P1"][2:5] == (10000, 3000, 7000) and orders["P1"][-1] == "completed"
    assert orders["X1"][2:5] == (5000, 0, 0) and orders["X1"][-1] == "cancelled"
    assert orders["M1"][2:5] == (13000, 3000, 10000) and orders["M1"][-1] == "completed"


def test_refund_larger_than_amount_is_refused(session: Session, tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "o.xlsx", [ORDER_HEADER, ["P1", "C1", "2025-03-02", 100, 1, None, "已完成", 130]]
    )
    with pytest.raises(InvalidInput) as caught:
        run(session, "orders", path)
    (problem,) = caught.value.problems
    assert problem.row == 2 and "refunds more than its amount 100.00" in problem.expected


def test_unknown_customers_are_created_once_and_known_ones_are_left_alone(
    session: Session, tmp_path: Path
) -> None:
    customers = write_xlsx(tmp_path / "c.xlsx", [["客户编号", "客户名称", "城市"], ["C1", "张三", "上海"]])
    run(session, "customers", customers)
    orders = write_xlsx(
        tmp_path / "o.xlsx",
        [
            ["订单号", "客户编号", "客户名称", "下单日期", "金额"],
            ["S1", "C1", "Somebody Else", "2025-03-01", 10],
            ["S2", "C9", "王五", "2025-03-01", 10],
            ["S3", "C9", "王五", "2025-03-02", 10],
        ],
    )
    summary = run(session, "orders", orders)
    assert summary.customers_created == 1
    rows = (
        session.connection()
        .exec_driver_sql("SELECT customer_code, name, city FROM customers ORDER BY 1")
        .fetchall()
    )
    assert rows == [("C1", "张三", "上海"), ("C9", "王五", None)]


def test_reimport_counts_inserted_updated_unchanged_and_never_deletes(
    session: Session, tmp_path: Path, bulk_sized: None
) -> None:
    first = write_xlsx(
        tmp_path / "a.xlsx",
        [ORDER_HEADER]
        + [[f"S{i}", "C1", "2025-01-0" + str(i), 10 * i, 1, "门店", "已完成", None] for i in range(1, 6)],
    )
    assert (run(session, "orders", first).inserted, orders_of(session)["S3"][2]) == (5, 3000)
    again = run(session, "orders", first)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 5)
    # A later export: S1 is gone, S2 changed amount, S3 changed status, S6 is new, S4/S5 as before.
    second = write_xlsx(
        tmp_path / "b.xlsx",
        [
            ORDER_HEADER,
            ["S2", "C1", "2025-01-02", 25, 1, "门店", "已完成", None],
            ["S3", "C1", "2025-01-03", 30, 1, "门店", "已退款", None],
            ["S4", "C1", "2025-01-04", 40, 1, "门店", "已完成", None],
            ["S5", "C1", "2025-01-05", 50, 1, "门店", "已完成", None],
            ["S6", "C1", "2025-01-06", 60, 1, "门店", "已完成", None],
        ],
    )
    summary = run(session, "orders", second)
    assert (summary.inserted, summary.updated, summary.unchanged) == (1, 2, 2)
    orders = orders_of(session)
    assert sorted(orders) == ["S1", "S2", "S3", "S4", "S5", "S6"]  # S1 is kept
    assert orders["S2"][2:5] == (2500, 0, 2500)
    assert orders["S3"][2:5] == (3000, 3000, 0) and orders["S3"][-1] == "refunded"


def test_columns_missing_from_a_later_file_keep_their_stored_values(
    session: Session, tmp_path: Path, bulk_sized: None
) -> None:
    full = write_xlsx(
        tmp_path / "full.xlsx",
        [
            ORDER_HEADER,
            ["S1", "C1", "2025-01-01", 100, 2, "淘宝", "已完成", 40],
            ["S2", "C1", "2025-01-02", 50, 1, "门店", "已取消", None],
        ],
    )
    run(session, "orders", full)
    # A bare export with only the four required columns, S1's amount corrected to 120.
    bare = write_csv(
        tmp_path / "bare.csv",
        [
            ["order_no", "customer_code", "order_date", "amount"],
            ["S1", "C1", "2025-01-01", "120"],
            ["S2", "C1", "2025-01-02", "50"],
        ],
    )
    summary = run(session, "orders", bare)
    assert (summary.updated, summary.unchanged) == (1, 1)
    orders = orders_of(session)
    # quantity, channel, status and the refund stay; net follows the new amount: 120 - 40 = 80.
    assert orders["S1"] == ("C1", "2025-01-01", 12000, 4000, 8000, 2, "淘宝", "completed")
    assert orders["S2"] == ("C1", "2025-01-02", 5000, 0, 0, 1, "门店", "cancelled")


def test_a_file_with_refunds_but_no_status_keeps_the_stored_status(
    session: Session, tmp_path: Path, bulk_sized: None
) -> None:
    full = write_xlsx(
        tmp_path / "full.xlsx",
        [
            ORDER_HEADER,
            ["S1", "C1", "2025-01-01", 100, 1, "淘宝", "已完成", None],
            ["S2", "C1", "2025-01-02", 50, 1, "门店", "已取消", None],
            ["S3", "C1", "2025-01-03", 80, 1, "门店", "已退款", None],
        ],
    )
    run(session, "orders", full)
    refunds = write_csv(
        tmp_path / "refunds.csv",
        [
            ["order_no", "customer_code", "order_date", "amount", "refunded_amount"],
            ["S1", "C1", "2025-01-01", "100", "30"],
            ["S2", "C1", "2025-01-02", "50", "0"],
            ["S3", "C1", "2025-01-03", "80", "80"],
        ],
    )
    summary = run(session, "orders", refunds)
    # S1 gains a refund of 30; S2 had no refund stored (cancelled) and the file says 0: unchanged;
    # S3 was refunded in full (80) and the file says 80: unchanged.
    assert (summary.updated, summary.unchanged) == (1, 2)
    orders = orders_of(session)
    assert orders["S1"] == ("C1", "2025-01-01", 10000, 3000, 7000, 1, "淘宝", "completed")
    assert orders["S2"] == ("C1", "2025-01-02", 5000, 0, 0, 1, "门店", "cancelled")
    assert orders["S3"] == ("C1", "2025-01-03", 8000, 8000, 0, 1, "门店", "refunded")
    assert run(session, "orders", refunds).unchanged == 3


def test_a_file_with_statuses_but_no_refunds_keeps_only_a_completed_orders_stored_refund(
    session: Session, tmp_path: Path, bulk_sized: None
) -> None:
    full = write_xlsx(
        tmp_path / "full.xlsx",
        [
            ORDER_HEADER,
            ["S1", "C1", "2025-01-01", 100, 1, "淘宝", "已完成", 40],
            ["S2", "C1", "2025-01-02", 50, 1, "门店", "已完成", 10],
            ["S3", "C1", "2025-01-03", 80, 1, "门店", "已退款", None],
            ["S4", "C1", "2025-01-04", 80, 1, "门店", "已退款", None],
            ["S5", "C1", "2025-01-05", 30, 1, "门店", "已完成", None],
            ["S5", "C1", "2025-01-05", 20, 1, "门店", "已完成", None],
        ],
    )
    run(session, "orders", full)
    statuses = write_csv(
        tmp_path / "statuses.csv",
        [
            ["order_no", "customer_code", "order_date", "amount", "status"],
            ["S1", "C1", "2025-01-01", "100", "completed"],
            ["S2", "C1", "2025-01-02", "50", "refunded"],
            ["S3", "C1", "2025-01-03", "80", "completed"],
            ["S4", "C1", "2025-01-04", "120", "refunded"],
            ["S5", "C1", "2025-01-05", "30", "completed"],
            ["S5", "C1", "2025-01-05", "20", "refunded"],
        ],
    )
    summary = run(session, "orders", statuses)
    assert (summary.updated, summary.unchanged) == (4, 1)
    orders = orders_of(session)
    # S1: still completed and nothing refunded in this file: its partial refund of 40 stays.
    assert orders["S1"] == ("C1", "2025-01-01", 10000, 4000, 6000, 1, "淘宝", "completed")
    # S2: now refunded, with no amount given: refunded in full.
    assert orders["S2"] == ("C1", "2025-01-02", 5000, 5000, 0, 1, "门店", "refunded")
    # S3: the refund was undone in the shop: completed, nothing refunded.
    assert orders["S3"] == ("C1", "2025-01-03", 8000, 0, 8000, 1, "门店", "completed")
    # S4: refunded, and its amount corrected to 120: all of it refunded.
    assert orders["S4"] == ("C1", "2025-01-04", 12000, 12000, 0, 1, "门店", "refunded")
    # S5: one of its two lines refunded: the order stays completed with 20 refunded.
    assert orders["S5"] == ("C1", "2025-01-05", 5000, 2000, 3000, 2, "门店", "completed")
    assert run(session, "orders", statuses).unchanged == 5


def test_customers_update_the_columns_the_file_has(session: Session, tmp_path: Path) -> None:
    first = write_xlsx(
        tmp_path / "c1.xlsx",
        [
            ["客户编号", "客户名称", "手机号", "城市", "生日"],
            ["C1", "张三", 13812345678, "上海", "1990-05-12"],
            ["C2", "李四", None, "北京", None],
        ],
    )
    assert run(session, "customers", first).inserted == 2
    second = write_xlsx(
        tmp_path / "c2.xlsx", [["Customer ID", "City"], ["C1", "杭州"], ["C2", "北京"], ["C3", "广州"]]
    )
    summary = run(session, "customers", second)
    assert (summary.inserted, summary.updated, summary.unchanged) == (1, 1, 1)
    rows = (
        session.connection()
        .exec_driver_sql("SELECT customer_code, name, phone, city, birthday FROM customers ORDER BY 1")
        .fetchall()
    )
    assert rows == [
        ("C1", "张三", "13812345678", "杭州", "1990-05-12"),
        ("C2", "李四", None, "北京", None),
        ("C3", None, None, "广州", None),
    ]


def test_duplicate_customer_rows_merge_when_equal_and_are_refused_when_they_conflict(
    session: Session, tmp_path: Path
) -> None:
    same = write_xlsx(tmp_path / "same.xlsx", [["客户编号", "客户名称"], ["C1", "张三"], ["C1", "张三"]])
    summary = run(session, "customers", same)
    assert (summary.rows_read, summary.records, summary.inserted) == (2, 1, 1)
    clash = write_xlsx(tmp_path / "clash.xlsx", [["客户编号", "客户名称"], ["C2", "张三"], ["C2", "李四"]])
    with pytest.raises(InvalidInput) as caught:
        run(session, "customers", clash)
    assert sorted(p.row for p in caught.value.problems) == [2, 3]
    assert "'张三' vs '李四'" in caught.value.problems[0].expected


def test_skip_invalid_sets_aside_every_line_of_a_bad_order(session: Session, tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "o.xlsx",
        [
            ORDER_HEADER,
            ["S1", "C1", "2025-01-01", 10, 1, None, None, None],
            ["S2", "C1", "2025-01-02", 10, 1, None, None, None],
            ["S2", "C1", "2025-01-02", "ten", 1, None, None, None],
            ["S3", "C1", "not a date", 10, 1, None, None, None],
        ],
    )
    summary = run(session, "orders", path, skip_invalid=True)
    assert (summary.records, summary.inserted, summary.rejected_rows) == (1, 1, 3)
    assert [r.row for r in summary.rejects] == [3, 4, 5]
    assert "another line of the same order is invalid" in summary.rejects[0].reason
    assert list(orders_of(session)) == ["S1"]


def test_each_import_is_recorded_with_the_file_hash(session: Session, tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "o.xlsx", [ORDER_HEADER, ["S1", "C1", "2025-01-01", 10, 1, None, None, None]]
    )
    run(session, "orders", path)
    second = run(session, "orders", path)
    batches = importing.list_imports(session)
    assert [b.kind for b in batches] == ["orders", "orders"]
    assert batches[0].sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (batches[0].rows_read, batches[0].inserted, batches[0].unchanged) == (1, 0, 1)
    assert (batches[1].inserted, batches[1].customers_created) == (1, 1)
    assert [i for i, _ in second.imported_before] == [batches[1].id]


def test_header_below_a_title_row_map_override_and_preferred_alias(session: Session, tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "o.xlsx",
        [
            ["2025年3月 订单导出"],
            [],
            ["单据", "会员号", "日期", "金额", "实付金额"],
            ["S1", "C1", "2025-03-01", 120, 99.5],
        ],
    )
    summary = run(session, "orders", path, column_map={"单据": "order_no"})
    assert "金额" in summary.ignored_columns
    assert orders_of(session)["S1"][2] == 9950  # 实付金额 (paid), not 金额 (list price)


def test_csv_with_dollar_amounts_and_day_first_dates(session: Session, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "o.csv",
        [
            ["Order ID", "Customer ID", "Order Date", "Total"],
            ["W1", "C1", "05/03/2025", "$1,234.50"],
            ["W2", "C1", "31/12/2025", "¥7"],
        ],
        encoding="utf-8-sig",
    )
    run(session, "orders", path, dayfirst=True)
    orders = orders_of(session)
    assert orders["W1"][1:3] == ("2025-03-05", 123450)
    assert orders["W2"][1:3] == ("2025-12-31", 700)


order_lines = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=30),  # order number
        st.integers(min_value=0, max_value=5),  # customer
        st.integers(min_value=0, max_value=200_000),  # cents
        st.sampled_from(["已完成", "已退款", "已取消"]),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=order_lines, data=st.data())
def test_stored_net_revenue_matches_an_independent_sum_and_reimport_is_a_no_op(
    db: Database,
    tmp_path_factory: pytest.TempPathFactory,
    lines: list[tuple[int, int, int, str]],
    data: st.DataObject,
) -> None:
    from cpm.db import session_scope

    # One customer and one date per order number, as a real export has them.
    owner: dict[int, int] = {}
    rows = []
    for number, customer, cents, status in lines:
        owner.setdefault(number, customer)
        rows.append(
            [f"N{number}", f"C{owner[number]}", "2025-06-01", f"{cents // 100}.{cents % 100:02d}", status]
        )
    rows = data.draw(st.permutations(rows))
    path = write_xlsx(
        tmp_path_factory.mktemp("p") / "o.xlsx", [["订单号", "客户编号", "日期", "金额", "状态"], *rows]
    )

    expected_amount: dict[str, int] = {}
    expected_net: dict[str, int] = {}
    statuses: dict[str, set[str]] = {}
    for number, _, cents, status in lines:
        key = f"N{number}"
        expected_amount[key] = expected_amount.get(key, 0) + cents
        statuses.setdefault(key, set()).add(status)
        kept = cents if status == "已完成" else 0
        expected_net[key] = expected_net.get(key, 0) + kept
    for key, seen in statuses.items():
        if seen == {"已取消"}:
            expected_net[key] = 0

    with session_scope(db, write=True) as session:
        first = run(session, "orders", path)
    with session_scope(db, write=True) as session:
        second = run(session, "orders", path)
    stored = {r[0]: (r[1], r[2]) for r in table_rows(db, "SELECT order_no, amount, net_amount FROM orders")}
    for key in expected_amount:
        assert stored[key] == (expected_amount[key], expected_net[key])
    assert first.records == second.unchanged == len(expected_amount)
    assert (second.inserted, second.updated) == (0, 0)
    # Tidy up so the next example starts from an empty database.
    with session_scope(db, write=True) as session:
        conn = session.connection()
        for table in ("orders", "customers", "import_row_changes", "import_batches"):
            conn.exec_driver_sql(f"DELETE FROM {table}")


def test_a_customers_file_with_only_codes_inserts_new_ones_and_changes_nothing_else(
    session: Session, tmp_path: Path
) -> None:
    run(session, "customers", write_xlsx(tmp_path / "a.xlsx", [["客户编号", "客户名称"], ["C1", "张三"]]))
    summary = run(session, "customers", write_xlsx(tmp_path / "b.xlsx", [["客户编号"], ["C1"], ["C2"]]))
    assert (summary.inserted, summary.updated, summary.unchanged) == (1, 0, 1)
    rows = (
        session.connection()
        .exec_driver_sql("SELECT customer_code, name FROM customers ORDER BY 1")
        .fetchall()
    )
    assert rows == [("C1", "张三"), ("C2", None)]


# --- a column is read a chunk at a time, each distinct cell parsed once -----------------------------

COLUMN_CELLS = st.one_of(
    st.sampled_from(["", " ", " C1 ", "C1", "1", "1.0", "1.00", "-0", "2024-01-05", "05/01/2024", "已完成"]),
    st.sampled_from(["done", "-3", "1,234.50", "12.345", "9999999999999.99", "x" * 65, "1.00\n2.00"]),
    st.text(max_size=6),
    st.integers(min_value=-3, max_value=3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, 2.5, 1078.44, 45292.0]),
    st.booleans(),
    st.none(),
    st.dates(min_value=date(2020, 1, 1), max_value=date(2020, 1, 5)),
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2020, 1, 2)),
)


def parsed_alone(kind: str, options: ReadOptions, *, required: bool, cell: Any) -> Any:
    """What one cell reads as, parsed by itself and never remembered."""
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return ("bad", REQUIRED) if required else (type(None), None)
    try:
        value = rows._parser_for(kind, options)(cell)
    except BadValue as exc:
        return ("bad", str(exc))
    return (type(value), value)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from([CODE, TEXT, DATE, MONEY, COUNT, STATUS, POINTS]),
    required=st.booleans(),
    dayfirst=st.booleans(),
    decimal_comma=st.booleans(),
    chunks=st.lists(st.lists(COLUMN_CELLS, min_size=1, max_size=12), min_size=1, max_size=8),
)
def test_a_column_read_a_chunk_at_a_time_reads_each_cell_as_parsing_it_alone(
    kind: str, required: bool, dayfirst: bool, decimal_comma: bool, chunks: list[list[Any]]
) -> None:
    # Small limits, so that remembering, a full memory and giving up on it all happen here.
    options = ReadOptions(dayfirst=dayfirst, decimal_comma=decimal_comma)
    with mock.patch.object(rows, "MEMORY_LIMIT", 8), mock.patch.object(rows, "MEMORY_TRIAL_ROWS", 10):
        reader = column_reader(kind, options, required=required)
        for cells in chunks * 2:  # twice: the second time every cell has been seen
            kinds = {str} if all(type(cell) is str for cell in cells) else None
            values, has_bad = reader.read(cells, kinds)
            read = [("bad", v.expected) if isinstance(v, BadCell) else (type(v), v) for v in values]
            expected = [parsed_alone(kind, options, required=required, cell=cell) for cell in cells]
            assert read == expected
            assert has_bad == any(shown[0] == "bad" for shown in expected)
