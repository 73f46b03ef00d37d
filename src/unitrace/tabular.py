"""Uploaded tables (CSV or XLSX) read within limits: the one reader for every importer.

A workbook is not trusted. Its declared dimension (`A1:XFD1048576` in 5 KB) is ignored, and so
are the gaps between row numbers: only rows and cells that the sheet's XML holds are read, so
the work is bounded by the XML's size, which is checked before anything is unpacked. Rows,
cells, the rightmost column with a value and the time spent are counted while reading; past
any limit (`UploadLimits`, settings) the file is refused with a `TooLarge` error naming the
limit. Blank rows and empty cells right of a row's last value are dropped, cheaply.

openpyxl parses the workbook rather than python-calamine, whose reader builds a dense grid
from the extent of the cells: one value at A1 and one at XFD1048576 make it allocate 549 GB and
abort the whole process (README, "Reading uploads")."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable
from time import monotonic
from typing import Any

from unitrace.config import UploadLimits
from unitrace.core.errors import FieldError, TooLarge, invalid

Cell = Any  # str from a CSV; str, int, float, bool, datetime or None from a workbook
Row = tuple[int, list[Cell]]  # (line number in the file, cells from column A on)
_Read = tuple[int, list[Cell], int]  # a row as read, and how many cells the file held for it

# limit → what the file exceeded (English; the pages translate by the limit's name)
MESSAGES = {
    "bytes": "the file is larger than %(n)s MB (limit %(setting)s): split it",
    "unpacked_bytes": "the workbook unpacks to more than %(n)s MB (limit %(setting)s): split it",
    "rows": "the file has more than %(n)s rows under the header line (limit %(setting)s): split it",
    "columns": "the file has values right of column %(n)s (limit %(setting)s): delete those "
    "columns",
    "cells": "the file holds more than %(n)s cells, empty formatted ones included (limit "
    "%(setting)s): split it",
    "seconds": "reading the file took longer than %(n)s seconds (limit %(setting)s): split it",
}


class LimitExceeded(TooLarge):
    """A file over one of the upload limits: `limit` names it, `setting` is its environment
    variable and `amount` its value as the message shows it (MB for sizes)."""

    def __init__(self, limit: str, allowed: int) -> None:
        self.limit, self.setting = limit, f"UNITRACE_UPLOAD_MAX_{limit.upper()}"
        self.amount: float = allowed / 2**20 if limit.endswith("bytes") else allowed
        shown = f"{self.amount:,.2f}".removesuffix(".00")
        message = MESSAGES[limit] % {"n": shown, "setting": self.setting}
        super().__init__(f"file: {message}", [FieldError("file", message)])


def is_xlsx(filename: str, content: bytes) -> bool:
    return filename.lower().endswith((".xlsx", ".xlsm")) or content.startswith(b"PK\x03\x04")


def read_table(filename: str, content: bytes, limits: UploadLimits) -> list[Row]:
    """The non-blank rows of a CSV file or of a workbook's first sheet, header line included,
    each trimmed after its last value. Raises LimitExceeded past a limit, ValidationError for a
    file that cannot be read."""
    if len(content) > limits.max_bytes:
        raise LimitExceeded("bytes", limits.max_bytes)
    counter = _Counter(limits)
    rows = _xlsx_rows(content, counter) if is_xlsx(filename, content) else _csv_rows(content)
    found = []
    for line, cells, present in rows:
        counter.tick(present)
        if _has_value(cells):
            found.append(counter.row(line, cells))
    return found


class _Counter:
    """Counts what has been read and refuses the file at the first limit it passes."""

    def __init__(self, limits: UploadLimits) -> None:
        self.limits = limits
        self.deadline = monotonic() + limits.max_seconds
        self.rows = self.cells = 0

    def tick(self, cells: int) -> None:
        """Called for every row in the file, blank ones too."""
        self.cells += cells
        if self.cells > self.limits.max_cells:
            raise LimitExceeded("cells", self.limits.max_cells)
        if monotonic() > self.deadline:
            raise LimitExceeded("seconds", self.limits.max_seconds)

    def row(self, line: int, cells: list[Cell]) -> Row:
        """A row with a value: counted, and trimmed after its last value."""
        self.rows += 1
        if self.rows > self.limits.max_rows + 1:  # the header line is not a row of data
            raise LimitExceeded("rows", self.limits.max_rows)
        last = max(i for i, cell in enumerate(cells) if not _empty(cell))
        if last >= self.limits.max_columns:
            raise LimitExceeded("columns", self.limits.max_columns)
        return line, cells[: last + 1]


def _empty(cell: Cell) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _has_value(cells: list[Cell]) -> bool:
    return not all(_empty(cell) for cell in cells)


# --- CSV --------------------------------------------------------------------------------------


def _csv_rows(content: bytes) -> Iterable[_Read]:
    text = _decoded(content)
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)  # `;` from Excel in some locales, tab as "text"
    try:
        rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        for line, cells in enumerate(rows, start=1):
            yield line, cells, len(cells)
    except csv.Error as error:
        raise invalid("file", f"not a readable CSV file: {error}") from None


def _decoded(content: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 — what Excel on Chinese Windows saves."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise invalid("file", "not a text file in UTF-8: save the CSV as UTF-8, or upload the XLSX")


# --- XLSX -------------------------------------------------------------------------------------


def _unreadable() -> Exception:
    return invalid("file", "not a readable XLSX workbook")


def _xlsx_rows(content: bytes, counter: _Counter) -> Iterable[_Read]:
    """The rows the first sheet's XML holds, each with the cells it holds."""
    from openpyxl import load_workbook
    from openpyxl.worksheet._reader import WorkSheetParser

    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            # the sizes a zip declares bound what it unpacks to: zipfile stops at them
            unpacked = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError):
        raise _unreadable() from None
    if unpacked > counter.limits.max_unpacked_bytes:
        raise LimitExceeded("unpacked_bytes", counter.limits.max_unpacked_bytes)
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # a damaged workbook fails in many ways inside zipfile, XML and openpyxl
        raise _unreadable() from None
    try:
        if not book.worksheets:
            raise _unreadable()
        sheet = book.worksheets[0]
        # openpyxl's own row iterator pads every row to the declared (or widest) column and
        # yields each missing row between two row numbers; the parser under it yields only
        # what the file holds
        with sheet._get_source() as source:
            parser = WorkSheetParser(
                source,
                sheet._shared_strings,
                data_only=True,
                epoch=book.epoch,
                date_formats=book._date_formats,
                timedelta_formats=book._timedelta_formats,
            )
            for line, cells in _parsed(parser):
                yield line, _placed(cells, counter.limits.max_columns), len(cells)
    finally:
        book.close()


def _parsed(parser: Any) -> Iterable[tuple[int, list[dict[str, Any]]]]:
    try:
        yield from parser.parse()
    except Exception:
        raise _unreadable() from None


def _placed(cells: list[dict[str, Any]], max_columns: int) -> list[Cell]:
    """A row's cells at their columns, up to the last with a value (one past the column limit
    at most, which is enough to refuse the row)."""
    values = {c["column"]: c["value"] for c in cells if not _empty(c["value"])}
    if not values:
        return []
    width = min(max(values), max_columns + 1)
    row: list[Cell] = [None] * width
    for column, value in values.items():
        row[min(column, width) - 1] = value
    return row
