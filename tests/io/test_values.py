"""Reading spreadsheet cells: dates, money, counts, points, order status and text.

Expected values are worked out by hand from the contract in SPEC.md ("Import"), never by calling
the code under test a second way.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpm.io.values import (
    _STATUS_WORDS,
    CANCELLED,
    COMPLETED,
    REFUNDED,
    BadValue,
    clean_text,
    is_blank,
    parse_count,
    parse_date,
    parse_money,
    parse_money_floats,
    parse_money_texts,
    parse_points,
    parse_status,
)

FEW = settings(max_examples=150, deadline=None)


def fullwidth(text: str) -> str:
    """ASCII as a Chinese input method types it in full-width mode (`2` → `２`, space → U+3000)."""
    return "".join("\u3000" if c == " " else chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


# --- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (date(2024, 1, 5), date(2024, 1, 5)),
        (datetime(2024, 1, 5, 23, 59, 59), date(2024, 1, 5)),  # the time of day is dropped
        ("2024-01-05", date(2024, 1, 5)),
        ("  2024-01-05  ", date(2024, 1, 5)),
        ("2024-01-05 13:45:00", date(2024, 1, 5)),
        ("2024-01-05 13:45", date(2024, 1, 5)),
        ("2024-01-05T13:45:00", date(2024, 1, 5)),
        ("2024-01-05T13:45:00+08:00", date(2024, 1, 5)),
        ("2024/1/5", date(2024, 1, 5)),
        ("2024/01/05", date(2024, 1, 5)),
        ("2024.1.5", date(2024, 1, 5)),
        ("2024-1-5", date(2024, 1, 5)),
        ("2024年1月5日", date(2024, 1, 5)),
        ("2024年01月05日", date(2024, 1, 5)),
        ("2024年1月5日 13:45", date(2024, 1, 5)),
        ("2024年1月5日 13:45:00", date(2024, 1, 5)),
        ("2024年1月5号", date(2024, 1, 5)),
        ("20240105", date(2024, 1, 5)),
        (20240105, date(2024, 1, 5)),
        (20240105.0, date(2024, 1, 5)),  # calamine gives numbers as floats
        ("5 Jan 2024", date(2024, 1, 5)),
        ("05-Jan-2024", date(2024, 1, 5)),
        ("5 January 2024", date(2024, 1, 5)),
        ("Jan 5, 2024", date(2024, 1, 5)),
        ("January 5 2024", date(2024, 1, 5)),
        ("Sept 30, 2024", date(2024, 9, 30)),
        ("２０２４－０１－０５", date(2024, 1, 5)),  # full-width digits and dash (NFKC)
        ("２０２４年１月５日", date(2024, 1, 5)),
        ("２０２４／１／５", date(2024, 1, 5)),
        ("2024-02-29", date(2024, 2, 29)),  # 2024 is a leap year
        ("2000-02-29", date(2000, 2, 29)),  # divisible by 400: leap
    ],
)
def test_parse_date_accepts_the_common_forms(raw: Any, expected: date) -> None:
    assert parse_date(raw) == expected


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        # What Excel shows for these serial numbers (its day 1 is 1900-01-01 and it counts a
        # 1900-02-29 that never was, so from March 1900 on serial = days since 1899-12-30).
        (45292, date(2024, 1, 1)),
        (45292.0, date(2024, 1, 1)),
        (45296, date(2024, 1, 5)),  # four days later
        (45292.75, date(2024, 1, 1)),  # 18:00 on that day: the fraction is the time
        (45351, date(2024, 2, 29)),  # 45292 + 31 (January) + 28
        (61, date(1900, 3, 1)),
        (2958465, date(9999, 12, 31)),  # the last date Excel can show
        (2958465.5, date(9999, 12, 31)),  # noon on it ("never expires" with a time)
        ("45292", date(2024, 1, 1)),  # the same serial in a CSV written from an unformatted cell
    ],
)
def test_parse_date_reads_excel_serials(serial: Any, expected: date) -> None:
    assert parse_date(serial) == expected


@pytest.mark.parametrize(
    "serial",
    [0, -1, 0.5, 2958466, 3_000_000.0, math.nan, math.inf, -math.inf, pytest.param(10**400, id="10**400")],
)
def test_parse_date_refuses_numbers_that_are_not_excel_dates(serial: float) -> None:
    with pytest.raises(BadValue, match="not an Excel date"):
        parse_date(serial)


def test_slashed_dates_are_month_first_unless_dayfirst() -> None:
    assert parse_date("05/01/2024") == date(2024, 5, 1)
    assert parse_date("05/01/2024", dayfirst=True) == date(2024, 1, 5)
    assert parse_date("5/1/2024", dayfirst=True) == date(2024, 1, 5)
    assert parse_date("12/31/2024") == date(2024, 12, 31)
    assert parse_date("31/12/2024", dayfirst=True) == date(2024, 12, 31)
    assert parse_date("05/01/2024 13:45") == date(2024, 5, 1)
    assert parse_date("05/01/2024 1:45 PM") == date(2024, 5, 1)


@pytest.mark.parametrize("raw", ["25/01/2024", "13/12/2024", "31/1/2024 09:30"])
def test_a_day_first_date_without_dayfirst_is_refused_not_guessed(raw: str) -> None:
    with pytest.raises(BadValue, match="--dayfirst"):
        parse_date(raw)


def test_the_same_day_first_dates_read_with_dayfirst() -> None:
    assert parse_date("25/01/2024", dayfirst=True) == date(2024, 1, 25)
    assert parse_date("13/12/2024", dayfirst=True) == date(2024, 12, 13)


def test_dayfirst_leaves_year_first_dates_alone() -> None:
    assert parse_date("2024-01-05", dayfirst=True) == date(2024, 1, 5)
    assert parse_date("2024/1/5", dayfirst=True) == date(2024, 1, 5)
    assert parse_date("2024年1月5日", dayfirst=True) == date(2024, 1, 5)


@pytest.mark.parametrize(
    ("raw", "dayfirst"),
    [
        ("2024-02-30", False),
        ("2023-02-29", False),  # 2023 is not a leap year
        ("1900-02-29", False),  # divisible by 100, not by 400: not a leap year
        ("2024-13-01", False),
        ("2024-00-10", False),
        ("2024-04-31", False),
        ("2024/2/30", False),
        ("2024.2.30", False),
        ("2023年2月29日", False),
        ("20230229", False),
        (20230229, False),
        ("02/30/2024", False),
        ("30/02/2024", True),
        ("31/04/2024", True),
        ("13/13/2024", False),
        ("01/13/2024", True),  # month 13 when read day first
        ("32 Jan 2024", False),
        ("Feb 30, 2024", False),
    ],
)
def test_impossible_dates_are_refused(raw: Any, dayfirst: bool) -> None:
    with pytest.raises(BadValue):
        parse_date(raw, dayfirst=dayfirst)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "abc",
        "next tuesday",
        "2024-01",
        "01/2024",
        "1/5/24",
        "Foo 5, 2024",
        "5 Smarch 2024",
        "2024-01-05 later",
        "2024/01/05/06",
        "፩",
        True,
        False,
        None,
    ],
)
def test_garbage_is_not_a_date(raw: Any) -> None:
    with pytest.raises(BadValue):
        parse_date(raw)


@pytest.mark.parametrize("raw", ["0050-01-01", "1899-12-31", "1000年1月1日", date(1899, 12, 31)])
def test_dates_before_1900_are_refused(raw: Any) -> None:
    with pytest.raises(BadValue, match="before 1900"):
        parse_date(raw)
    assert parse_date("1900-01-01") == date(1900, 1, 1)


# Dates from 1901 on: earlier ones fall in Excel's fictitious-1900 stretch, and a year before 1000
# has no four-digit form.
DATES = st.dates(min_value=date(1901, 1, 1), max_value=date(9999, 12, 31))
MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@FEW
@given(day=DATES, moment=st.times())
def test_date_round_trip(day: date, moment: time) -> None:
    y, m, d = day.year, day.month, day.day
    month_name = MONTH_NAMES[m - 1]
    month_first = [
        day.isoformat(),
        f"{day.isoformat()} {moment:%H:%M:%S}",
        f"{day.isoformat()}T{moment:%H:%M:%S}",
        f"{y}/{m}/{d}",
        f"{y}.{m}.{d}",
        f"{y}年{m}月{d}日",
        f"{y}年{m}月{d}日 {moment:%H:%M}",
        f"{y}{m:02d}{d:02d}",
        y * 10000 + m * 100 + d,
        f"{m:02d}/{d:02d}/{y}",
        f"{m}/{d}/{y}",
        f"{d} {month_name} {y}",
        f"{month_name} {d}, {y}",
        fullwidth(f"{y}年{m}月{d}日"),
        day,
        datetime.combine(day, moment),
    ]
    for rendered in month_first:
        assert parse_date(rendered) == day, rendered
    for rendered in (f"{d:02d}/{m:02d}/{y}", f"{d}/{m}/{y}", f"{d}.{m}.{y}"):
        assert parse_date(rendered, dayfirst=True) == day, rendered


@FEW
@given(day=DATES, fraction=st.floats(min_value=0, max_value=0.99999))
def test_excel_serial_round_trip(day: date, fraction: float) -> None:
    serial = (day - date(1899, 12, 30)).days
    assert parse_date(serial) == day
    assert parse_date(float(serial)) == day
    assert parse_date(serial + fraction) == day  # a date-time cell: the fraction is the time


@FEW
@given(day=DATES.filter(lambda d: d.day > 12))
def test_day_first_text_is_never_read_as_month_first(day: date) -> None:
    with pytest.raises(BadValue, match="--dayfirst"):
        parse_date(f"{day.day:02d}/{day.month:02d}/{day.year}")


# --- money ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "cents"),
    [
        (12, 1200),
        (0, 0),
        (-3, -300),
        (1234.5, 123450),
        (19.99, 1999),  # 19.99 * 100 is 1998.9999999999998 in floating point
        (0.1 + 0.2, 30),  # Excel's 0.30000000000000004
        (sum([0.1] * 10), 100),  # 0.9999999999999999
        (1234.56 + 0.01, 123457),  # 1234.57: float noise after a formula
        (-0.0, 0),
        (9_999_999_999_999.99, 999_999_999_999_999),  # the largest amount, 15 digits
    ],
)
def test_parse_money_reads_excel_numbers(raw: float, cents: int) -> None:
    assert parse_money(raw) == cents


@pytest.mark.parametrize(
    "raw",
    [
        12.345,
        0.001,
        1.005,
        # A real third decimal on a larger amount must not vanish in the rounding either: a
        # tolerance that grew with the amount used to read these as 1000012 and 500000 cents.
        10000.125,
        5000.005,
        1234567.891,
        123456789.001,
    ],
)
def test_excel_numbers_with_more_than_two_decimals_are_refused(raw: float) -> None:
    with pytest.raises(BadValue, match="more than two decimals"):
        parse_money(raw)


@pytest.mark.parametrize(
    ("raw", "cents"),
    [
        ("1234.50", 123450),
        ("1234.5", 123450),
        ("1234", 123400),
        ("0.5", 50),
        (".5", 50),
        ("0.05", 5),
        ("1,234", 123400),
        ("1,234.50", 123450),
        ("1,234,567.89", 123456789),
        ("¥1,234.50", 123450),
        ("￥1,234.50", 123450),  # full-width yen
        ("$1,234.50", 123450),
        ("€12", 1200),
        ("RMB 12", 1200),
        ("RMB12", 1200),
        ("CNY 1,000", 100000),
        ("12 USD", 1200),
        ("1234.5元", 123450),
        ("1234.5 元", 123450),
        ("(12.00)", -1200),
        ("(¥1,234.50)", -123450),
        ("-3", -300),
        ("+3", 300),
        ("12-", -1200),  # trailing minus, as some accounting exports write it
        ("-¥12.00", -1200),
        ("¥-12.00", -1200),
        ("  1234.50  ", 123450),
        ("1 234.50", 123450),  # a space between thousands groups
        ("1\u00a0234.50", 123450),  # a no-break space, as Excel writes for some locales
        ("1'234.50", 123450),
        ("'1234.50", 123450),  # Excel's text marker
        ("１，２３４．５０", 123450),  # full-width
        ("0", 0),
        ("-0.00", 0),
        ("9,999,999,999,999.99", 999_999_999_999_999),
    ],
)
def test_parse_money_reads_text(raw: str, cents: int) -> None:
    assert parse_money(raw) == cents


@pytest.mark.parametrize(
    ("raw", "cents"),
    [
        ("1 234,50", 123450),
        ("1.234,50", 123450),
        ("1234,5", 123450),
        ("1234,50", 123450),
        ("1.234", 123400),  # with --decimal-comma the point groups thousands
        ("1.234.567,89", 123456789),
        ("0,05", 5),
        (",5", 50),
        ("€1.234,50", 123450),
        ("1.234,50 €", 123450),
        ("-1.234,50", -123450),
        ("(1.234,50)", -123450),
        (1234.5, 123450),  # a number cell is a number whatever the text convention
        (12, 1200),
    ],
)
def test_parse_money_with_decimal_comma(raw: Any, cents: int) -> None:
    assert parse_money(raw, decimal_comma=True) == cents


@pytest.mark.parametrize(
    "raw",
    [
        "1,23,4",
        "12,34.5",
        "1,2345",
        "1,234.567",
        "12.345",
        "1.2.3",
        "1 234,50",  # decimal comma without --decimal-comma
        "1.234,50",
        "12 34",  # a space where no thousands group ends
        "1 23 4",
        "1e3",
        "0x10",
        "--3",
        "1234.",
        "abc",
        "",
        "   ",
        "¥",
        "()",
        "-",
        "12.5.",
        "1_000",
        "NaN",
        "inf",
        "10,000,000,000,000.00",  # 10^13 = 10^15 cents: beyond any shop and 15 digits
        "9" * 40,
        True,
        False,
        math.nan,
        math.inf,
        -math.inf,
        1e16,
        10**13,
        None,
    ],
)
def test_parse_money_refuses(raw: Any) -> None:
    with pytest.raises(BadValue):
        parse_money(raw)


@pytest.mark.parametrize(
    "raw",
    # 1,234 and 12,345 are 1.234 and 12.345 here: three decimals.
    ["1,23,4", "12.34,5", "1.234.5", "1,234", "1,2,3", "12,345", "1.23,4", "12 34,5", "1,234.50"],
)
def test_parse_money_with_decimal_comma_refuses(raw: str) -> None:
    with pytest.raises(BadValue):
        parse_money(raw, decimal_comma=True)


def _grouped(units: int, separator: str) -> str:
    return f"{units:,}".replace(",", separator)


@FEW
@given(cents=st.integers(min_value=-(10**10), max_value=10**10))
def test_money_round_trip(cents: int) -> None:
    units, hundredths = divmod(abs(cents), 100)
    sign = "-" if cents < 0 else ""
    plain = f"{units}.{hundredths:02d}"
    commas = f"{_grouped(units, ',')}.{hundredths:02d}"
    point_styles = [
        f"{sign}{plain}",
        f"{sign}{commas}",
        f"{sign}¥{commas}",
        f"¥{sign}{commas}",
        f"{sign}￥{commas}",
        f"{sign}${commas}",
        f"{sign}{plain}元",
        f"{sign}RMB {plain}",
        f"{sign}{_grouped(units, ' ')}.{hundredths:02d}",
        f"({commas})" if cents < 0 else commas,  # accounting style for negatives
        f"(¥{commas})" if cents < 0 else f"¥{commas}",
        fullwidth(f"{sign}{commas}"),
    ]
    for rendered in point_styles:
        assert parse_money(rendered) == cents, rendered
    comma_styles = [
        f"{sign}{_grouped(units, '.')},{hundredths:02d}",
        f"{sign}{_grouped(units, ' ')},{hundredths:02d}",
        f"{sign}{units},{hundredths:02d}",
        f"({_grouped(units, '.')},{hundredths:02d})"
        if cents < 0
        else f"€{_grouped(units, '.')},{hundredths:02d}",
    ]
    for rendered in comma_styles:
        assert parse_money(rendered, decimal_comma=True) == cents, rendered
    # What Excel stores for the amount: the double nearest to it.
    assert parse_money(cents / 100) == cents
    if hundredths == 0:
        assert parse_money(cents // 100) == cents


@FEW
@given(mills=st.integers(min_value=-(10**12), max_value=10**12).filter(lambda m: m % 10 != 0))
def test_a_third_decimal_is_never_rounded_away(mills: int) -> None:
    # mills / 1000 has a non-zero third decimal; up to 10^9 it has at most 13 digits.
    with pytest.raises(BadValue, match="more than two decimals"):
        parse_money(mills / 1000)
    units, rest = divmod(abs(mills), 1000)
    with pytest.raises(BadValue, match="more than two decimals"):
        parse_money(f"{'-' if mills < 0 else ''}{units}.{rest:03d}")


# --- whole numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (2, 2),
        (0, 0),
        (2.0, 2),
        ("2", 2),
        (" 3 ", 3),
        ("2.0", 2),
        ("1,000", 1000),
        ("1,234,567", 1234567),
        ("２", 2),
        ("+4", 4),
        ("-0", 0),
    ],
)
def test_parse_count_reads_whole_numbers(raw: Any, expected: int) -> None:
    assert parse_count(raw) == expected


@pytest.mark.parametrize("raw", [-1, -1.0, "-1", "-2.0", "-1,000"])
def test_parse_count_refuses_negative_numbers_and_says_so(raw: Any) -> None:
    with pytest.raises(BadValue, match="negative"):
        parse_count(raw)


@pytest.mark.parametrize(
    "raw",
    [
        2.5,
        "2.5",
        "1,5",  # someone's 1.5; it used to be read as 15
        "1,00",
        "12,34",
        "abc",
        "",
        "two",
        True,
        math.nan,
        math.inf,
        10**15,  # too large to be stored and summed safely
        "1" * 30,
    ],
)
def test_parse_count_refuses(raw: Any) -> None:
    with pytest.raises(BadValue):
        parse_count(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (120, 120),
        (-50, -50),
        (120.0, 120),
        ("-50", -50),
        ("1,200", 1200),
        ("+5", 5),
        ("120.0", 120),
        ("０", 0),
    ],
)
def test_parse_points_reads_signed_whole_numbers(raw: Any, expected: int) -> None:
    assert parse_points(raw) == expected


@pytest.mark.parametrize("raw", [1.5, "1.5", "1,5", "abc", "", True, math.nan, 10**15])
def test_parse_points_refuses(raw: Any) -> None:
    with pytest.raises(BadValue):
        parse_points(raw)


@FEW
@given(number=st.integers(min_value=0, max_value=10**12))
def test_count_round_trip(number: int) -> None:
    for rendered in (
        number,
        float(number),
        str(number),
        f"{number:,}",
        f"{number}.0",
        fullwidth(f"{number:,}"),
    ):
        assert parse_count(rendered) == number, rendered
        assert parse_points(rendered) == number, rendered
        if number:
            assert parse_points(f"-{rendered}") == -number, rendered


# --- status -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("completed", COMPLETED),
        ("Completed", COMPLETED),
        (" COMPLETED ", COMPLETED),
        ("ｃｏｍｐｌｅｔｅｄ", COMPLETED),
        ("refunded", REFUNDED),
        ("Refunded", REFUNDED),
        ("cancelled", CANCELLED),
        ("canceled", CANCELLED),
        ("CANCELED", CANCELLED),
        ("已完成", COMPLETED),
        ("已退款", REFUNDED),
        ("已取消", CANCELLED),
        (" 已完成\u3000", COMPLETED),
        ("交易成功", COMPLETED),
        ("交易关闭", CANCELLED),
    ],
)
def test_parse_status(raw: str, status: str) -> None:
    assert parse_status(raw) == status


def test_every_listed_status_word_is_recognised_in_any_case() -> None:
    for status, words in _STATUS_WORDS.items():
        for word in words:
            for written in (word, word.upper(), word.title(), f"  {word} "):
                assert parse_status(written) == status, written


@pytest.mark.parametrize("raw", ["", "complete d", "refunded!", "1", None, "待审核", "shipped?"])
def test_unknown_statuses_are_refused(raw: Any) -> None:
    with pytest.raises(BadValue, match="completed, refunded, cancelled or pending"):
        parse_status(raw)


# --- text -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (13812345678.0, "13812345678"),  # a phone number Excel stored as a number
        (1001.0, "1001"),
        (1.5, "1.5"),
        (42, "42"),
        ("  Alice  ", "Alice"),
        ("\u3000王芳\u3000", "王芳"),
        ("C001", "C001"),
        (datetime(2024, 1, 5, 13, 45), "2024-01-05 13:45:00"),
        (True, "true"),
    ],
)
def test_clean_text(raw: Any, text: str) -> None:
    assert clean_text(raw) == text


@pytest.mark.parametrize(
    ("raw", "blank"), [(None, True), ("", True), ("  \t", True), (0, False), ("0", False)]
)
def test_is_blank(raw: Any, blank: bool) -> None:
    assert is_blank(raw) is blank


# --- nothing a cell holds may crash the import ------------------------------------------------

PARSERS: list[Callable[[Any], object]] = [
    parse_date,
    lambda v: parse_date(v, dayfirst=True),
    parse_money,
    lambda v: parse_money(v, decimal_comma=True),
    parse_count,
    parse_points,
    parse_status,
]
CELLS = st.one_of(
    st.text(),
    st.text(alphabet="0123456789.,-+()/ ¥$元年月日:Tabc'\u00a0", max_size=20),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(),
    st.datetimes(),
)


@FEW
@given(cell=CELLS)
def test_any_cell_is_read_or_refused_with_bad_value(cell: Any) -> None:
    # The importer turns BadValue into a row error; any other exception is a traceback.
    for parse in PARSERS:
        with contextlib.suppress(BadValue):
            parse(cell)


def test_money_and_counts_fit_in_sqlite_integers() -> None:
    # Values that reach the database must fit a signed 64-bit integer even when summed.
    assert abs(parse_money("9,999,999,999,999.99")) * 9000 < 2**63
    with pytest.raises(BadValue, match="too large"):
        parse_money("99999999999999999999999")
    with pytest.raises(BadValue, match="too large"):
        parse_count("99999999999999999999999")
    with pytest.raises(BadValue, match="too large"):
        parse_points(-(10**20))


def test_digits_typed_as_text_are_a_date_only_in_the_range_of_recent_serials() -> None:
    assert parse_date("45292") == date(2024, 1, 1)  # 45292 days after 1899-12-30
    for text in ("2024", "12", "99999"):
        with pytest.raises(BadValue):
            parse_date(text)


# --- a whole column of amounts at once gives what parsing each amount gives ------------------------

AMOUNT_TEXTS = st.one_of(
    st.from_regex(r"\A[0-9]{1,14}\.[0-9]{2}\Z"),
    st.from_regex(r"\A[0-9]{1,14}(\.[0-9]{0,3})?\Z"),
    st.text(alphabet="0123456789.\n ¥,-\u0661", max_size=16),
)
AMOUNT_NUMBERS = st.one_of(
    st.integers(min_value=0, max_value=10**15 + 10).map(lambda cents: cents / 100),
    st.integers(min_value=0, max_value=10**6).map(lambda mills: mills / 1000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.just(-0.0),
)


def parsed_or_refused(cell: Any) -> Any:
    try:
        return parse_money(cell)
    except BadValue:
        return "refused"


@FEW
@given(
    texts=st.lists(st.from_regex(r"\A[0-9]{1,14}\.[0-9]{2}\Z"), min_size=1, max_size=30)
    | st.lists(AMOUNT_TEXTS, min_size=1, max_size=30)
)
def test_many_amount_texts_read_at_once_as_one_by_one(texts: list[str]) -> None:
    quick = parse_money_texts(texts)
    if quick is not None:
        assert quick == [parsed_or_refused(text) for text in texts]


@FEW
@given(
    numbers=st.lists(st.integers(min_value=0, max_value=10**15 + 10).map(lambda c: c / 100), min_size=1)
    | st.lists(AMOUNT_NUMBERS, min_size=1, max_size=30)
)
def test_many_amount_numbers_read_at_once_as_one_by_one(numbers: list[float]) -> None:
    quick = parse_money_floats(numbers)
    if quick is not None:
        assert quick == [parsed_or_refused(number) for number in numbers]


def test_many_amounts_at_once_in_their_common_shapes() -> None:
    assert parse_money_texts(["1078.44", "0.30", "9999999999999.99"]) == [107844, 30, 999999999999999]
    assert parse_money_floats([1078.44, 0.1 + 0.2, 3.0, -12.5, -0.0, 9999999999999.99]) == [
        107844,
        30,
        300,
        -1250,
        0,
        999999999999999,
    ]
    # Texts of any other shape, or numbers one of which is refused, are left to parse_money.
    for texts in (["1.5"], ["12"], ["1.00", " 2.00"], ["1.00\n2.00"], ["1.00", ""]):
        assert parse_money_texts(texts) is None
    for numbers in ([0.001], [1.0, 1.001], [1e16], [math.nan], [math.inf]):
        assert parse_money_floats(numbers) is None
