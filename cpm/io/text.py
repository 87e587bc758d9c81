"""Text that came from a file: codes in one normal form, and any text shown safely.

Two rules, used on every path (import, command arguments, terminal, JSON/CSV, workbook):

- A customer code or order number is read in NFKC form with spaces and zero-width characters
  trimmed from both ends, so `Ｃ０００１`, ` C0001 ` and `C0001` are one code. A code that still
  holds a control, format (zero-width, bidi) or separator character is refused: it is a typing
  or export error, never a real code.
- Any other text (names, notes, file and sheet names) keeps what it holds, but is shown with
  every such character written out (`\\x1b`, `U+202E`), so nothing in the data can move the
  cursor, colour the terminal, reverse a line or ring the bell.
"""

from __future__ import annotations

import unicodedata
from typing import Any

_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u180e"


_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def is_hidden(character: str) -> bool:
    """Whether `visible` writes this character out instead of showing it."""
    # str.isprintable() is False exactly for Unicode's "Other" (controls, format characters such
    # as zero-width spaces and bidi overrides, surrogates, private use, unassigned) and
    # "Separator" categories; ordinary spaces of any width (Zs) are shown as they are.
    return not character.isprintable() and unicodedata.category(character) != "Zs"


def escape(character: str) -> str:
    """How one hidden character is written: `\\n`, `\\x1b` for the other ASCII/C1 controls, else `U+202E`."""
    code = ord(character)
    if character in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[character]
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"U+{code:04X}"


def visible(text: str, *, keep: str = "\n\t") -> str:
    """`text` with every control, format or separator character written out as `\\x..`/`U+....`.

    The characters in `keep` (by default a newline and a tab) stay as they are.
    """
    if text.isprintable():
        return text
    return "".join(escape(c) if c not in keep and is_hidden(c) else c for c in text)


def hidden_character(text: str) -> str | None:
    """The first character of `text` that `visible` would write out (line breaks included)."""
    if text.isprintable():
        return None
    return next((c for c in text if is_hidden(c)), None)


def describe_character(character: str) -> str:
    """`U+202E (RIGHT-TO-LEFT OVERRIDE)`, as a message names a character."""
    name = unicodedata.name(character, "")
    code = f"U+{ord(character):04X}"
    return f"{code} ({name})" if name else code


class CodeError(ValueError):
    """A code that cannot be normalised; the text says why."""


def normalise_code(value: Any) -> str:
    """A customer code or order number in its one normal form (see the module's text).

    Raises CodeError for a code that holds a control, zero-width, bidi or separator character
    once its ends are trimmed.
    """
    text = value if isinstance(value, str) else str(value)
    text = unicodedata.normalize("NFKC", text)
    while True:
        trimmed = text.strip().strip(_ZERO_WIDTH)
        if trimmed == text:
            break
        text = trimmed
    bad = hidden_character(text)
    if bad is not None:
        raise CodeError(
            f"holds an invisible character {describe_character(bad)}; "
            "retype the code without it (codes are letters, digits and punctuation)"
        )
    return text
