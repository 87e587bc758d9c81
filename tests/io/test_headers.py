"""Matching a sheet's header row to cpm's fields, with the alias lists the importer really uses."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpm.io.headers import match_headers, normalize_header
from cpm.services.fields import CUSTOMER_FIELDS, ORDER_FIELDS, POINTS_FIELDS, FieldSpec, aliases_of

CUSTOMERS = aliases_of(CUSTOMER_FIELDS)
ORDERS = aliases_of(ORDER_FIELDS)
POINTS = aliases_of(POINTS_FIELDS)

FEW = settings(max_examples=100, deadline=None)


def fullwidth(text: str) -> str:
    """ASCII as a Chinese input method types it in full-width mode (`ID` → `ＩＤ`, space → U+3000)."""
    return "".join("\u3000" if c == " " else chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


# --- normalize_header -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "Customer ID",
        "customer_id",
        " CUSTOMER-ID ",
        "ｃｕｓｔｏｍｅｒ ｉｄ",
        "ＣＵＳＴＯＭＥＲ＿ＩＤ",
        "customer.id",
        "Customer\u3000ID",
        "customer  id",
        "CustomerID",
        "customer id:",
        "customer id*",
        "Customer\tID",
    ],
)
def test_spellings_of_one_header_normalize_alike(header: str) -> None:
    assert normalize_header(header) == "customerid"


def test_normalize_header_keeps_chinese_and_folds_latin_inside_it() -> None:
    assert normalize_header("客户ID") == "客户id"
    assert normalize_header("客户ＩＤ") == "客户id"
    assert normalize_header(" 客户 编号 ") == "客户编号"
    assert normalize_header("下单日期：") == "下单日期"


# --- match_headers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "Customer ID",
        "customer_id",
        " CUSTOMER-ID ",
        "ｃｕｓｔｏｍｅｒ ｉｄ",
        "customer code",
        "Member No",
        "客户编号",
        "客户ID",
        "客户ＩＤ",
        "会员卡号",
    ],
)
def test_customer_code_headers(header: str) -> None:
    match = match_headers([header, "Name"], CUSTOMERS)
    assert match.columns == {"customer_code": 0, "name": 1}
    assert match.headers["customer_code"] == header.strip()  # as written, for messages
    assert match.ignored == []


def test_a_chinese_order_sheet() -> None:
    row = ["订单号", "客户编号", "下单日期", "实付金额", "数量", "渠道", "订单状态", "退款金额", "客户名称"]
    match = match_headers(row, ORDERS)
    assert match.columns == {
        "order_no": 0,
        "customer_code": 1,
        "order_date": 2,
        "amount": 3,
        "quantity": 4,
        "channel": 5,
        "status": 6,
        "refunded_amount": 7,
        "customer_name": 8,
    }
    assert match.ignored == []
    assert match.missing(["order_no", "customer_code", "order_date", "amount"]) == []


def test_short_chinese_headers() -> None:
    match = match_headers(["单号", "客户ID", "日期", "金额"], ORDERS)
    assert match.columns == {"order_no": 0, "customer_code": 1, "order_date": 2, "amount": 3}


def test_an_english_order_sheet_in_snake_case() -> None:
    row = ["order_no", "customer_id", "order_date", "amount", "qty", "status", "refunded_amount"]
    match = match_headers(row, ORDERS)
    assert match.columns == {
        "order_no": 0,
        "customer_code": 1,
        "order_date": 2,
        "amount": 3,
        "quantity": 4,
        "status": 5,
        "refunded_amount": 6,
    }


@pytest.mark.parametrize(
    "row",
    [
        ["订单号", "客户编号", "日期", "金额", "实付金额"],
        ["订单号", "客户编号", "日期", "实付金额", "金额"],
        ["金额", "订单号", "实付金额", "客户编号", "日期"],
    ],
)
def test_paid_amount_wins_over_amount_in_either_order(row: list[str]) -> None:
    match = match_headers(row, ORDERS)
    assert match.columns["amount"] == row.index("实付金额")
    assert match.headers["amount"] == "实付金额"
    assert match.ignored == ["金额"]


def test_of_three_amount_columns_the_first_alias_wins_and_the_others_are_ignored_once() -> None:
    # Aliases of amount in order: … 实付金额, 实收金额, 付款金额, 成交金额, 订单金额, 总金额, 金额 …
    row = ["金额", "订单金额", "实付金额", "总金额"]
    match = match_headers(row, ORDERS)
    assert match.columns == {"amount": 2}
    assert sorted(match.ignored) == sorted(["金额", "订单金额", "总金额"])


def test_the_field_name_itself_beats_any_alias() -> None:
    match = match_headers(["金额", "amount"], ORDERS)
    assert match.columns == {"amount": 1}
    assert match.ignored == ["金额"]


def test_unknown_columns_are_ignored_and_listed_once_each_in_sheet_order() -> None:
    row = ["订单号", "备注", "客户编号", "Extra", "下单日期", "单价", "实付金额", "Unit price"]
    match = match_headers(row, ORDERS)
    assert match.columns == {"order_no": 0, "customer_code": 2, "order_date": 4, "amount": 6}
    assert match.ignored == ["备注", "Extra", "单价", "Unit price"]


def test_ignored_headers_are_reported_as_written_but_trimmed() -> None:
    match = match_headers(["  Notes ", "Customer ID"], CUSTOMERS)
    assert match.ignored == ["Notes"]


def test_blank_header_cells_are_skipped() -> None:
    row = [None, "", "   ", "\u3000", "订单号", None, "客户编号", "", "下单日期", "金额"]
    match = match_headers(row, ORDERS)
    assert match.columns == {"order_no": 4, "customer_code": 6, "order_date": 8, "amount": 9}
    assert match.ignored == []


def test_non_text_header_cells_are_read_as_text() -> None:
    match = match_headers([2024, "客户编号", 3.5], CUSTOMERS)
    assert match.columns == {"customer_code": 1}
    assert match.ignored == ["2024", "3.5"]


def test_missing_lists_required_fields_without_a_column() -> None:
    match = match_headers(["订单号", "金额"], ORDERS)
    assert match.missing(["order_no", "customer_code", "order_date", "amount"]) == [
        "customer_code",
        "order_date",
    ]


# --- --map overrides --------------------------------------------------------------------------


def test_an_override_names_a_column_no_alias_knows() -> None:
    row = ["Bestellnummer", "Kunde", "Datum", "Betrag"]
    overrides = {
        "Bestellnummer": "order_no",
        "Kunde": "customer_code",
        "Datum": "order_date",
        "Betrag": "amount",
    }
    match = match_headers(row, ORDERS, overrides)
    assert match.columns == {"order_no": 0, "customer_code": 1, "order_date": 2, "amount": 3}
    assert match.ignored == []


@pytest.mark.parametrize("row", [["金额", "实付金额"], ["实付金额", "金额"]])
def test_an_override_wins_over_a_better_alias(row: list[str]) -> None:
    match = match_headers(row, ORDERS, {"金额": "amount"})
    assert match.columns == {"amount": row.index("金额")}
    assert match.headers["amount"] == "金额"
    assert match.ignored == ["实付金额"]


def test_an_override_moves_a_column_to_another_field() -> None:
    # 金额 is an alias of amount; here it holds the refund, and 实付金额 stays the amount.
    match = match_headers(["实付金额", "金额"], ORDERS, {"金额": "refunded_amount"})
    assert match.columns == {"amount": 0, "refunded_amount": 1}
    assert match.ignored == []


def test_an_override_matches_the_header_however_it_is_spaced_or_cased() -> None:
    match = match_headers([" Kunden-Nr ", "Datum"], ORDERS, {"kunden nr": "customer_code"})
    assert match.columns == {"customer_code": 0}
    assert match.ignored == ["Datum"]


def test_no_overrides_is_the_same_as_empty_overrides() -> None:
    row = ["订单号", "客户编号", "下单日期", "金额", "备注"]
    assert match_headers(row, ORDERS, None) == match_headers(row, ORDERS, {})


# --- properties over the real alias lists -----------------------------------------------------

ALL_ALIASES = [
    (spec.name, alias)
    for fields in (CUSTOMER_FIELDS, ORDER_FIELDS, POINTS_FIELDS)
    for spec in fields
    for alias in (spec.name, *spec.aliases)
]


def _spellings(alias: str) -> list[str]:
    words = alias.split()
    return [
        alias,
        alias.upper(),
        alias.title(),
        "_".join(words),
        "-".join(words),
        "  ".join(words),
        f"  {alias}\t",
        fullwidth(alias),
        fullwidth(alias.upper()),
    ]


@pytest.mark.parametrize(("field", "alias"), ALL_ALIASES, ids=[f"{f}:{a}" for f, a in ALL_ALIASES])
def test_every_alias_matches_its_field_however_it_is_written(field: str, alias: str) -> None:
    for spelling in _spellings(alias):
        kinds = [
            k for k in (CUSTOMERS, ORDERS, POINTS) if field in k and (alias == field or alias in k[field])
        ]
        for aliases in kinds:
            match = match_headers([spelling], aliases)
            assert match.columns == {field: 0}, spelling
            assert match.headers == {field: spelling.strip()}


def test_within_one_import_kind_no_two_fields_share_an_alias() -> None:
    # Otherwise one of them could never be matched by that header.
    for aliases in (CUSTOMERS, ORDERS, POINTS):
        owners: dict[str, set[str]] = {}
        for field, names in aliases.items():
            for name in (field, *names):
                owners.setdefault(normalize_header(name), set()).add(field)
        assert {key: fields for key, fields in owners.items() if len(fields) > 1} == {}


ORDER_HEADERS = [alias for field, names in ORDERS.items() for alias in (field, *names)]
CELLS = st.one_of(
    st.sampled_from(ORDER_HEADERS),
    st.sampled_from(["备注", "Extra", "单价", "Unit price", "商品名称"]),
    st.sampled_from([None, "", "  "]),
)


@FEW
@given(row=st.lists(CELLS, max_size=12), use_map=st.booleans())
def test_every_non_blank_header_is_used_or_ignored_exactly_once(row: list[str | None], use_map: bool) -> None:
    overrides = {"备注": "channel"} if use_map else None
    match = match_headers(row, ORDERS, overrides)
    written = [str(cell).strip() for cell in row if cell is not None and str(cell).strip()]
    assert Counter(match.headers.values()) + Counter(match.ignored) == Counter(written)
    for field, column in match.columns.items():
        assert str(row[column]).strip() == match.headers[field]
    assert len(set(match.columns.values())) == len(match.columns)  # one column feeds one field


@FEW
@given(data=st.data())
def test_the_order_of_columns_does_not_change_which_header_feeds_a_field(data: st.DataObject) -> None:
    pool = [
        "订单号",
        "order id",
        "客户编号",
        "customer_id",
        "下单日期",
        "日期",
        "金额",
        "实付金额",
        "total",
        "备注",
    ]
    row = data.draw(st.lists(st.sampled_from(pool), unique=True, min_size=1))
    shuffled = data.draw(st.permutations(row))
    first, second = match_headers(row, ORDERS), match_headers(shuffled, ORDERS)
    assert first.headers == second.headers
    assert sorted(first.ignored) == sorted(second.ignored)


@pytest.mark.parametrize("spec", ORDER_FIELDS, ids=lambda s: s.name)
def test_the_first_alias_of_a_field_beats_its_last(spec: FieldSpec) -> None:
    first, last = spec.aliases[0], spec.aliases[-1]
    match = match_headers([last, first], ORDERS)
    assert match.columns == {spec.name: 1}
    assert match.ignored == [last]


def test_a_unit_in_brackets_does_not_hide_the_field() -> None:
    from cpm.services.fields import ORDER_FIELDS, aliases_of

    match = match_headers(["订单号", "客户编号", "日期", "实付金额（元）"], aliases_of(ORDER_FIELDS))
    assert match.columns == {"order_no": 0, "customer_code": 1, "order_date": 2, "amount": 3}
