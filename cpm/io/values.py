"""Turning spreadsheet cells into typed values: codes, text, amounts, whole numbers, statuses.

Each parser takes the raw cell (as calamine or the csv module gives it) and returns the value, or
raises BadValue with what was expected. Blank cells are handled by the caller. Dates are read in
cpm.io.dates and offered here too, so that one module holds every parser an import uses.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime
from fractions import Fraction
from itertools import compress, repeat
from operator import eq, mul, not_, truediv
from typing import Any

from cpm.i18n import N_
from cpm.io.cells import BadValue as BadValue
from cpm.io.cells import is_blank as is_blank
from cpm.io.cells import number_text, refuse_not_finite
from cpm.io.dates import parse_date as parse_date
from cpm.io.text import CodeError, normalise_code

MONEY_EXPECTED = "expected an amount such as 1234.50, ¥1,234.50 or $1,234.50"
# Far beyond any shop's figures (an amount below ten trillion, i.e. 15 digits, as many as Excel
# keeps), yet well inside SQLite's 64-bit integers, so sums over many rows cannot overflow there.
# The lines of one order may add up to no more either (cpm.services.order_lines).
NUMBER_LIMIT = 10**15
MAX_CODE_LENGTH = 64


def clean_text(value: Any) -> str:
    """Text as a person typed it: numbers from Excel lose a trailing .0, spaces are trimmed.

    A NaN or infinite number cell is refused: it would become the text `nan` or `inf`.
    """
    if isinstance(value, float):
        refuse_not_finite(value)
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def parse_code(value: Any) -> str:
    """A customer code or order number in its one normal form (cpm.io.text.normalise_code).

    `Ｃ０００１`, ` C0001 ` and `\u200bC0001` are all `C0001`; a code that still holds a control,
    zero-width, bidi or line-separator character is refused, and so is one longer than 64.
    """
    try:
        code = normalise_code(clean_text(value))
    except CodeError as exc:
        raise BadValue(str(exc)) from exc
    if not code:
        raise BadValue("holds only invisible characters; a value is required here")
    if len(code) > MAX_CODE_LENGTH:
        raise BadValue(f"longer than {MAX_CODE_LENGTH} characters")
    return code


# --- money ------------------------------------------------------------------------------------

_CURRENCY_MARKS = ("RMB", "CNY", "USD", "EUR", "HKD", "元", "¥", "￥", "$", "€", "£")
_GROUP_MARKS = " \u00a0\u2009\u202f\u3000'"
_SPACES = dict.fromkeys(map(ord, _GROUP_MARKS), None)
# A space or apostrophe between digits groups thousands, so it must sit where a comma (or, with
# --decimal-comma, a point) could: `1 234,50` is fine, `12 34` is as malformed as `12,34`.
_GROUP_GAP = re.compile(f"(?<=[0-9])[{_GROUP_MARKS}]+(?=[0-9])")
_POINT_NUMBER = re.compile(r"[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?|[0-9]+(\.[0-9]+)?|\.[0-9]+")
_COMMA_NUMBER = re.compile(r"[0-9]{1,3}(\.[0-9]{3})+(,[0-9]+)?|[0-9]+(,[0-9]+)?|,[0-9]+")


def _cents(amount: Fraction) -> int:
    # Exact arithmetic: a Decimal product is rounded to 28 digits and could hide a third decimal.
    hundredths = amount * 100
    if hundredths.denominator != 1:
        raise BadValue(f"has more than two decimals; {MONEY_EXPECTED}")
    if abs(hundredths) >= NUMBER_LIMIT:
        raise BadValue(f"is too large for an amount (at most 9,999,999,999,999.99); {MONEY_EXPECTED}")
    return int(hundredths)


# The shape nearly every cell has (`1234.5`, `88`, `0.30`): read with integers, no Fraction.
_PLAIN = re.compile(r"([0-9]{1,13})(?:\.([0-9]{1,2}))?")


def _plain_cents(text: str) -> int | None:
    match = _PLAIN.fullmatch(text)
    if match is None:
        return None
    whole, fraction = match.groups()
    return int(whole) * 100 + (int(fraction.ljust(2, "0")) if fraction else 0)


# Whole columns at once: an import reads a million mostly distinct amounts, and one regular
# expression over all of them, then int() on each, runs in C. Each returns None when a single
# value has another shape; the caller then parses value by value, with the same results.
_TWO_DECIMAL_LINES = re.compile(r"[0-9]{1,13}\.[0-9]{2}(?:\n[0-9]{1,13}\.[0-9]{2})*")


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
        refuse_not_finite(value)
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
    negative, text = _sign_and_number(number_text(value))
    text = _GROUP_GAP.sub("." if decimal_comma else ",", text)
    text = text.translate(_SPACES)
    pattern = _COMMA_NUMBER if decimal_comma else _POINT_NUMBER
    if not text or not pattern.fullmatch(text):
        hint = " (with --decimal-comma: 1.234,50)" if decimal_comma else ""
        raise BadValue(f"{MONEY_EXPECTED}{hint}")
    plain = text.replace(".", "").replace(",", ".") if decimal_comma else text.replace(",", "")
    result = _plain_cents(plain)
    if result is None:
        result = _cents(Fraction(plain))
    return -result if negative else result


def _sign_and_number(text: str) -> tuple[bool, str]:
    """Whether an amount's text says it is negative, and the number left once that is read.

    Around the number may stand one sign (`-12`, `+12`, `12-`), or parentheses (`(12.00)`, the
    accountant's negative), and one currency mark before or after it (`¥-12`, `-¥12`, `12元`).
    More than one of either contradicts itself and is refused: `(-12.00)` (parentheses already
    say negative), `--3`, `-12-`, `$12€`, `¥12¥`.
    """
    if text.startswith("'"):  # Excel's mark of a number typed as text
        text = text[1:].lstrip()
    signs: list[str] = []
    marks: list[str] = []
    parentheses = 0
    while text:
        if text.startswith("(") and text.endswith(")"):
            parentheses += 1
            text = text[1:-1].strip()
        elif text[0] in "+-":
            signs.append(text[0])
            text = text[1:].lstrip()
        elif text.endswith("-"):
            signs.append("-")
            text = text[:-1].rstrip()
        else:
            if text.startswith(_CURRENCY_MARKS):
                mark = next(m for m in _CURRENCY_MARKS if text.startswith(m))
                text = text[len(mark) :].lstrip()
            elif text.endswith(_CURRENCY_MARKS):
                mark = next(m for m in _CURRENCY_MARKS if text.endswith(m))
                text = text[: -len(mark)].rstrip()
            else:
                break
            marks.append(mark)
    if parentheses and signs:
        raise BadValue(
            f"has a sign {signs[0]} and parentheses, which already mean negative; write (12.00) or -12.00"
        )
    if parentheses > 1 or len(signs) > 1:
        raise BadValue(f"has more than one sign; {MONEY_EXPECTED}")
    if len(marks) > 1:
        which = f"{marks[0]} and {marks[1]}" if marks[0] != marks[1] else f"{marks[0]} twice"
        raise BadValue(f"has two currency signs ({which}); give one, before or after the number")
    return bool(parentheses) or signs == ["-"], text


# --- whole numbers ----------------------------------------------------------------------------

# Commas only as thousands separators: `1,5` is someone's 1.5, not fifteen.
_WHOLE_TEXT = re.compile(r"([+-]?)([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.0*)?")


def _whole_number(value: Any, expected: str) -> int:
    if isinstance(value, bool):
        raise BadValue(expected)
    if isinstance(value, float):
        refuse_not_finite(value)
        if not value.is_integer():
            raise BadValue(expected)
        number = int(value)
    elif isinstance(value, int):
        number = value
    else:
        match = _WHOLE_TEXT.fullmatch(number_text(value))
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

COMPLETED, REFUNDED, CANCELLED, PENDING = "completed", "refunded", "cancelled", "pending"
STATUSES = (COMPLETED, REFUNDED, CANCELLED, PENDING)
# How a status is named to a person (translated where it is shown).
STATUS_LABELS = {
    COMPLETED: N_("completed"),
    REFUNDED: N_("refunded"),
    CANCELLED: N_("cancelled"),
    PENDING: N_("pending"),
}
# What shop, marketplace and web-shop exports say (Taobao/Tmall, JD, Pinduoduo, Youzan, WeChat
# mini-shops, Shopify, WooCommerce …). Paid and on its way counts as completed; a refund in
# progress counts as it stands until the refund arrives; awaiting payment, on hold or failed is
# pending: stored, counted nowhere. Words are compared after NFKC, case folding, and "_"/"-" read
# as spaces ("on-hold", "partially_refunded").
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
        "processing",
        "shipped",
        "delivered",
        "fulfilled",
        "unfulfilled",
        "partially fulfilled",
        "partially refunded",
        "in transit",
        "out for delivery",
        "refund requested",
        "已完成",
        "完成",
        "交易完成",
        "已付款",
        "已支付",
        "付款成功",
        "支付成功",
        "买家已付款",
        "待发货",
        "等待发货",
        "等待卖家发货",
        "等待出库",
        "已出库",
        "已发货",
        "卖家已发货",
        "配送中",
        "运输中",
        "待收货",
        "等待收货",
        "等待买家确认收货",
        "等待确认收货",
        "已发货待签收",
        "交易成功",
        "已签收",
        "已收货",
        "待评价",
        "已评价",
        "成功",
        "部分退款",
        "退款中",
        "售后中",
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
        "退款完成",
        "已发货退款成功",
        "未发货退款成功",
    ),
    CANCELLED: (
        "cancelled",
        "canceled",
        "cancel",
        "void",
        "voided",
        "expired",
        "已取消",
        "取消",
        "已作废",
        "作废",
        "交易关闭",
        "已关闭",
        "订单关闭",
    ),
    PENDING: (
        "pending",
        "pending payment",
        "awaiting payment",
        "unpaid",
        "not paid",
        "on hold",
        "failed",
        "payment failed",
        "authorized",
        "partially paid",
        "draft",
        "checkout draft",
        "待付款",
        "待支付",
        "等待付款",
        "等待买家付款",
        "未付款",
        "未支付",
        "待成团",
        "拼团中",
        "付款失败",
        "支付失败",
    ),
}
_STATUS_LOOKUP = {word: status for status, words in _STATUS_WORDS.items() for word in words}


def status_word(value: Any) -> str:
    """A status cell as it is looked up: NFKC, case-folded, "_" and "-" as spaces, one space each."""
    text = unicodedata.normalize("NFKC", str(value)).casefold().replace("_", " ").replace("-", " ")
    return " ".join(text.split())


def status_words() -> dict[str, tuple[str, ...]]:
    """cpm's own status vocabulary, by status (for the README and `cpm config show`)."""
    return dict(_STATUS_WORDS)


def status_expected(word: str) -> str:
    shown = word if len(word) <= 20 else word[:19] + "…"
    example = shown if shown and shown.isprintable() else "word"
    return (
        "expected a status such as completed, refunded, cancelled or pending (已完成 / 已退款 / 已取消 / "
        f'待付款); say what it means with --status-map "{example}=completed" or in cpm.toml '
        "[import.status_words]"
    )


def parse_status(value: Any, words: Mapping[str, str] | None = None) -> str:
    """The status a cell names: the owner's words (`status_word` keys) first, then cpm's own."""
    text = status_word(value)
    status = (words.get(text) if words else None) or _STATUS_LOOKUP.get(text)
    if status is None:
        raise BadValue(status_expected(text))
    return status
