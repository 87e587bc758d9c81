"""Turning spreadsheet cells into typed values.

Each parser takes the raw cell (as calamine or the csv module gives it) and returns the value, or
raises BadValue with what was expected. Blank cells are handled by the caller.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from fractions import Fraction
from itertools import compress, repeat
from operator import eq, mul, not_, truediv
from typing import Any

EXCEL_EPOCH = date(1899, 12, 30)
# Serial numbers Excel can show as dates: 1900-01-01 .. 9999-12-31.
MAX_EXCEL_SERIAL = 2958465

# Excel serials accepted when they arrive as text (CSV): 1950-01-01 up to 2100-01-01.
TEXT_SERIALS = (18264, 73051)
DATE_EXPECTED = "expected a date such as 2024-01-05, 2024/1/5, 2024年1月5日 or an Excel date"
MONEY_EXPECTED = "expected an amount such as 1234.50, ¥1,234.50 or $1,234.50"
# Far beyond any shop's figures (an amount below ten trillion, i.e. 15 digits, as many as Excel
# keeps), yet well inside SQLite's 64-bit integers, so sums over many rows cannot overflow there.
# The lines of one order may add up to no more either (cpm.services.order_lines).
NUMBER_LIMIT = 10**15


class BadValue(ValueError):
    """A cell that cannot be read as the type its column needs; the text says what was expected."""


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def clean_text(value: Any) -> str:
    """Text as a person typed it: numbers from Excel lose a trailing .0, spaces are trimmed."""
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


# --- dates ------------------------------------------------------------------------------------

_ISO_LIKE = re.compile(
    r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"
)
_CHINESE = re.compile(
    r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?(?:\s*\d{1,2}[:：]\d{2}(?:[:：]\d{2})?)?$"
)
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SLASHED = re.compile(
    r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?:[T ]\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp][Mm])?)?$"
)
_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}
_DAY_MONTH_NAME = re.compile(r"^(\d{1,2})[\s\-]([A-Za-z]+)\.?[\s\-,]+(\d{4})$")
_MONTH_NAME_DAY = re.compile(r"^([A-Za-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})$")


def _make_date(year: int, month: int, day: int, raw: Any) -> date:
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise BadValue(f"not a real calendar date ({exc}); {DATE_EXPECTED}") from exc


def _from_serial(serial: float, raw: Any) -> date:
    # Compared as given: float() of a huge int overflows, and NaN fails the comparison anyway.
    # The bound is the end of the last day, so 9999-12-31 with a time of day is still a date.
    if not (1 <= serial < MAX_EXCEL_SERIAL + 1):
        raise BadValue(f"a number that is not an Excel date; {DATE_EXPECTED}")
    return EXCEL_EPOCH + timedelta(days=int(serial))


EARLIEST_DATE = date(1900, 1, 1)  # Excel's first day; windows and expiries reach back from dates


def parse_date(value: Any, *, dayfirst: bool = False) -> date:
    """A date from a date cell, an Excel serial, or text in the common forms, from 1900 on.

    `05/01/2024` is read month first (5 January with --dayfirst); a first part above 12 without
    --dayfirst is refused rather than guessed, so one file is never read two ways.
    """
    day = _parse_date(value, dayfirst=dayfirst)
    if day < EARLIEST_DATE:
        raise BadValue(f"a date before {EARLIEST_DATE.year}; {DATE_EXPECTED}")
    return day


def _parse_date(value: Any, *, dayfirst: bool) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        raise BadValue(DATE_EXPECTED)
    if isinstance(value, int | float):
        if 19000101 <= value <= 99991231 and float(value).is_integer():
            compact = int(value)
            return _make_date(compact // 10000, compact // 100 % 100, compact % 100, value)
        return _from_serial(value, value)
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if not text:
        raise BadValue(DATE_EXPECTED)
    if len(text) == 10 and text[4] == "-":
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    for pattern in (_ISO_LIKE, _CHINESE, _COMPACT):
        match = pattern.match(text)
        if match:
            year, month, day = (int(g) for g in match.groups())
            return _make_date(year, month, day, value)
    match = _SLASHED.match(text)
    if match:
        first, second, year = (int(g) for g in match.groups())
        if dayfirst:
            return _make_date(year, second, first, value)
        if first > 12 and second <= 12:
            raise BadValue("looks like day/month/year; run the import again with --dayfirst")
        return _make_date(year, first, second, value)
    match = _DAY_MONTH_NAME.match(text)
    if match and match.group(2).lower() in _MONTHS:
        return _make_date(int(match.group(3)), _MONTHS[match.group(2).lower()], int(match.group(1)), value)
    match = _MONTH_NAME_DAY.match(text)
    if match and match.group(1).lower() in _MONTHS:
        return _make_date(int(match.group(3)), _MONTHS[match.group(1).lower()], int(match.group(2)), value)
    # isdecimal, not isdigit: float() refuses digits such as the Ethiopic ፩ that isdigit admits.
    if text.replace(".", "", 1).isdecimal():
        serial = float(text)
        # A serial typed as text is only believable for recent dates: "2024" is a year, not 1905-07-16.
        if not TEXT_SERIALS[0] <= serial < TEXT_SERIALS[1]:
            raise BadValue(f"a number that is not a date; {DATE_EXPECTED}")
        return _from_serial(serial, value)
    raise BadValue(DATE_EXPECTED)


# --- money ------------------------------------------------------------------------------------

_CURRENCY_MARKS = ("RMB", "CNY", "USD", "EUR", "HKD", "元", "¥", "￥", "$", "€", "£")
_GROUP_MARKS = " \u00a0\u2009\u202f\u3000'"
_SPACES = dict.fromkeys(map(ord, _GROUP_MARKS), None)
# A space or apostrophe between digits groups thousands, so it must sit where a comma (or, with
# --decimal-comma, a point) could: `1 234,50` is fine, `12 34` is as malformed as `12,34`.
_GROUP_GAP = re.compile(f"(?<=\\d)[{_GROUP_MARKS}]+(?=\\d)")
_POINT_NUMBER = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$|^\d+(\.\d+)?$|^\.\d+$")
_COMMA_NUMBER = re.compile(r"^\d{1,3}(\.\d{3})+(,\d+)?$|^\d+(,\d+)?$|^,\d+$")


def _cents(amount: Fraction) -> int:
    # Exact arithmetic: a Decimal product is rounded to 28 digits and could hide a third decimal.
    hundredths = amount * 100
    if hundredths.denominator != 1:
        raise BadValue(f"has more than two decimals; {MONEY_EXPECTED}")
    if abs(hundredths) >= NUMBER_LIMIT:
        raise BadValue(f"is too large for an amount (at most 9,999,999,999,999.99); {MONEY_EXPECTED}")
    return int(hundredths)


# The shape nearly every cell has (`1234.5`, `88`, `0.30`): read with integers, no Fraction.
_PLAIN = re.compile(r"(\d{1,13})(?:\.(\d{1,2}))?")


def _plain_cents(text: str) -> int | None:
    match = _PLAIN.fullmatch(text)
    if match is None:
        return None
    whole, fraction = match.groups()
    return int(whole) * 100 + (int(fraction.ljust(2, "0")) if fraction else 0)


# Whole columns at once: an import reads a million mostly distinct amounts, and one regular
# expression over all of them, then int() on each, runs in C. Each returns None when a single
# value has another shape; the caller then parses value by value, with the same results.
_TWO_DECIMAL_LINES = re.compile(r"\d{1,13}\.\d{2}(?:\n\d{1,13}\.\d{2})*")


def _cents_of_lines(texts: Sequence[str]) -> list[int] | None:
    """Texts shaped `1234.50` (exactly two decimals) as cents: the digits without the point."""
    joined = "\n".join(texts)
    # A text holding a line break of its own would shift every value after it.
    if joined.count("\n") != len(texts) - 1 or not _TWO_DECIMAL_LINES.fullmatch(joined):
        return None
    return list(map(int, joined.replace(".", "").split("\n")))


def parse_money_texts(texts: Sequence[str]) -> list[int] | None:
    """parse_money of each text (without --decimal-comma), if every one is shaped `1234.50`."""
    return _cents_of_lines(texts) if texts else None


def parse_money_floats(numbers: Sequence[float]) -> list[int] | None:
    """parse_money of each number cell, or None if one of them is refused.

    A number that is the closest double to some count of cents c below the limit (what typing
    1234.5 in Excel stores) has c/100 as its 15 significant digits, which parse_money reads; and
    number * 100 lies within 0.25 of c, so rounding it finds c. Other numbers (0.1 + 0.2, a third
    decimal) are parsed one by one.
    """
    if not numbers or not all(map(math.isfinite, numbers)) or max(map(abs, numbers)) * 100 >= NUMBER_LIMIT:
        return None
    cents = list(map(round, map(mul, numbers, repeat(100))))
    if max(map(abs, cents)) >= NUMBER_LIMIT:
        return None
    exact = list(map(eq, map(truediv, cents, repeat(100)), numbers))
    if not all(exact):
        for position in compress(range(len(numbers)), map(not_, exact)):
            try:
                cents[position] = parse_money(numbers[position])
            except BadValue:
                return None
    return cents


def parse_money(value: Any, *, decimal_comma: bool = False) -> int:
    """An amount in minor units (cents / 分). More than two decimals is refused, not rounded."""
    if isinstance(value, bool):
        raise BadValue(MONEY_EXPECTED)
    if isinstance(value, int):
        return _cents(Fraction(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BadValue(MONEY_EXPECTED)
        shown = f"{abs(value):.15g}"
        quick = _plain_cents(shown)
        if quick is not None:
            return -quick if value < 0 else quick
        # Excel keeps and shows 15 significant digits; what lies beyond them is binary noise
        # (0.1 + 0.2 is stored as 0.30000000000000004), while a third decimal within them is real
        # and would be silently lost. A tolerance relative to the amount let 10000.125 through.
        return _cents(Fraction(f"{value:.15g}"))
    if not decimal_comma and isinstance(value, str):
        quick = _plain_cents(value)
        if quick is not None:
            return quick
    text = unicodedata.normalize("NFKC", str(value)).strip()
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1].strip()
    for mark in _CURRENCY_MARKS:
        text = text.replace(mark, "")
    text = _GROUP_GAP.sub("." if decimal_comma else ",", text.strip())
    text = text.translate(_SPACES)
    if text.startswith("-"):
        negative, text = not negative, text[1:]
    elif text.startswith("+"):
        text = text[1:]
    if text.endswith("-"):
        negative, text = not negative, text[:-1]
    pattern = _COMMA_NUMBER if decimal_comma else _POINT_NUMBER
    if not text or not pattern.match(text):
        hint = " (with --decimal-comma: 1.234,50)" if decimal_comma else ""
        raise BadValue(f"{MONEY_EXPECTED}{hint}")
    plain = text.replace(".", "").replace(",", ".") if decimal_comma else text.replace(",", "")
    result = _cents(Fraction(plain))
    return -result if negative else result


# --- whole numbers ----------------------------------------------------------------------------

# Commas only as thousands separators: `1,5` is someone's 1.5, not fifteen.
_WHOLE_TEXT = re.compile(r"^([+-]?)(\d{1,3}(?:,\d{3})+|\d+)(?:\.0*)?$")


def _whole_number(value: Any, expected: str) -> int:
    if isinstance(value, bool):
        raise BadValue(expected)
    if isinstance(value, float):
        if not value.is_integer():
            raise BadValue(expected)
        number = int(value)
    elif isinstance(value, int):
        number = value
    else:
        match = _WHOLE_TEXT.match(unicodedata.normalize("NFKC", str(value)).strip())
        if match is None:
            raise BadValue(expected)
        sign, digits = match.groups()
        number = int(digits.replace(",", ""))
        if sign == "-":
            number = -number
    if abs(number) >= NUMBER_LIMIT:
        raise BadValue(f"is too large; {expected}")
    return number


def parse_count(value: Any) -> int:
    """A whole number of items, zero or more."""
    number = _whole_number(value, "expected a whole number of items")
    if number < 0:
        raise BadValue("must not be negative; record returns with a refunded status or amount")
    return number


def parse_points(value: Any) -> int:
    """A whole number of points, which may be negative."""
    return _whole_number(value, "expected a whole number of points")


# --- order status -----------------------------------------------------------------------------

COMPLETED, REFUNDED, CANCELLED = "completed", "refunded", "cancelled"
_STATUS_WORDS = {
    COMPLETED: (
        "completed",
        "complete",
        "done",
        "paid",
        "success",
        "successful",
        "finished",
        "closed won",
        "已完成",
        "完成",
        "已付款",
        "已支付",
        "交易成功",
        "已签收",
        "已收货",
        "成功",
    ),
    REFUNDED: (
        "refunded",
        "refund",
        "returned",
        "return",
        "已退款",
        "退款",
        "已退货",
        "退货",
        "退款成功",
    ),
    CANCELLED: (
        "cancelled",
        "canceled",
        "cancel",
        "void",
        "voided",
        "已取消",
        "取消",
        "已作废",
        "作废",
        "交易关闭",
        "已关闭",
    ),
}
_STATUS_LOOKUP = {word: status for status, words in _STATUS_WORDS.items() for word in words}
STATUS_EXPECTED = "expected completed, refunded or cancelled (已完成 / 已退款 / 已取消)"


def parse_status(value: Any) -> str:
    text = unicodedata.normalize("NFKC", str(value)).strip().casefold()
    status = _STATUS_LOOKUP.get(text)
    if status is None:
        raise BadValue(STATUS_EXPECTED)
    return status
