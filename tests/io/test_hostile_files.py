"""Hostile spreadsheets and text files, read by cpm's readers.

A workbook whose cells reach far (with no `<dimension>`, a false one, cells without references)
must be refused by name before calamine allocates its grid: calamine would abort the process,
so those files are read in a child process with a memory limit, where an abort fails the test
instead of killing pytest. The files are written by hand here: zip members of handwritten XML.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

from cpm.io import extent
from cpm.io.extent import Extent, xlsx_sheet_extent
from cpm.io.sheets import open_sheet

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
)
PACKAGE_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="xl/workbook.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/>'
    "</Relationships>"
)
WORKBOOK = (
    f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN}" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Orders" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="worksheets/sheet1.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"/>'
    "</Relationships>"
)
HEADER_ROWS = (
    '<row r="1"><c r="A1" t="inlineStr"><is><t>order_no</t></is></c>'
    '<c r="B1" t="inlineStr"><is><t>customer_code</t></is></c></row>'
    '<row r="2"><c r="A2" t="inlineStr"><is><t>A1</t></is></c>'
    '<c r="B2" t="inlineStr"><is><t>C1</t></is></c></row>'
)


def write_sheet_xml(path: Path, sheet_data: str, *, dimension: str | None = None, prefix: str = "") -> Path:
    """An .xlsx with one sheet "Orders" whose <sheetData> is `sheet_data` (tags with `prefix`)."""
    namespace = f'xmlns:{prefix[:-1]}="{MAIN}"' if prefix else f'xmlns="{MAIN}"'
    worksheet = (
        f'<?xml version="1.0" encoding="UTF-8"?><{prefix}worksheet {namespace}>'
        + (f'<{prefix}dimension ref="{dimension}"/>' if dimension else "")
        + f"<{prefix}sheetData>{sheet_data}</{prefix}sheetData></{prefix}worksheet>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", PACKAGE_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        archive.writestr("xl/worksheets/sheet1.xml", worksheet)
    return path


READ_IN_CHILD = """
import sys
from pathlib import Path
from cpm.errors import CpmError
from cpm.io.sheets import open_sheet
try:
    sheet = open_sheet(Path(sys.argv[1]))
    print(sum(1 for _ in sheet.rows))
except CpmError as exc:
    print(exc, file=sys.stderr)
    sys.exit(1)
"""


def _limit_memory() -> None:
    # A reader that allocated the grid anyway fails fast here rather than swapping the machine.
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def read_in_child(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", READ_IN_CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit_memory,
        check=False,
    )


def far_cell(reference: str, row: int, value: str = "<v>7</v>", attributes: str = "") -> str:
    return f'<row r="{row}"><c r="{reference}"{attributes}>{value}</c></row>'


WIDE_ROW_WITHOUT_REFERENCES = (
    "<row><c><v>1</v></c></row>" * 4000 + "<row>" + "<c><v>1</v></c>" * 16384 + "</row>"
)

FAR_SHEETS = {
    # id: (sheet data, dimension, prefix, last row, last column, cells)
    "XFD1048576, no dimension": (HEADER_ROWS + far_cell("XFD1048576", 1048576), None, "", 1048576, "XFD"),
    "ZZ400000, no dimension": (HEADER_ROWS + far_cell("ZZ400000", 400000), None, "", 400000, "ZZ"),
    "dimension too small": (HEADER_ROWS + far_cell("XFD1048576", 1048576), "A1:B2", "", 1048576, "XFD"),
    "far value between the rows": (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>order_no</t></is></c></row>'
        + far_cell("ZZ400000", 400000)
        + '<row r="3"><c r="A3"><v>1</v></c></row>',
        None,
        "",
        400000,
        "ZZ",
    ),
    "far value on an early row": (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>order_no</t></is></c>'
        '<c r="XFD400000"><v>1</v></c></row><row r="2"><c r="A2"><v>1</v></c></row>',
        None,
        "",
        400000,
        "XFD",
    ),
    "an empty text far away": (
        HEADER_ROWS + far_cell("XFD1048576", 1048576, "<is><t></t></is>", ' t="inlineStr"'),
        None,
        "",
        1048576,
        "XFD",
    ),
    "cells placed by counting": (HEADER_ROWS + WIDE_ROW_WITHOUT_REFERENCES, None, "", 4003, "XFD"),
    "namespace prefix": (
        HEADER_ROWS.replace("<", "<x:").replace("<x:/", "</x:")
        + far_cell("XFD1048576", 1048576).replace("<", "<x:").replace("<x:/", "</x:"),
        None,
        "x:",
        1048576,
        "XFD",
    ),
}
COLUMNS = {"XFD": 16384, "ZZ": 702}


@pytest.mark.parametrize(
    ("data", "dimension", "prefix", "row", "column"), FAR_SHEETS.values(), ids=FAR_SHEETS
)
def test_a_sheet_reaching_too_far_is_refused_not_an_abort(
    data: str, dimension: str | None, prefix: str, row: int, column: str, tmp_path: Path
) -> None:
    path = write_sheet_xml(tmp_path / "far.xlsx", data, dimension=dimension, prefix=prefix)
    result = read_in_child(path)
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    cells = row * COLUMNS[column]  # from row 1, column A: the header is there
    assert (
        f"far.xlsx, sheet Orders: values reach row {row:,} and column {column}, {cells:,} cells"
        in result.stderr
    )


@pytest.mark.parametrize("block", [61, 4096, 1 << 22])
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (HEADER_ROWS, Extent(1, 2, 1, 2)),
        (HEADER_ROWS + far_cell("ZZ400000", 400000), Extent(1, 400000, 1, 702)),
        (HEADER_ROWS + WIDE_ROW_WITHOUT_REFERENCES, Extent(1, 4003, 1, 16384)),
        # Formatting alone (no <v>, no <is>) is no value: calamine skips such cells.
        (HEADER_ROWS + far_cell("XFD1048576", 1048576, "", ' s="1"'), Extent(1, 2, 1, 2)),
    ],
    ids=["usual", "far value", "placed by counting", "formatting far away"],
)
def test_the_extent_does_not_depend_on_where_blocks_end(
    data: str, expected: Extent, block: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(extent, "_BLOCK", block)
    found = xlsx_sheet_extent(write_sheet_xml(tmp_path / "s.xlsx", data), "xl/worksheets/sheet1.xml")
    assert found is not None
    if expected.cells <= extent.MAX_SHEET_CELLS:
        # A sheet that fits gets a bound, from A1, of at most twice its rows.
        assert found.cells <= extent.MAX_SHEET_CELLS
        assert expected.last_row <= found.last_row < 2 * expected.last_row + 10
        assert found.last_column >= expected.last_column
    else:
        assert found == expected


def test_values_far_away_that_fit_are_read(tmp_path: Path) -> None:
    # 300,000 rows x 26 columns is 7.8 million cells: large, and allowed.
    path = write_sheet_xml(tmp_path / "wide.xlsx", HEADER_ROWS + far_cell("Z300000", 300000))
    result = read_in_child(path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "300000"


# --- .ods -----------------------------------------------------------------------------------------

ODS_NAMESPACES = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:of="urn:oasis:names:tc:opendocument:xmlns:of:1.2" '
    'xmlns:calcext="urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0"'
)
ODS_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
    'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
    '<manifest:file-entry manifest:full-path="/" '
    'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
    "</manifest:manifest>"
)


def write_ods(path: Path, tables: dict[str, str]) -> Path:
    """An .ods as LibreOffice lays it out: `mimetype` first and stored, then the XML parts."""
    body = "".join(f'<table:table table:name="{name}">{rows}</table:table>' for name, rows in tables.items())
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ODS_NAMESPACES} '
        f'office:version="1.2"><office:body><office:spreadsheet>{body}'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("META-INF/manifest.xml", ODS_MANIFEST, zipfile.ZIP_DEFLATED)
        archive.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
    return path


def text_cell(text: str) -> str:
    return f'<table:table-cell office:value-type="string"><text:p>{text}</text:p></table:table-cell>'


def ods_row(*cells: str, repeated: int = 1) -> str:
    repeat = f' table:number-rows-repeated="{repeated}"' if repeated > 1 else ""
    return f"<table:table-row{repeat}>{''.join(cells)}</table:table-row>"


# Error cells as LibreOffice writes them (the text is what the cell shows).
ODS_ERRORS = {
    "#N/A": '<table:table-cell table:formula="of:=NA()" office:value-type="string" office:string-value="" '
    'calcext:value-type="error"><text:p>#N/A</text:p></table:table-cell>',
    "#DIV/0!": '<table:table-cell table:formula="of:=1/0" office:value-type="float" office:value="0" '
    'calcext:value-type="error"><text:p>#DIV/0!</text:p></table:table-cell>',
    "Err:502": '<table:table-cell table:formula="of:=SQRT(-1)" office:value-type="string" '
    'calcext:value-type="error"><text:p>Err:502</text:p></table:table-cell>',
}
FAR_ODS = ods_row(text_cell("order_no")) + ods_row(
    '<table:table-cell table:number-columns-repeated="16383"/>', text_cell("x"), repeated=1048000
)


def test_ods_error_cells_read_as_xlsx_error_cells_do(tmp_path: Path) -> None:
    """An error cell is empty in both formats, so a required column reports it by cell."""
    notes = ["a", "b", "c"]
    rows = "".join(
        ods_row(cell, text_cell(note)) for cell, note in zip(ODS_ERRORS.values(), notes, strict=True)
    )
    ods = write_ods(
        tmp_path / "errors.ods", {"Orders": ods_row(text_cell("order_no"), text_cell("note")) + rows}
    )
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Orders"
    sheet.append(["order_no", "note"])
    for error, note in zip(["#N/A", "#DIV/0!", "#NUM!"], notes, strict=True):
        sheet.append([error, note])  # openpyxl writes these as error cells (t="e")
    workbook.save(tmp_path / "errors.xlsx")
    expected = [(1, ["order_no", "note"]), (2, ["", "a"]), (3, ["", "b"]), (4, ["", "c"])]
    assert list(open_sheet(tmp_path / "errors.xlsx").rows) == expected
    assert list(open_sheet(ods).rows) == expected


def test_ods_error_cells_are_found_where_repeated(tmp_path: Path) -> None:
    error = ODS_ERRORS["#N/A"].replace(
        "<table:table-cell ", '<table:table-cell table:number-columns-repeated="2" '
    )
    ods = write_ods(
        tmp_path / "repeated.ods",
        {"S": ods_row() + ods_row("<table:table-cell/>", text_cell("a"), error, text_cell("b"), repeated=2)},
    )
    # calamine gives the cells from column B, the first holding a value, and rows from row 1.
    assert list(open_sheet(ods).rows) == [
        (1, ["", "", "", ""]),
        (2, ["a", "", "", "b"]),
        (3, ["a", "", "", "b"]),
    ]


@pytest.mark.parametrize(
    ("tables", "sheet"),
    [({"Orders": FAR_ODS}, "Orders"), ({"Orders": ods_row(text_cell("order_no")), "Old": FAR_ODS}, "Old")],
    ids=["the sheet imported", "another sheet (calamine reads them all)"],
)
def test_an_ods_sheet_reaching_too_far_is_refused(tables: dict[str, str], sheet: str, tmp_path: Path) -> None:
    result = read_in_child(write_ods(tmp_path / "far.ods", tables))
    assert result.returncode == 1, result.stderr[-2000:]
    rows = 1 + 1048000
    assert f"far.ods, sheet {sheet}: values reach row {rows:,} and column XFD, {rows * 16384:,} cells" in (
        result.stderr
    )


# --- which sheet ----------------------------------------------------------------------------------


def test_the_first_visible_sheet_is_read_not_a_hidden_one(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    lookup = workbook.active
    assert lookup is not None
    lookup.title = "Lookup"
    lookup.append(["hidden", "table"])
    lookup.sheet_state = "hidden"
    workbook.create_sheet("Orders").append(["order_no"])
    workbook.active = 1
    workbook.save(tmp_path / "book.xlsx")
    assert open_sheet(tmp_path / "book.xlsx").name == "Orders"
    named = open_sheet(tmp_path / "book.xlsx", sheet="Lookup")
    assert list(named.rows) == [(1, ["hidden", "table"])]
