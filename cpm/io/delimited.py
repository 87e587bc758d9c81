"""Reading a CSV/TSV file: its encoding, its delimiter and its records.

The encoding rule (no guessing that can store wrong text without a word):

- `--encoding NAME` decodes the whole file strictly with that codec, nothing else.
- Otherwise a file with a UTF-16 byte-order mark is UTF-16; a file that is UTF-8 throughout
  (with or without a BOM) is UTF-8.
- Anything else is read as GB18030 (what Chinese Excel writes) only if the whole file decodes
  strictly and reads like Chinese text: no kana, Greek, Cyrillic, box-drawing or private-use
  characters (what Big5 or another encoding turns into when read as GB18030), no rare character
  glued between Latin letters (Latin-1 `Müller` read as GB18030 is `M黮ler`), and no cell that
  is UTF-8 Chinese of its own (a file mixing UTF-8 and GB18030 lines).
- A file that fails is refused, naming the line and showing how it would read, with a hint to
  save it as CSV UTF-8 or to name its encoding.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cpm.errors import InvalidInput

CELL_LIMIT = csv.field_size_limit()  # 131,072 characters: far beyond any shop's cell
DELIMITERS = (",", "\t", ";")
SNIFF_LINES = 20  # as many lines as a header is looked for in
_SAVE_AS_UTF8 = (
    "Save it from Excel as 'CSV UTF-8', or name its encoding with --encoding (e.g. gb18030, big5, cp1252)."
)
# What a non-Chinese encoding turns into when read as GB18030: kana, bopomofo, box drawing,
# private use (GBK's user-defined areas), Greek, Cyrillic, Hangul.
_NOT_CHINESE = re.compile(
    "[\u3040-\u30ff\u3100-\u312f\u2500-\u257f\ue000-\uf8ff\u0370-\u03ff\u0400-\u04ff\uac00-\ud7af]"
)
_AFTER_LETTER = re.compile("[A-Za-z][\u0080-\U0010ffff]")  # a letter first: the quickest search
# Two or more UTF-8 encoded CJK characters standing alone between single bytes: a cell of UTF-8.
# (Its start is checked apart: a pattern that starts with a byte class is searched far faster.)
_UTF8_CHINESE = re.compile(rb"[\xe4-\xe9][\x80-\xbf]{2}(?:[\xe4-\xe9][\x80-\xbf]{2})+(?![\x80-\xff])")


def text_encoding(name: str) -> str:
    """The codec named by --encoding, or LookupError for a name that is no text encoding."""
    codec = codecs.lookup(name)
    b" ".decode(codec.name, "ignore")  # a bytes-to-bytes codec (base64, zlib) is refused here
    return codec.name


def _line_of(text: str, position: int) -> tuple[int, str]:
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    line = text[start : end if end >= 0 else len(text)].rstrip("\r")
    return text.count("\n", 0, position) + 1, line


def _shown(line: str) -> str:
    return repr(line if len(line) <= 80 else line[:77] + "...")


def _byte_line(data: bytes, position: int, encoding: str) -> tuple[int, str]:
    start = data.rfind(b"\n", 0, position) + 1
    end = data.find(b"\n", position)
    raw = data[start : end if end >= 0 else len(data)].rstrip(b"\r")
    return data.count(b"\n", 0, position) + 1, raw.decode(encoding, "replace")


def _as_others(data: bytes, line: int, choices: tuple[str, ...]) -> str:
    """How line `line` reads in the other encodings that decode the whole file."""
    readings = []
    for choice in choices:
        try:
            text = data.decode(choice)
        except UnicodeDecodeError:
            continue
        lines = text.split("\n")
        if line <= len(lines):
            readings.append(f"as {choice} it reads {_shown(lines[line - 1].rstrip(chr(13)))}")
    return ("; " + "; ".join(readings)) if readings else ""


def _decode_as(path: Path, data: bytes, encoding: str) -> str:
    codec = text_encoding(encoding)
    try:
        text = data.decode("utf-8-sig" if codec == "utf-8" else codec)
    except UnicodeDecodeError as exc:
        line, looks = _byte_line(data, exc.start, codec)
        raise InvalidInput(
            f"{path.name}, line {line}: not {encoding} text (byte {exc.object[exc.start]:#04x}): "
            f"{_shown(looks)}",
            hint="Check the encoding the file was saved in, or save it from Excel as 'CSV UTF-8'.",
        ) from exc
    return text.removeprefix("\ufeff")


def decode_text(path: Path, data: bytes, *, encoding: str | None = None) -> str:
    """The file's text, by the rule in this module's docstring; InvalidInput if it cannot be told."""
    if encoding is not None:
        return _decode_as(path, data, encoding)
    if b"\x00" in data[:4096]:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return _decode_as(path, data, "utf-16")
        raise InvalidInput(
            f"{path.name} is not a text (CSV) file: it contains binary data",
            hint="Export the data as .xlsx or as CSV (UTF-8); for UTF-16 without a byte-order mark, "
            "say --encoding utf-16-le.",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as utf8_error:
        not_utf8 = utf8_error
    line, _ = _byte_line(data, not_utf8.start, "utf-8")
    for cell in _UTF8_CHINESE.finditer(data):
        if cell.start() and data[cell.start() - 1] >= 0x80:
            continue
        as_utf8 = cell.group().decode("utf-8")
        as_gb = cell.group().decode("gb18030", "replace")
        if _common_chinese(as_utf8) and not _common_chinese(as_gb):
            utf8_line, _ = _byte_line(data, cell.start(), "utf-8")
            raise InvalidInput(
                f"{path.name} mixes encodings: line {utf8_line} holds UTF-8 text ({as_utf8!r}, which "
                f"GB18030 would read as {as_gb!r}) but line {line} is not UTF-8",
                hint="Export the file again in one encoding, preferably 'CSV UTF-8'.",
            )
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError as exc:
        line, looks = _byte_line(data, not_utf8.start, "utf-8")
        raise InvalidInput(
            f"{path.name}, line {line}: neither UTF-8 nor GB18030 text "
            f"(byte {not_utf8.object[not_utf8.start]:#04x}): {_shown(looks)}"
            + _as_others(data, line, ("big5", "cp1252")),
            hint=_SAVE_AS_UTF8,
        ) from exc
    _refuse_unlike_chinese(path, data, text)
    return text


def _common_chinese(text: str) -> bool:
    """Every character is in GB2312, the set of common simplified Chinese (and ASCII)."""
    try:
        text.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return not _NOT_CHINESE.search(text)


def _refuse_unlike_chinese(path: Path, data: bytes, text: str) -> None:
    odd = _NOT_CHINESE.search(text)
    if odd is None:
        for after_letter in _AFTER_LETTER.finditer(text):
            encoded = after_letter.group()[1].encode("gb18030")
            # A double-byte character whose second byte is a Latin letter, right after a letter:
            # one accented letter of Latin-1 or Windows-1252 taken with the letter after it.
            if len(encoded) == 2 and chr(encoded[1]).isascii() and chr(encoded[1]).isalpha():
                odd = after_letter
                break
    if odd is None:
        return
    line, looks = _line_of(text, odd.end() - 1)
    raise InvalidInput(
        f"{path.name}, line {line}: not UTF-8, and read as GB18030 it would be {_shown(looks)}, "
        "which is not Chinese text" + _as_others(data, line, ("big5", "cp1252")),
        hint=_SAVE_AS_UTF8,
    )


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first lines most consistently into the same number of cells.

    The header and the rows under it agree; a title line above them (`会员订单导出 2026-11`) or a
    comma inside a tab-separated cell (`1,234.50`) does not.
    """
    lines: list[str] = []
    start = 0
    while len(lines) < SNIFF_LINES and start <= len(text):
        end = text.find("\n", start)
        line = text[start : end if end >= 0 else len(text)]
        if line.strip():
            lines.append(line)
        if end < 0:
            break
        start = end + 1
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        counts = Counter(count for line in lines if (count := line.count(delimiter)))
        if not counts:
            continue
        cells, agreeing = max(counts.items(), key=lambda item: (item[1], item[0]))
        if (agreeing, cells) > best_score:
            best, best_score = delimiter, (agreeing, cells)
    return best


def read_records(path: Path, *, encoding: str | None = None) -> tuple[Iterator[tuple[int, list[Any]]], int]:
    """The file's records numbered as rows (one record a row, as Excel shows the file), and
    their count, for a progress bar."""
    text = decode_text(path, path.read_bytes(), encoding=encoding)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else sniff_delimiter(text)
    total = text.count("\n") + (0 if text.endswith("\n") else 1)
    # strict: an unclosed quote is an error at its row, not the rest of the file read as one cell.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)

    def rows() -> Iterator[tuple[int, list[Any]]]:
        number = 0
        try:
            for number, row in enumerate(reader, start=1):  # noqa: B007
                yield number, row
        except csv.Error as exc:
            if "field limit" in str(exc):
                raise _long_cell(path, text, delimiter, number + 1) from exc
            raise InvalidInput(
                f"{path.name}, row {number + 1}: not valid CSV ({exc})",
                hint="Check for an unclosed quote on that line.",
            ) from exc

    return rows(), total


def _long_cell(path: Path, text: str, delimiter: str, failed: int) -> InvalidInput:
    """Why the csv module stopped at record `failed`: a cell really that long, or an open quote
    that swallowed the rest of the file. Read again without the limit to tell which."""
    unclosed = InvalidInput(
        f"{path.name}, row {failed}: an unclosed quote (the quoted cell runs to the end of the file)",
        hint="Check for an unclosed quote on that line.",
    )
    limit = csv.field_size_limit(len(text) + 1)
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
        for number, row in enumerate(reader, start=1):
            if number == failed:
                column = max(range(len(row)), key=lambda index: len(row[index]))
                return InvalidInput(
                    f"{path.name}, row {number}, column {column + 1}: a cell of {len(row[column]):,} "
                    f"characters, longer than the {CELL_LIMIT:,} cpm reads ({_shown(row[column][:40])}…)",
                    hint="A cell that long is not shop data (a document pasted into a cell?): "
                    "shorten or clear it, then import again.",
                )
    except csv.Error:
        return unclosed
    finally:
        csv.field_size_limit(limit)
    return unclosed
