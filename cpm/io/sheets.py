"""Reading one worksheet (or a CSV/TSV file) as numbered rows of raw cells.

The format is decided by the file's content, not only its name, so a PNG renamed .xlsx or a
password-protected workbook gets a message that says so instead of a reader's traceback.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import python_calamine as calamine

from cpm.errors import InvalidInput, NotFound

SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"}
TEXT_SUFFIXES = {".csv", ".tsv", ".txt"}
_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
_KNOWN_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"%PDF": "a PDF document",
    b"GIF8": "a GIF image",
    b"SQLite format 3": "a SQLite database",
    b"\x1f\x8b": "a gzip archive",
}


@dataclass
class Sheet:
    """Rows of one worksheet: (row number as Excel shows it, raw cells)."""

    file_name: str
    name: str | None  # None for CSV/TSV, which have no sheets
    rows: Iterator[tuple[int, list[Any]]]
    total_rows: int

    def place(self) -> str:
        return f"{self.file_name}, sheet {self.name}" if self.name else self.file_name


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_readable_file(path: Path) -> None:
    if not path.exists():
        raise NotFound(f"{path}: no such file", hint="Check the path and the file name.")
    if path.is_dir():
        raise InvalidInput(f"{path} is a folder, not a file", hint="Give the path of one .xlsx or .csv file.")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read the file ({exc.strerror})") from exc
    if size == 0:
        raise InvalidInput(f"{path.name} is empty (0 bytes)", hint="Export the data again and retry.")


def open_sheet(path: Path, *, sheet: str | None = None) -> Sheet:
    """Open the worksheet to import: `sheet` by name, else the first one."""
    check_readable_file(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read the file ({exc.strerror})") from exc
    suffix = path.suffix.lower()
    if head.startswith(_ZIP_MAGIC) or (head.startswith(_OLE2_MAGIC) and suffix == ".xls"):
        return _open_workbook(path, sheet)
    if head.startswith(_OLE2_MAGIC):
        raise InvalidInput(
            f"{path.name} is a password-protected (encrypted) workbook or an old binary file",
            hint="Open it in Excel, remove the password (File > Info > Protect Workbook), save as .xlsx.",
        )
    for magic, what in _KNOWN_MAGIC.items():
        if head.startswith(magic):
            raise InvalidInput(
                f"{path.name} is not a spreadsheet: its content is {what}",
                hint="Export the data from your shop system as .xlsx or .csv.",
            )
    if suffix in SPREADSHEET_SUFFIXES:
        raise InvalidInput(
            f"{path.name} is not a valid {suffix} workbook (the file is damaged or not a workbook)",
            hint="Open it in Excel and save it again as .xlsx, or export it as .csv.",
        )
    if sheet is not None:
        raise InvalidInput(f"{path.name} is a text file and has no sheets; leave out --sheet")
    return _open_text(path)


def _open_workbook(path: Path, sheet: str | None) -> Sheet:
    try:
        workbook = calamine.CalamineWorkbook.from_path(str(path))
    except calamine.PasswordError as exc:
        raise InvalidInput(
            f"{path.name} is password-protected",
            hint="Remove the password in Excel and save the file again.",
        ) from exc
    except (calamine.CalamineError, calamine.ZipError, calamine.XmlError, ValueError, OSError) as exc:
        raise InvalidInput(
            f"{path.name} cannot be read as a workbook: it is damaged or truncated ({_short(exc)})",
            hint="Open it in Excel and save it again, or export it once more.",
        ) from exc
    names = [meta.name for meta in workbook.sheets_metadata if str(meta.typ).endswith("WorkSheet")]
    if not names:
        raise InvalidInput(f"{path.name} has no worksheets")
    chosen = sheet if sheet is not None else names[0]
    if chosen not in names:
        raise NotFound(
            f"{path.name} has no sheet named {chosen!r}",
            hint="Sheets in the file: " + ", ".join(repr(n) for n in names),
        )
    try:
        worksheet = workbook.get_sheet_by_name(chosen)
        total = worksheet.total_height
        cells = worksheet.iter_rows()
    except Exception as exc:  # calamine raises its own types, some not exported
        raise InvalidInput(
            f"{path.name}, sheet {chosen}: cannot be read ({_short(exc)})",
            hint="Open it in Excel and save it again, or export it once more.",
        ) from exc

    def rows() -> Iterator[tuple[int, list[Any]]]:
        try:
            yield from enumerate(cells, start=1)
        except Exception as exc:
            raise InvalidInput(
                f"{path.name}, sheet {chosen}: the file is damaged ({_short(exc)})",
                hint="Open it in Excel and save it again, or export it once more.",
            ) from exc

    return Sheet(file_name=path.name, name=chosen, rows=rows(), total_rows=total)


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


def decode_text(path: Path, data: bytes) -> str:
    """UTF-8 (with or without BOM) first, then GB18030 as Chinese Excel writes CSV."""
    if b"\x00" in data[:4096]:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            try:
                return data.decode("utf-16")
            except UnicodeDecodeError:
                pass
        raise InvalidInput(
            f"{path.name} is not a text (CSV) file: it contains binary data",
            hint="Export the data as .xlsx or as CSV (UTF-8).",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as utf8_error:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            raise InvalidInput(
                f"{path.name} is neither UTF-8 nor GB18030 text "
                f"(undecodable bytes at byte {utf8_error.start})",
                hint="Save the file again as 'CSV UTF-8' from Excel.",
            ) from utf8_error


def _open_text(path: Path) -> Sheet:
    text = decode_text(path, path.read_bytes())
    first_line = text.split("\n", 1)[0]
    if path.suffix.lower() == ".tsv":
        delimiter = "\t"
    else:
        counts = {d: first_line.count(d) for d in (",", "\t", ";")}
        delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    total = text.count("\n") + (0 if text.endswith("\n") else 1)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)

    def rows() -> Iterator[tuple[int, list[Any]]]:
        number = 0
        try:
            # Rows are counted as Excel would show the file: one record a row.
            for number, row in enumerate(reader, start=1):  # noqa: B007
                yield number, row
        except csv.Error as exc:
            raise InvalidInput(
                f"{path.name}, row {number + 1}: not valid CSV ({exc})",
                hint="Check for an unclosed quote on that line.",
            ) from exc

    return Sheet(file_name=path.name, name=None, rows=rows(), total_rows=total)
