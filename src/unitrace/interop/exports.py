"""The one streamed writer of every list downloaded as CSV or Excel (docs/exports.md).

A list is declared once as its columns (`Column`: the key of the JSON answer, and whether it
holds a moment) and read as an iterator of rows — the list's own use case page after page
(`paged`, `offset_paged`), so a download holds the same rows as the page or the API answer with
the same filters and the same scope (a partner sees only its units), and never the whole list
in memory. Every cell goes through `core.spreadsheet.cell` (formula injection); moments are
shown in the site's time zone as the pages show them.

- `stream_csv`: a generator of UTF-8 chunks, the first with the header line and — for the pages'
  downloads — a byte order mark (Excel in China reads a CSV file as UTF-8 only with it; the
  API's files have none, for programs); then one chunk per `CHUNK` rows.
- `write_xlsx`: the rows into an .xlsx file with xlsxwriter in `constant_memory` mode (each row
  goes to disk when the next one starts); beyond one sheet's 1,048,576 rows it goes on in a new
  sheet.

The headers are the caller's: the keys for the API (which keeps English keys: docs/api.md,
"Language"), the words of the page's language for the pages (`web.translate.column_label`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from unitrace.config import site_timezone
from unitrace.core.clock import shown_in
from unitrace.core.spreadsheet import cell

CHUNK = 1000  # rows per CSV chunk handed to the server
SHEET_ROWS = 1_048_576  # an .xlsx sheet's rows, its header included
BOM = "\ufeff"


@dataclass(frozen=True)
class Column:
    """One column of a downloaded list: `key` of the row (the API's header); `moment` when it
    holds a time (shown in the site's zone, with seconds); `label`: the msgid (msgctxt
    "column") of the pages' header when it is not the key (a key that means another thing in
    another list)."""

    key: str
    moment: bool = False
    label: str = ""

    @property
    def msgid(self) -> str:
        return self.label or self.key


Columns = tuple[Column, ...]


def columns(*keys: str, moments: Iterable[str] = ()) -> Columns:
    """Columns from their keys; those named in `moments` hold times."""
    times = frozenset(moments)
    assert times <= set(keys), "every moment is one of the columns"
    return tuple(Column(key, key in times) for key in keys)


def as_columns(given: Sequence[str] | Columns) -> Columns:
    """Columns given as keys (the older downloads' tuples) or as `Column`s."""
    return tuple(c if isinstance(c, Column) else Column(c) for c in given)


def value(column: Column, item: Mapping[str, Any]) -> Any:
    """What the cell of `column` holds for the row: safe against formula injection, a moment in
    the site's zone, nothing as an empty cell."""
    found = item.get(column.key)
    if found is None or found == "":
        return None
    if column.moment and isinstance(found, (str, datetime)):
        return shown_in(found, site_timezone(), seconds=True)
    if isinstance(found, (datetime, date)):
        return found.isoformat()
    if isinstance(found, (list, tuple)):
        if all(isinstance(part, (str, int, float)) for part in found):
            return cell(", ".join(str(part) for part in found))
        return cell(json.dumps(found, ensure_ascii=False, default=str))
    if isinstance(found, dict):
        return cell(json.dumps(found, ensure_ascii=False, default=str))
    return cell(found)


def stream_csv(
    rows: Iterable[Mapping[str, Any]],
    given: Sequence[str] | Columns,
    headers: Sequence[str] | None = None,
    bom: bool = True,
) -> Iterator[bytes]:
    """The rows as CSV chunks: the byte order mark (unless not `bom`: the API's files, read by
    programs) and the header line first, before a row is read; then one chunk every `CHUNK`
    rows — at most one chunk of rows in memory."""
    cols = as_columns(given)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([cell(h) for h in (headers or [c.key for c in cols])])
    yield ((BOM if bom else "") + buffer.getvalue()).encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    for count, item in enumerate(rows, 1):
        writer.writerow(["" if (v := value(c, item)) is None else v for c in cols])
        if count % CHUNK == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def write_xlsx(
    rows: Iterable[Mapping[str, Any]],
    given: Sequence[str] | Columns,
    path: Path,
    title: str = "export",
    headers: Sequence[str] | None = None,
) -> int:
    """The rows into the workbook at `path` (constant memory: a row is on disk once the next
    starts); answers how many rows. Text is always written as text, never as a formula, a
    number or a link, whatever it starts with."""
    import xlsxwriter

    cols = as_columns(given)
    book = xlsxwriter.Workbook(
        str(path),
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    names = [str(cell(h)) for h in (headers or [c.key for c in cols])]
    base = (str(cell(title)) or "export").translate(str.maketrans("[]:*?/\\", "_______"))[:28]
    count = 0
    sheets = 0
    sheet: Any = None
    row = SHEET_ROWS
    for item in rows:
        if row >= SHEET_ROWS:
            sheets += 1
            sheet = book.add_worksheet(base if sheets == 1 else f"{base[:24]} {sheets}")
            for index, name in enumerate(names):
                sheet.write_string(0, index, name)
            row = 1
        for index, column in enumerate(cols):
            _write(sheet, row, index, value(column, item))
        row += 1
        count += 1
    if sheet is None:  # no rows: the headers alone
        sheet = book.add_worksheet(base)
        for index, name in enumerate(names):
            sheet.write_string(0, index, name)
    book.close()
    return count


def _write(sheet: Any, row: int, col: int, found: Any) -> None:
    if found is None:
        return
    if isinstance(found, bool):
        sheet.write_boolean(row, col, found)
    elif isinstance(found, (int, float)) and abs(found) < 1e15:
        sheet.write_number(row, col, found)
    else:
        sheet.write_string(row, col, str(found)[:32767])


# --- rows from a list's use case, page after page ---------------------------------------------

Page = Mapping[str, Any]


def paged(fetch: Callable[[str | None], Page], items: str = "items") -> Iterator[Mapping[str, Any]]:
    """Every row of a list paged by cursor (`{"items": […], "next": cursor}`), read a page at a
    time. The first page is read now, so that a refusal (a permission, a bad filter) is raised
    before the download starts; the others as the writer asks for them."""
    first = fetch(None)

    def rest() -> Iterator[Mapping[str, Any]]:
        page = first
        while True:
            yield from page[items]
            cursor = page.get("next")
            if not cursor:
                return
            page = fetch(str(cursor))

    return rest()


def offset_paged(
    fetch: Callable[[int, int], Sequence[Mapping[str, Any]]], size: int
) -> Iterator[Mapping[str, Any]]:
    """Every row of a list paged by `limit` and `offset` (`fetch(limit, offset)`), a page at a
    time; the first page read now (see `paged`)."""
    first = fetch(size, 0)

    def rest() -> Iterator[Mapping[str, Any]]:
        page, offset = first, 0
        while True:
            yield from page
            if len(page) < size:
                return
            offset += size
            page = fetch(size, offset)

    return rest()


# --- the lists: their columns, declared once (the keys of the JSON answers) --------------------

UNITS = columns("serial", "product", "lot", "status", "location", "holder", "parent")
AUDIT = columns(
    "id",
    "at",
    "actor",
    "action",
    "entity",
    "entity_key",
    "before",
    "after",
    "hash",
    moments=("at",),
)
CASES = columns(
    "number",
    "kind",
    "state",
    "outcome",
    "warranty_claim",
    "serial",
    "product",
    "product_name",
    "reporter_party",
    "reporter_name",
    "reporter_contact",
    "symptom_code",
    "defect_code",
    "location",
    "opened_at",
    "opened_by",
    "updated_at",
    "closed_at",
    moments=("opened_at", "updated_at", "closed_at"),
)
EVENTS = columns(  # a unit's timeline (its dossier's `events`)
    "event_id",
    "type",
    "role",
    "event_time",
    "record_time",
    "biz_step",
    "disposition",
    "location",
    "party",
    "parent",
    "read_point",
    "operator",
    "equipment",
    "region",
    "biz_transactions",
    "unit_count",
    "data",
    moments=("event_time", "record_time"),
)
DIVERSIONS = columns(
    "id",
    "serial",
    "product",
    "distributor",
    "distributor_name",
    "shipment",
    "shipped_at",
    "expected_regions",
    "seen_region",
    "source",
    "seen_at",
    "status",
    "note",
    moments=("shipped_at", "seen_at"),
)
CLONE_ALERTS = columns(
    "id",
    "code",
    "serial",
    "product",
    "rule",
    "status",
    "first_at",
    "last_at",
    "count",
    "region",
    "detail",
    "acknowledged_by",
    "acknowledged_at",
    "closed_by",
    "closed_at",
    "note",
    "compromised",
    moments=("first_at", "last_at", "acknowledged_at", "closed_at"),
)


def inventory_columns(by: Sequence[str]) -> Columns:
    """The inventory's columns: its groups, then the counts (`units` is the installed base in
    the warranty report's tables: here its header says units on hand)."""
    return (*columns(*by), Column("units", label="units_on_hand"), Column("recalled"))
