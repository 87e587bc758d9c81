"""Hostile cell values: codes in one normal form, digits that are not 0-9, amounts that contradict
themselves, times that are no time, Excel's fictitious 1900-02-29, and NaN or infinite numbers.

Every expected value is worked out by hand from the rules in the README ("Bad input"); the
whole-column shortcuts are checked against parsing each cell alone.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpm.io.values import (
    BadValue,
    clean_text,
    parse_code,
    parse_count,
    parse_date,
    parse_money,
    parse_money_texts,
    parse_points,
    parse_status,
)
from cpm.services import rows
from cpm.services.fields import CODE, COUNT, DATE, MONEY, POINTS, STATUS, TEXT
from cpm.services.rows import BadCell, ReadOptions, column_reader

FEW = settings(max_examples=200, deadline=None)

# --- codes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "C0001",
        "Ｃ０００１",  # full-width, as a Chinese input method types it
        " C0001 ",
        "\u3000C0001\u3000",  # ideographic spaces
        "\u00a0C0001",  # a no-break space
        "\u200bC0001",  # a zero-width space in front
        "C0001\u200d",  # a zero-width joiner behind
        "\ufeffC0001",  # a byte-order mark left over from a text export
        "\u2060 Ｃ０００１ \u200b",  # all of it at once
    ],
)
def test_codes_that_differ_only_by_width_or_invisible_ends_are_one_code(raw: str) -> None:
    assert parse_code(raw) == "C0001"


def test_a_number_cell_is_the_code_it_shows() -> None:
    assert parse_code(1001.0) == "1001"
    assert parse_code(13812345678.0) == "13812345678"


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ("C\x1b[31m01", "U+001B"),  # an ANSI colour sequence
        ("C\x0701", "U+0007"),  # BEL
        ("C\x0001", "U+0000"),  # NUL
        ("C\x7f01", "U+007F"),  # DEL
        ("C\u200b01", "U+200B (ZERO WIDTH SPACE)"),  # zero-width inside, not at an end
        ("C\u202e10", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ("C\u206601", "U+2066 (LEFT-TO-RIGHT ISOLATE)"),
        ("C\u202801", "U+2028 (LINE SEPARATOR)"),
        ("C\n01", "U+000A"),
        ("C\t01", "U+0009"),
        ("\u202eC01", "U+202E"),  # a bidi override is not trimmed from an end: it is refused
    ],
)
def test_a_code_holding_an_invisible_character_is_refused_naming_it(raw: str, named: str) -> None:
    with pytest.raises(BadValue, match="invisible character") as refused:
        parse_code(raw)
    assert named in str(refused.value)


def test_a_code_of_only_invisible_characters_is_refused() -> None:
    with pytest.raises(BadValue, match="only invisible characters"):
        parse_code("\u200b\u200c")


def test_a_code_is_at_most_64_characters_once_normalised() -> None:
    assert parse_code("Ｃ" * 64) == "C" * 64
    with pytest.raises(BadValue, match="longer than 64"):
        parse_code("C" * 65)
    # NFKC writes ㍿ as 株式会社: 17 of them are 68 characters.
    with pytest.raises(BadValue, match="longer than 64"):
        parse_code("㍿" * 17)


def test_names_keep_their_text_control_characters_and_all() -> None:
    # Only codes are refused: a name is shown safely when printed, never changed.
    assert clean_text(" Ｌｉ\x1b[31m Lei\u202e ") == "Ｌｉ\x1b[31m Lei\u202e"


# The characters that make codes hard: full-width forms, zero-width and bidi characters,
# controls, spaces of all widths, combining marks and Hangul jamo (which NFKC composes), and
# compatibility characters NFKC expands (㍿, ﬁ).
CODE_ALPHABET = (
    "Cc019-_ Ｃｃ０１９－＿\u3000\u00a0\u200b\u200c\u200d\u2060\ufeff\u202e\u2066\u2028"
    "\x00\x07\x1b\x7f\t\n\x85\u0301\u0323e\u1100\u1161\u11a8가㍿ﬁ会员"
)
CODE_TEXTS = st.one_of(
    st.text(alphabet=CODE_ALPHABET, min_size=1, max_size=8),
    st.from_regex(r"\A[A-Z]{1,3}[0-9]{1,8}\Z"),
    st.text(min_size=1, max_size=6),
)


def parsed_alone(parse: Any, cell: Any) -> Any:
    try:
        return ("ok", parse(cell))
    except BadValue as exc:
        return ("bad", str(exc))


@FEW
@given(texts=st.lists(CODE_TEXTS.filter(lambda t: t.strip()), min_size=1, max_size=20))
def test_the_whole_column_path_for_codes_gives_what_parsing_each_gives(texts: list[str]) -> None:
    quick = rows._stripped(texts, {str}, codes=True)
    alone = [parsed_alone(parse_code, text) for text in texts]
    if quick is not None:
        assert [("ok", code) for code in quick] == alone


def test_the_whole_column_path_takes_plain_and_nfkc_normal_codes() -> None:
    # The shortcut must not decline the common cases, or a million codes are read one by one.
    assert rows._stripped([" C0001", "SO-2411-0001 "], {str}, codes=True) == ["C0001", "SO-2411-0001"]
    assert rows._stripped(["会员0001", "Müller-7"], {str}, codes=True) == ["会员0001", "Müller-7"]
    for declined in (["Ｃ１"], ["C\x1b1"], ["\u200bC1"], ["e\u0301"], ["C1", "x" * 65]):
        assert rows._stripped(declined, {str}, codes=True) is None


def hostile_column(kind: str) -> st.SearchStrategy[list[Any]]:
    texts = {
        CODE: CODE_TEXTS,
        MONEY: st.text(alphabet=MONEY_ALPHABET, max_size=10),
        DATE: st.text(alphabet=DATE_ALPHABET, max_size=20),
    }
    cells = st.one_of(texts.get(kind, CODE_TEXTS), st.sampled_from([math.nan, math.inf, -math.inf, 1.0]))
    return st.lists(st.lists(cells, min_size=1, max_size=10), min_size=1, max_size=6)


MONEY_ALPHABET = "0123456789.,-+()$€¥元 ０１２３４５６７８９．，￥（）¹²³⁴①②٣३三"
DATE_ALPHABET = "0123456789-/: T+Z年月日AMP２０１４：¹٣"


@FEW
@given(data=st.data(), kind=st.sampled_from([CODE, MONEY, DATE, TEXT, COUNT, POINTS, STATUS]))
def test_a_hostile_column_read_a_chunk_at_a_time_reads_each_cell_as_parsing_it_alone(
    data: st.DataObject, kind: str
) -> None:
    chunks = data.draw(hostile_column(kind))
    options = ReadOptions()
    parse = rows._parser_for(kind, options)
    with mock.patch.object(rows, "MEMORY_LIMIT", 8), mock.patch.object(rows, "MEMORY_TRIAL_ROWS", 10):
        reader = column_reader(kind, options, required=True)
        for cells in chunks * 2:
            kinds = {str} if all(type(cell) is str for cell in cells) else None
            values, _ = reader.read(cells, kinds)
            read = [("bad", v.expected) if isinstance(v, BadCell) else ("ok", v) for v in values]
            expected = [
                ("bad", rows.REQUIRED) if isinstance(c, str) and not c.strip() else parsed_alone(parse, c)
                for c in cells
            ]
            assert read == expected


# --- digits other than 0-9 --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "cents"),
    [
        ("１２３．４５", 12345),  # full-width digits and point
        ("￥１，２３４", 123400),  # full-width yen and comma
        ("１,２34.5", 123450),  # full-width and ASCII digits mixed: the same digits
        ("（１２．００）", -1200),  # full-width parentheses
        ("－１２", -1200),  # full-width minus
    ],
)
def test_full_width_amounts_are_read(raw: str, cents: int) -> None:
    assert parse_money(raw) == cents


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ("¹²³.⁴⁵", "U+00B9 (SUPERSCRIPT ONE)"),
        ("12³", "U+00B3 (SUPERSCRIPT THREE)"),
        ("①②", "U+2460 (CIRCLED DIGIT ONE)"),
        ("⑴", "U+2474"),  # NFKC would make it (1), a negative one
        ("١٢٣.٤٥", "U+0661 (ARABIC-INDIC DIGIT ONE)"),
        ("12٣", "U+0663"),  # one Arabic-Indic digit among ASCII ones
        ("१२३", "U+0967 (DEVANAGARI DIGIT ONE)"),
        ("12三", "U+4E09"),  # a Chinese numeral
        ("𝟏𝟐", "U+1D7CF"),  # mathematical bold digits
    ],
)
def test_amounts_in_other_digits_are_refused_naming_the_character(raw: str, named: str) -> None:
    with pytest.raises(BadValue, match="not a digit 0-9") as refused:
        parse_money(raw)
    assert named in str(refused.value)
    with pytest.raises(BadValue, match="not a digit 0-9"):
        parse_money(raw, decimal_comma=True)


@pytest.mark.parametrize("raw", ["①", "³", "١٢", "१", "三", "２⁰"])
def test_counts_points_and_dates_refuse_other_digits_too(raw: str) -> None:
    for parse in (parse_count, parse_points):
        with pytest.raises(BadValue, match="not a digit 0-9"):
            parse(raw)
    assert parse_count("３") == 3 and parse_points("－３") == -3
    with pytest.raises(BadValue, match="not a digit 0-9"):
        parse_date(f"2024-01-0{raw}")


@pytest.mark.parametrize("raw", ["²⁰²⁴-01-05", "٢٠٢٤/1/5", "2024年①月5日", "४५२९२"])
def test_dates_in_other_digits_are_refused(raw: str) -> None:
    with pytest.raises(BadValue, match="not a digit 0-9"):
        parse_date(raw)
    assert parse_date("２０２４年１月５日") == date(2024, 1, 5)


# --- signs and currency marks -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "cents"),
    [
        ("(12.00)", -1200),  # the accountant's negative, as the README says
        ("(¥1,234.50)", -123450),
        ("¥(1,234.50)", -123450),  # Excel's currency format shows a negative this way too
        ("($1,234.50)", -123450),
        ("-¥12", -1200),
        ("¥-12", -1200),
        ("12-", -1200),
        ("¥12-", -1200),
        ("+12", 1200),
        ("12元", 1200),
        ("RMB -12", -1200),
        ("'-12.00", -1200),  # Excel's mark of a number typed as text
    ],
)
def test_one_sign_and_one_currency_mark_are_read(raw: str, cents: int) -> None:
    assert parse_money(raw) == cents


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("(-12.00)", "parentheses"),
        ("(+12.00)", "parentheses"),
        ("-(12.00)", "parentheses"),
        ("(12.00)-", "parentheses"),
        ("(¥-12)", "parentheses"),
        ("((12))", "more than one sign"),
        ("--12", "more than one sign"),
        ("-12-", "more than one sign"),
        ("+12-", "more than one sign"),
        ("-¥-12", "more than one sign"),
        ("$12€", "two currency signs ($ and €)"),
        ("$12$", "two currency signs ($ twice)"),
        ("¥12元", "two currency signs (¥ and 元)"),
        ("RMB ¥12", "two currency signs (RMB and ¥)"),
        ("€12 USD", "two currency signs (€ and USD)"),
        ("12$34", "expected an amount"),  # a currency mark inside the number
        ("1¥,234", "expected an amount"),
    ],
)
def test_amounts_that_contradict_themselves_are_refused(raw: str, words: str) -> None:
    with pytest.raises(BadValue, match=words.replace("(", r"\(").replace(")", r"\)").replace("$", r"\$")):
        parse_money(raw)


def test_decimal_comma_amounts_follow_the_same_sign_rules() -> None:
    assert parse_money("(1.234,50 €)", decimal_comma=True) == -123450
    for raw in ("(-1.234,50)", "€1.234,50 $", "--1,5"):
        with pytest.raises(BadValue):
            parse_money(raw, decimal_comma=True)


AMOUNT_TEXTS = st.one_of(
    st.from_regex(r"\A[0-9]{1,13}\.[0-9]{2}\Z"),
    st.text(alphabet="0123456789.\u0661\u0663\u00b9\u00b2\u2460\u0967０１２．", min_size=1, max_size=12),
)


@FEW
@given(texts=st.lists(AMOUNT_TEXTS, min_size=1, max_size=20))
def test_the_whole_column_path_for_amounts_gives_what_parsing_each_gives(texts: list[str]) -> None:
    quick = parse_money_texts(texts)
    if quick is not None:
        assert [("ok", cents) for cents in quick] == [parsed_alone(parse_money, text) for text in texts]


def test_the_whole_column_path_declines_other_digits() -> None:
    assert parse_money_texts(["12.50", "7.00"]) == [1250, 700]
    assert parse_money_texts(["12.50", "\u0661\u0662.00"]) is None  # Arabic-Indic 12.00
    with pytest.raises(BadValue, match="U\\+0661"):
        parse_money("\u0661\u0662.00")


# --- times of day and UTC offsets ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "day"),
    [
        ("2024-01-05 23:59:59", date(2024, 1, 5)),
        ("2024-01-05 00:00", date(2024, 1, 5)),
        ("2024-01-05T13:45:00.250+08:00", date(2024, 1, 5)),
        ("2024-01-05T13:45:00+14:00", date(2024, 1, 5)),  # Kiribati, the widest offset east
        ("2024-01-05T13:45:00-12:00", date(2024, 1, 5)),
        ("2024-01-05T13:45:00+05:45", date(2024, 1, 5)),  # Nepal
        ("2024-01-05T13:45:00+0800", date(2024, 1, 5)),
        ("2024-01-05T13:45:00Z", date(2024, 1, 5)),
        ("2024/1/5 7:05", date(2024, 1, 5)),
        ("2024年1月5日 23:59", date(2024, 1, 5)),
        ("2024年1月5日 23：59：59", date(2024, 1, 5)),  # full-width colons
        ("05/01/2024 12:59 AM", date(2024, 5, 1)),
        ("05/01/2024 11:30:59 pm", date(2024, 5, 1)),
        ("05/01/2024 23:59", date(2024, 5, 1)),
    ],
)
def test_real_times_and_offsets_are_read(raw: str, day: date) -> None:
    assert parse_date(raw) == day


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("2024-01-05 25:61", "the time 25:61"),
        ("2024-01-05 24:00", "the time 24:00"),
        ("2024-01-05 23:60", "the time 23:60"),
        ("2024-01-05 23:59:60", "the time 23:59:60"),
        ("2024-01-05T99:00:00+08:00", "the time 99:00:00"),
        ("2024/1/5 25:00", "the time 25:00"),
        ("2024.1.5 12:75", "the time 12:75"),
        ("2024年1月5日 25:00", "the time 25:00"),
        ("2024年1月5日 13:61", "the time 13:61"),
        ("２０２４－０１－０５ ２５：００", "the time 25:00"),
        ("05/01/2024 13:00 PM", "the time 13:00 PM"),
        ("05/01/2024 25:00", "the time 25:00"),
        ("05/01/2024 10:00:61 AM", "the time 10:00:61 AM"),
        ("2024-01-05T13:45:00+99:99", "offset +99:99"),
        ("2024-01-05T13:45:00+14:01", "offset +14:01"),
        ("2024-01-05T13:45:00-15:00", "offset -15:00"),
        ("2024-01-05T13:45:00+0860", "offset +0860"),
        ("2024-01-05 13:45+10:60", "offset +10:60"),
    ],
)
def test_times_that_are_no_time_and_offsets_no_place_has_are_refused(raw: str, words: str) -> None:
    with pytest.raises(BadValue, match=words.replace("+", r"\+")):
        parse_date(raw)
    with pytest.raises(BadValue):
        parse_date(raw, dayfirst=True)


# --- Excel serials around Excel's fictitious 1900-02-29 -----------------------------------------


@pytest.mark.parametrize(
    ("serial", "day"),
    [
        (1, date(1900, 1, 1)),  # Excel's first day
        (1.0, date(1900, 1, 1)),
        (1.75, date(1900, 1, 1)),  # 18:00 on it
        (2, date(1900, 1, 2)),
        (31, date(1900, 1, 31)),
        (32, date(1900, 2, 1)),
        (59, date(1900, 2, 28)),
        (59.99, date(1900, 2, 28)),
        (61, date(1900, 3, 1)),
        (62, date(1900, 3, 2)),
        (366, date(1900, 12, 31)),
        (367, date(1901, 1, 1)),
    ],
)
def test_excel_serials_on_both_sides_of_the_fictitious_leap_day(serial: float, day: date) -> None:
    assert parse_date(serial) == day


@pytest.mark.parametrize("serial", [60, 60.0, 60.5])
def test_excel_serial_60_the_1900_02_29_that_never_was_is_refused(serial: float) -> None:
    with pytest.raises(BadValue, match="1900-02-29, a day that never was"):
        parse_date(serial)


@FEW
@given(day=st.dates(min_value=date(1900, 1, 1), max_value=date(1900, 12, 31)))
def test_every_day_of_1900_from_its_excel_serial(day: date) -> None:
    # Excel numbers the days of 1900 from 1 on 1 January and, after 28 February, skips one number
    # for its 29 February.
    serial = day.timetuple().tm_yday + (1 if day >= date(1900, 3, 1) else 0)
    assert parse_date(serial) == day
    assert parse_date(float(serial)) == day


def test_serials_as_text_are_still_read_only_for_recent_dates() -> None:
    assert parse_date("45292") == date(2024, 1, 1)
    for text in ("1", "59", "61"):
        with pytest.raises(BadValue, match="not a date"):
            parse_date(text)


# --- NaN and infinite number cells ----------------------------------------------------------------


@pytest.mark.parametrize("cell", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("kind", [CODE, TEXT, MONEY, COUNT, POINTS, DATE, STATUS])
def test_a_nan_or_infinite_number_cell_is_refused_in_every_kind_of_column(kind: str, cell: float) -> None:
    parse = rows._parser_for(kind, ReadOptions())
    with pytest.raises(BadValue):
        parse(cell)


@pytest.mark.parametrize("cell", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_a_nan_or_infinite_cell_is_not_the_text_nan_or_inf(cell: float) -> None:
    for parse in (parse_code, clean_text, parse_money, parse_count, parse_points):
        with pytest.raises(BadValue, match="NaN|infinity"):
            parse(cell)
    with pytest.raises(BadValue):
        parse_status(cell)


def test_date_and_time_cells_as_calamine_gives_them() -> None:
    # A date-formatted cell arrives as a date or datetime, a time-only one as a time (not a date).
    assert parse_date(date(1900, 1, 1)) == date(1900, 1, 1)
    assert parse_date(datetime(1900, 2, 28, 12)) == date(1900, 2, 28)
    with pytest.raises(BadValue):
        parse_date(time(12, 0))
    assert date(1899, 12, 30) + timedelta(days=61) == parse_date(61)
