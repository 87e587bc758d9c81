"""What every cell parser shares: the error it raises, and the rules for numbers in any column.

A NaN or infinite number cell (another program can store one; calamine hands it over as a float)
is no value at all. Digits are 0-9, or the full-width ０-９ a Chinese input method types; any other
digit or numeral is refused rather than read as a number.
"""

from __future__ import annotations

import functools
import math
import unicodedata
from typing import Any

from cpm.io.text import describe_character

NOT_A_NUMBER = (
    "a number cell holding {what}, which is no value at all; "
    "check the formula or the program that wrote the file"
)


class BadValue(ValueError):
    """A cell that cannot be read as the type its column needs; the text says what was expected."""


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def refuse_not_finite(value: float) -> None:
    if not math.isfinite(value):
        raise BadValue(NOT_A_NUMBER.format(what="NaN (not a number)" if value != value else "infinity"))


@functools.cache
def _is_other_digit(character: str) -> bool:
    """A digit or numeral other than 0-9 and ０-９, or a character NFKC turns into digits."""
    if "0" <= character <= "9" or "０" <= character <= "９":
        return False
    return character.isnumeric() or any("0" <= c <= "9" for c in unicodedata.normalize("NFKC", character))


def number_text(value: Any) -> str:
    """The text of a number or date cell in NFKC form, trimmed.

    Full-width digits (`１２３`) are what a Chinese input method types and read as 0-9; any other
    digit or numeral (superscript `¹`, circled `①`, Arabic-Indic `٣`, Devanagari `३`, `一`), or a
    character NFKC would turn into digits (`㋀`), is refused rather than read as a number.
    """
    text = str(value)
    if text.isascii():
        return text.strip()
    for character in text:
        if character > "\x7f" and _is_other_digit(character):
            raise BadValue(
                f"holds {describe_character(character)}, not a digit 0-9; "
                "type numbers with the digits 0-9 (full-width ０-９ are fine too)"
            )
    return unicodedata.normalize("NFKC", text).strip()
