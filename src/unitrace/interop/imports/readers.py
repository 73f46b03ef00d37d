"""Streamed readers of an import file: CSV (UTF-8, UTF-8 with BOM, GB18030/GBK) and .xlsx.

Rows come one at a time as `(row number as the spreadsheet shows it, cells)`, the header line
first. A CSV's encoding is decided from its first 64 KB: a BOM says UTF-8; else the prefix is
UTF-8 or it is GB18030 (what Excel on Chinese Windows saves). A byte further on that the chosen
encoding cannot read ends the import with its row number, not a crash.

A workbook is read with python-calamine, which builds a dense grid of the sheet's extent in
memory: one cell at A1 and one at XFD1048576 would make it allocate hundreds of GB and abort
the process. So before calamine opens it, the sheet's XML is scanned (streamed from the zip) for
the declared dimension and for every cell and row reference; an extent past the import limits
(rows, columns) or a zip that unpacks past `max_unpacked_bytes` is refused first.
"""

from __future__ import annotations

import codecs
import csv
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from unitrace.config import ImportLimits
from unitrace.core.errors import FieldError, TooLarge, ValidationError, invalid

Cell = Any
Row = tuple[int, list[Cell]]
PREFIX = 65_536
_BOM = codecs.BOM_UTF8


def _not_xlsx() -> ValidationError:
    return invalid("file", "not a readable XLSX workbook")


def _bad_byte(row: int, shown: str) -> ValidationError:
    return invalid(
        "file",
        f"row {row}: a byte that is not {shown} text (save the file as UTF-8 or upload the XLSX)",
        row,
    )


def over_limit(limit: str, allowed: int, found: int | None = None) -> TooLarge:
    """A file past an import limit (413), naming the limit's setting."""
    setting = f"UNITRACE_IMPORT_MAX_{limit.upper()}"
    if limit == "rows":
        error = FieldError("file", f"more than {allowed:,} rows under the header ({setting})")
    elif limit == "columns":
        error = FieldError("file", f"a value right of column {allowed:,} ({setting})")
    elif limit == "bytes":
        error = FieldError("file", f"larger than {allowed:,} bytes ({setting})")
    else:
        error = FieldError("file", f"unpacks to more than {allowed:,} bytes ({setting})")
    return TooLarge(f"file: over an import limit ({setting}): split it", [error])


def is_xlsx(filename: str, head: bytes) -> bool:
    return filename.lower().endswith((".xlsx", ".xlsm")) or head.startswith(b"PK\x03\x04")


def rows(path: Path, filename: str, limits: ImportLimits) -> Iterator[Row]:
    """Every row of the file (the header line first), blank rows left out."""
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise over_limit("bytes", limits.max_bytes, size)
    with path.open("rb") as file:
        head = file.read(PREFIX)
    if is_xlsx(filename, head):
        yield from _xlsx_rows(path, limits)
    else:
        yield from _csv_rows(path, head, limits)


def _blank(cells: list[Cell]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


# --- CSV --------------------------------------------------------------------------------------


def encoding_of(head: bytes) -> str:
    """utf-8-sig for a BOM; utf-8 when the prefix decodes (a character cut at its end is
    fine); else gb18030."""
    if head.startswith(_BOM):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


def _csv_rows(path: Path, head: bytes, limits: ImportLimits) -> Iterator[Row]:
    encoding = encoding_of(head)
    shown = "UTF-8" if encoding.startswith("utf-8") else "GB18030"
    first = head.split(b"\n", 1)[0].decode(encoding, errors="replace")
    delimiter = max(",;\t", key=first.count)  # `;` from Excel in some locales, tab as "text"
    number = 0  # the row as a spreadsheet shows it: records, blank ones counted

    rest = "utf-8" if encoding == "utf-8-sig" else encoding  # the BOM only at the start

    def lines(raw: IO[bytes]) -> Iterator[str]:
        # b"\n" is never part of another character in UTF-8 or GB18030: each line decodes
        # on its own, so a bad byte is found in the row that has it
        for index, line in enumerate(raw):
            try:
                yield line.decode(encoding if index == 0 else rest)
            except UnicodeDecodeError:
                raise _bad_byte(number + 1, shown) from None

    with path.open("rb") as raw:
        reader = csv.reader(lines(raw), delimiter=delimiter)
        count = 0
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                if "field limit" in str(error):  # the csv module's bound on one cell
                    limit = csv.field_size_limit()
                    said = f"row {number + 1}: a cell longer than {limit} characters"
                    raise invalid("file", said) from None
                raise invalid("file", f"row {number + 1}: not a readable CSV file") from None
            number += 1
            if _blank(cells):
                continue
            count += 1
            if count > limits.max_rows + 1:
                raise over_limit("rows", limits.max_rows)
            if len(cells) > limits.max_columns:
                raise over_limit("columns", limits.max_columns, len(cells))
            yield number, cells


# --- XLSX -------------------------------------------------------------------------------------

# cell and row references, and the declared dimension (its two corners), found in C by findall
# (in a sheet's XML only cells and rows have an `r` attribute)
# (in a sheet's XML only cells and rows have an `r` attribute); a space before it is the usual
# case and searched fast, any other white space the slow way
_ROWS = re.compile(rb' r="[A-Z]*(\d+)"')
_COLUMNS = re.compile(rb' r="([A-Z]+)')
_ROWS_ANY = re.compile(rb'\sr="[A-Z]*(\d+)"')
_COLUMNS_ANY = re.compile(rb'\sr="([A-Z]+)')
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\b[^>]*?\bref="([A-Z]*)(\d*)(?::([A-Z]*)(\d*))?"')
_CHUNK = 1 << 20


def _column_number(letters: bytes) -> int:
    number = 0
    for byte in letters:
        number = number * 26 + byte - 64
    return number


def _first_sheet(archive: zipfile.ZipFile) -> str:
    """The XML of the workbook's first sheet (the one calamine reads as index 0)."""
    names = set(archive.namelist())
    try:
        book = archive.read("xl/workbook.xml")
        rels = archive.read("xl/_rels/workbook.xml.rels")
    except KeyError:
        raise _not_xlsx() from None
    found = re.search(rb'<(?:\w+:)?sheet\b[^>]*?r:id="([^"]+)"', book)
    if found is not None:
        rel_id = re.escape(found[1])
        for rel in re.finditer(rb"<Relationship\b[^>]*>", rels):
            if re.search(rb'Id="' + rel_id + rb'"', rel[0]):
                target = re.search(rb'Target="([^"]+)"', rel[0])
                if target is not None:
                    name = target[1].decode().lstrip("/")
                    name = name if name.startswith("xl/") else "xl/" + name
                    if name in names:
                        return name
    sheets = sorted(n for n in names if n.startswith("xl/worksheets/") and n.endswith(".xml"))
    if not sheets:
        raise _not_xlsx()
    return sheets[0]


def check_extent(path: Path, limits: ImportLimits) -> tuple[int, int]:
    """(rows, columns) of the first sheet's extent, from its declared dimension and every
    cell and row reference, streamed; refused past the limits before calamine sees the file."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise _not_xlsx() from None
    with archive:
        unpacked = sum(member.file_size for member in archive.infolist())
        if unpacked > limits.max_unpacked_bytes:
            raise over_limit("unpacked_bytes", limits.max_unpacked_bytes, unpacked)
        sheet = _first_sheet(archive)
        top_row = top_column = 0
        tail = b""
        try:
            with archive.open(sheet) as xml:
                first = True  # until the sheet's data begins: the dimension comes before it
                while chunk := xml.read(_CHUNK):
                    data = tail + chunk
                    cut = data.rfind(b"<")
                    data, tail = (data[:cut], data[cut:]) if cut > 0 else (data, b"")
                    odd = b'\nr="' in data or b'\tr="' in data or b'\rr="' in data
                    rows_found = (_ROWS_ANY if odd else _ROWS).findall(data)
                    if rows_found:
                        top_row = max(top_row, max(map(int, rows_found)))
                    for letters in set((_COLUMNS_ANY if odd else _COLUMNS).findall(data)):
                        top_column = max(top_column, _column_number(letters))
                    for corner in _DIMENSION.findall(data) if first else ():
                        for letters, digits in ((corner[0], corner[1]), (corner[2], corner[3])):
                            top_row = max(top_row, int(digits or 0))
                            top_column = max(top_column, _column_number(letters))
                    first = first and b"sheetData" not in data
                    if top_row > limits.max_rows + 1:
                        raise over_limit("rows", limits.max_rows, top_row - 1)
                    if top_column > limits.max_columns:
                        raise over_limit("columns", limits.max_columns, top_column)
        except (zipfile.BadZipFile, OSError, EOFError):
            raise _not_xlsx() from None
    return top_row, top_column


def _xlsx_rows(path: Path, limits: ImportLimits) -> Iterator[Row]:
    check_extent(path, limits)
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
        sheet = book.get_sheet_by_index(0)
    except Exception:  # calamine raises its own errors for a damaged zip, XML or sheet
        raise _not_xlsx() from None
    first = sheet.start[0] if sheet.start else 0
    try:
        for index, cells in enumerate(sheet.iter_rows()):
            values = [None if c == "" else c for c in cells]
            if not _blank(values):
                yield first + index + 1, values
    finally:
        book.close()
