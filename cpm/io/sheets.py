"""Reading one worksheet (or a CSV/TSV file) as numbered rows of raw cells.

The format is decided by the file's content, not only its name, so a PNG renamed .xlsx or a
password-protected workbook gets a message that says so instead of a reader's traceback, and an
.xlsx saved under an .xls name (or the reverse) is simply read.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree import ElementTree

import python_calamine as calamine

from cpm.errors import InvalidInput, NotFound
from cpm.io.delimited import read_records
from cpm.io.extent import MAX_SHEET_CELLS, column_letters, xlsx_sheet_extent
from cpm.io.merged import MergedRanges
from cpm.io.ods import OdsTable, read_tables

SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"}
TEXT_SUFFIXES = {".csv", ".tsv", ".txt"}
_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")  # the stream an encrypted .xlsx keeps
_OTHER_ZIPS = {"word/document.xml": "a Word document", "ppt/presentation.xml": "a PowerPoint file"}
_KNOWN_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"%PDF": "a PDF document",
    b"GIF8": "a GIF image",
    b"SQLite format 3": "a SQLite database",
    b"\x1f\x8b": "a gzip archive",
}
_PASSWORD_HINT = "Open it in Excel, remove the password (File > Info > Protect Workbook), save as .xlsx."
_DAMAGED_HINT = "Open it in Excel and save it again, or export it once more."


@dataclass
class Sheet:
    """Rows of one worksheet: (row number as Excel shows it, raw cells).

    Every cell of a merged range holds the range's value, as a person sees it (cpm.io.merged)."""

    file_name: str
    name: str | None  # None for CSV/TSV, which have no sheets
    rows: Iterator[tuple[int, list[Any]]]
    total_rows: int  # rows up to the last one holding a value, the header and any title included
    text_only: bool = False  # every cell is a str (a CSV/TSV file), so no cell's type need be checked
    merges: MergedRanges | None = None  # the sheet's merged ranges, filled as the rows are read

    def place(self) -> str:
        return f"{self.file_name}, sheet {self.name}" if self.name else self.file_name


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise InvalidInput(
            f"{path}: cannot read the file ({exc.strerror})", hint="Check that you may read the file."
        ) from exc
    return digest.hexdigest()


def check_readable_file(path: Path) -> None:
    if not path.exists():
        raise NotFound(f"{path}: no such file", hint="Check the path and the file name.")
    if path.is_dir():
        raise InvalidInput(f"{path} is a folder, not a file", hint="Give the path of one .xlsx or .csv file.")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidInput(
            f"{path}: cannot read the file ({exc.strerror})", hint="Check that you may read the file."
        ) from exc
    if size == 0:
        raise InvalidInput(f"{path.name} is empty (0 bytes)", hint="Export the data again and retry.")


def open_sheet(path: Path, *, sheet: str | None = None, encoding: str | None = None) -> Sheet:
    """Open the worksheet to import: `sheet` by name, else the first visible one.

    `encoding` names a text file's encoding (a workbook has its own); see cpm.io.delimited."""
    check_readable_file(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(2048)
    except OSError as exc:
        raise InvalidInput(
            f"{path}: cannot read the file ({exc.strerror})", hint="Check that you may read the file."
        ) from exc
    if head.startswith((_ZIP_MAGIC, _OLE2_MAGIC)):
        return _open_workbook(path, sheet, head)
    for magic, what in _KNOWN_MAGIC.items():
        if head.startswith(magic):
            raise InvalidInput(
                f"{path.name} is not a spreadsheet: its content is {what}",
                hint="Export the data from your shop system as .xlsx or .csv.",
            )
    suffix = path.suffix.lower()
    if suffix in SPREADSHEET_SUFFIXES:
        raise _not_a_workbook(path, head)
    if sheet is not None:
        raise InvalidInput(
            f"{path.name} is a text file and has no sheets", hint="Leave out --sheet to import it."
        )
    return _open_text(path, encoding)


def _not_a_workbook(path: Path, head: bytes) -> InvalidInput:
    """A file named like a workbook whose content is text: say what it really is."""
    suffix = path.suffix.lower()
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    save_as = "Open it in Excel and save it as 'Excel Workbook (.xlsx)', or export the data as .csv."
    if start.startswith((b"<!doctype html", b"<html")) or b"<table" in start:
        # Many web shops and POS systems "export to Excel" as an HTML table named .xls.
        return InvalidInput(
            f"{path.name} is a web page (HTML) with a {suffix} name, not a workbook", hint=save_as
        )
    if start.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office:spreadsheet" in start:
        return InvalidInput(
            f"{path.name} is an Excel 2003 XML spreadsheet, which cpm cannot read", hint=save_as
        )
    if b"\x00" not in head:
        return InvalidInput(
            f"{path.name} is a text file, not a {suffix} workbook",
            hint="If it holds comma- or tab-separated data, rename it to .csv and import it again.",
        )
    return InvalidInput(
        f"{path.name} is not a valid {suffix} workbook (the file is damaged or not a workbook)",
        hint="Open it in Excel and save it again as .xlsx, or export it as .csv.",
    )


def _is_reader_panic(exc: BaseException) -> bool:
    # A Rust panic inside calamine (some damaged files cause one) reaches Python as pyo3's
    # PanicException, a BaseException that `except Exception` lets through.
    return type(exc).__name__ == "PanicException"


def _from_content(path: Path) -> calamine.CalamineWorkbook:
    with path.open("rb") as handle:
        return calamine.CalamineWorkbook.from_filelike(handle)


def _load_workbook(path: Path, head: bytes) -> calamine.CalamineWorkbook:
    """Open by name (calamine picks its reader by the suffix), and if that fails, by content.

    The name may lie: an .xlsx saved as .xls, an old .xls renamed .xlsx.
    """
    openers: list[Callable[[], calamine.CalamineWorkbook]] = [
        lambda: calamine.CalamineWorkbook.from_path(str(path))
    ]
    if not (head.startswith(_OLE2_MAGIC) and path.suffix.lower() == ".xls"):
        openers.append(lambda: _from_content(path))
    first_error: BaseException | None = None
    for opener in openers:
        try:
            return opener()
        except calamine.PasswordError as exc:
            raise InvalidInput(f"{path.name} is password-protected", hint=_PASSWORD_HINT) from exc
        except BaseException as exc:
            if not isinstance(exc, Exception) and not _is_reader_panic(exc):
                raise
            first_error = first_error or exc
    assert first_error is not None
    raise _unreadable_workbook(path, first_error) from first_error


def _unreadable_workbook(path: Path, error: BaseException) -> InvalidInput:
    """Why a file that starts like a workbook cannot be opened, as precisely as the content tells."""
    data = path.read_bytes()
    if data.startswith(_OLE2_MAGIC):
        # Excel keeps an encrypted .xlsx inside an OLE2 container; a plain one is a zip.
        if _ENCRYPTED_PACKAGE in data or path.suffix.lower() != ".xls":
            return InvalidInput(
                f"{path.name} is a password-protected (encrypted) workbook, or a damaged one",
                hint=_PASSWORD_HINT,
            )
    else:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except Exception:  # zipfile raises a dozen types on a damaged file
            names = set()
        other = next((what for part, what in _OTHER_ZIPS.items() if part in names), None)
        if other:
            return InvalidInput(
                f"{path.name} is {other}, not a workbook", hint="Export the data as .xlsx or .csv."
            )
        if names and not any(n.startswith("xl/") or n == "content.xml" for n in names):
            return InvalidInput(
                f"{path.name} is a zip archive, not a workbook",
                hint="Unzip it and import the .xlsx or .csv inside.",
            )
    return InvalidInput(
        f"{path.name} cannot be read as a workbook: it is damaged or truncated ({_short(error)})",
        hint=_DAMAGED_HINT,
    )


def _open_workbook(path: Path, sheet: str | None, head: bytes) -> Sheet:
    ods_tables = _ods_tables(path) if head.startswith(_ZIP_MAGIC) else None
    workbook = _load_workbook(path, head)
    sheets = [meta for meta in workbook.sheets_metadata if str(meta.typ).endswith("WorkSheet")]
    names = [meta.name for meta in sheets]
    if not names:
        raise InvalidInput(
            f"{path.name} has no worksheets (only charts or macros)",
            hint="Put the data on a worksheet, or export it as .csv.",
        )
    # The first sheet Excel shows: a hidden one (lookup tables, old data) is read only when named.
    shown = [meta.name for meta in sheets if str(meta.visible).endswith(".Visible")]
    chosen = sheet if sheet is not None else (shown or names)[0]
    if chosen not in names:
        hidden = [name for name in names if name not in shown]
        raise NotFound(
            f"{path.name} has no sheet named {chosen!r}",
            hint="Sheets in the file: "
            + ", ".join(repr(n) for n in names)
            + (f" (hidden: {', '.join(repr(n) for n in hidden)})" if hidden else ""),
        )
    _refuse_huge_sheet(path, chosen)
    try:
        worksheet = workbook.get_sheet_by_name(chosen)
        total = worksheet.end[0] + 1 if worksheet.end else 0  # rows are read from the first one
        cells = worksheet.iter_rows()
        first_column = worksheet.start[1] if worksheet.start else 0
        width = worksheet.end[1] + 1 - first_column if worksheet.end else 0  # the cells of each row
        corners = worksheet.merged_cell_ranges  # None for an .ods, whose spans are read below
    except BaseException as exc:  # calamine raises its own types, some not exported, and panics
        if not isinstance(exc, Exception) and not _is_reader_panic(exc):
            raise
        raise InvalidInput(
            f"{path.name}, sheet {chosen}: cannot be read ({_short(exc)})", hint=_DAMAGED_HINT
        ) from exc
    table = next((t for t in ods_tables or [] if t.name == chosen), None)
    if table is not None and table.errors:
        cells = _errors_blanked(cells, table.errors, first_column)
    if table is not None and not corners:
        corners = table.merges
    merges = MergedRanges.from_corners(corners or (), first_column=first_column, width=width)

    def rows() -> Iterator[tuple[int, list[Any]]]:
        numbered = enumerate(cells, start=1)
        try:
            yield from merges.fill(numbered) if merges is not None else numbered
        except BaseException as exc:
            if not isinstance(exc, Exception) and not _is_reader_panic(exc):
                raise
            raise InvalidInput(
                f"{path.name}, sheet {chosen}: the file is damaged ({_short(exc)})", hint=_DAMAGED_HINT
            ) from exc

    return Sheet(file_name=path.name, name=chosen, rows=rows(), total_rows=total, merges=merges)


def _errors_blanked(
    cells: Iterator[list[Any]], errors: dict[int, list[tuple[int, int]]], first_column: int
) -> Iterator[list[Any]]:
    """An .ods error cell read as empty, as an .xlsx error cell is: a failed formula is no value."""
    for index, row in enumerate(cells):
        for start, end in errors.get(index, ()):
            for position in range(max(start - first_column, 0), min(end - first_column + 1, len(row))):
                row[position] = ""
        yield row


def _ods_tables(path: Path) -> list[OdsTable] | None:
    """The sheets of an .ods, or None for another kind of file; refuses a sheet too large to read.

    calamine reads every sheet of an .ods as it opens the file, so each one is checked, not only
    the one to import."""
    try:
        with zipfile.ZipFile(path) as archive:
            if "content.xml" not in archive.namelist() or "xl/workbook.xml" in archive.namelist():
                return None
        tables = read_tables(path)
    except Exception:  # zipfile and zlib raise a dozen types on a damaged file
        return None  # calamine says what is wrong
    for table in tables:
        if table.extent is not None and table.extent.cells > MAX_SHEET_CELLS:
            extent = table.extent
            raise _too_many_cells(
                path, table.name, extent.last_row, column_letters(extent.last_column), extent.cells
            )
    return tables


# --- the cells of an .xlsx sheet, checked before calamine allocates room for them ----------------


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _sheet_part(archive: zipfile.ZipFile, sheet: str) -> str | None:
    """The zip member holding `sheet`'s cells, from xl/workbook.xml and its relationships."""
    workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    rel_id = next(
        (
            value
            for element in workbook.iter()
            if _local(element.tag) == "sheet" and element.get("name") == sheet
            for key, value in element.attrib.items()
            if _local(key) == "id"
        ),
        None,
    )
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    target = next((r.get("Target") for r in rels.iter() if rel_id and r.get("Id") == rel_id), None)
    if not target:
        return None
    return target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)


def _refuse_huge_sheet(path: Path, sheet: str) -> None:
    """Refuse an .xlsx sheet whose cells would not fit in memory, before calamine tries."""
    try:
        with zipfile.ZipFile(path) as archive:
            part = _sheet_part(archive, sheet)
        extent = xlsx_sheet_extent(path, part) if part else None
    except Exception:  # zipfile, zlib and ElementTree raise a dozen types on a damaged file
        return  # not a plain .xlsx (.xlsb, .xls, .ods), or damaged: calamine says what is wrong
    if extent is not None and extent.cells > MAX_SHEET_CELLS:
        raise _too_many_cells(path, sheet, extent.last_row, column_letters(extent.last_column), extent.cells)


def _too_many_cells(path: Path, sheet: str, last_row: int, last_column: str, cells: int) -> InvalidInput:
    return InvalidInput(
        f"{path.name}, sheet {sheet}: values reach row {last_row:,} and column {last_column}, "
        f"{cells:,} cells, too many to read",
        hint="A stray value far below or right of the data? In Excel press Ctrl+End to find it, "
        "delete the rows and columns past your data, and save.",
    )


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


def _open_text(path: Path, encoding: str | None) -> Sheet:
    rows, total = read_records(path, encoding=encoding)
    return Sheet(file_name=path.name, name=None, rows=rows, total_rows=total, text_only=True)
