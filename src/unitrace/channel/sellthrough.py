"""Partner sell-through by file: a distributor reports what it sold as CSV or XLSX with the
columns `serial` (required), `product`, `sold_at`, `region` and `customer` (or 序列号, 产品,
销售日期, 地区, 客户). Every row is checked first, and each problem names its line and column;
then all rows are recorded as `sell` events through the ledger's single write path in one
transaction — all or none. The write path enforces a partner's scope (another party's unit reads
as an unknown serial) and raises diversion (窜货) alerts for sales outside authorised regions."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import func, select

from unitrace.access.principal import Actor
from unitrace.config import UploadLimits
from unitrace.core.dates import NotADate, parse_when
from unitrace.core.errors import (
    FieldError,
    UnitraceError,
    ValidationError,
    invalid,
    named_twice,
    report,
)
from unitrace.db.engine import Database
from unitrace.db.tables import diversion_alerts
from unitrace.ledger import limits, pipeline
from unitrace.ledger.bulk import chunks
from unitrace.ledger.pipeline import Job, Outcome
from unitrace.ledger.schemas import EventIn
from unitrace.ledger.service import record_events
from unitrace.tabular import Cell, read_table

MAX_CUSTOMER = 200
COLUMNS = {
    "serial": "serial",
    "序列号": "serial",
    "product": "product",
    "产品": "product",
    "sold_at": "sold_at",
    "销售日期": "sold_at",
    "region": "region",
    "地区": "region",
    "customer": "customer",
    "客户": "customer",
}
EXPECTED = "serial, product, sold_at, region, customer (序列号, 产品, 销售日期, 地区, 客户)"
# where the ledger's schema reports a problem → the file's column
_COLUMN_OF = {
    "serials": "serial",
    "product": "product",
    "event_time": "sold_at",
    "region": "region",
    "data": "customer",
}
_WRITE_PATH_FIELD = re.compile(r"^(?:(\d+)\.)?(serials|product)(?:\.(\d+))?$")


@dataclass(frozen=True)
class Sale:
    line: int
    serial: str
    product: str | None
    sold_at: datetime
    region: str | None
    customer: str | None


@dataclass
class _Batch:
    """The events to write, and for each the file line of each of its serials."""

    events: list[EventIn]
    lines: list[list[int]]


def record_file(
    db: Database,
    actor: Actor,
    filename: str,
    content: bytes,
    upload_limits: UploadLimits | None = None,
) -> dict[str, int]:
    """Record a sell-through file: `rows` read, `units` sold, `events` written, and diversion
    `alerts` raised by them. A file with problems writes nothing and names every problem at
    once: a bad date on one line does not hide an unknown serial on another."""
    actor.require("event:sell")
    sales, problems = _read(filename, content, upload_limits)
    limits.check_units(actor, len(sales), "file")  # one unit a row
    batch = _events(sales, filename)
    limits.check_request(actor, batch.events, "file")
    if not problems:
        try:
            written = record_events(db, actor, batch.events)
        except UnitraceError as error:
            if not error.errors:
                raise
            refused: type[UnitraceError] = type(error)
        else:
            return {
                "rows": len(sales),
                "units": sum(r.unit_count for r in written),
                "events": len(written),
                "alerts": _alerts(db, [r.id for r in written]),
            }
    else:
        refused = ValidationError
    found = _write_path_problems(db, actor, batch)
    everything = sorted(problems + found, key=_line_order)
    raise _problems(refused if everything else ValidationError, everything or problems)


def max_rows(actor: Actor, upload_limits: UploadLimits) -> int:
    """The most rows a file of this actor may have: the upload limit, and for a partner the
    units one of its requests may name (one unit a row)."""
    bound = limits.max_units(actor)
    return upload_limits.max_rows if bound is None else min(bound, upload_limits.max_rows)


def parse(filename: str, content: bytes, limits: UploadLimits | None = None) -> list[Sale]:
    """The file's rows, checked; a ValidationError names every bad line and column, a
    LimitExceeded the upload limit the file is over."""
    sales, errors = _read(filename, content, limits)
    if errors:
        raise _problems(ValidationError, errors)
    return sales


def _read(
    filename: str, content: bytes, limits: UploadLimits | None = None
) -> tuple[list[Sale], list[FieldError]]:
    """The rows that read well as sales, and the problems of the others (a header line that
    is wrong is raised at once: no row can be read without it)."""
    limits = limits or UploadLimits.from_env()
    if len(content) <= limits.max_bytes and not content.strip():
        raise invalid(
            "file", "the file is empty: give a header line (serial, …) and one row per unit sold"
        )
    rows = _rows(read_table(filename, content, limits))
    now = datetime.now().astimezone()
    sales, errors = [], []
    seen: dict[tuple[str | None, str], int] = {}
    for line, values in rows:
        sale, problems = _sale(line, values, now)
        if sale is not None:
            key = (sale.product, sale.serial)
            if key in seen:
                also = f"line {seen[key]}"
                problems.append(named_twice(f"line.{line}.serial", also, sale.serial))
            else:
                seen[key] = line
                sales.append(sale)
        errors += problems
    return sales, errors


class _CheckedOnly(Exception):
    """Ends the transaction of a check that must write nothing."""


def _write_path_problems(db: Database, actor: Actor, batch: _Batch) -> list[FieldError]:
    """Every refusal the write path has for the rows that read well, by line — each event
    checked as if the others were written, in a transaction rolled back at the end."""
    if not batch.events:
        return []
    jobs = [Job(actor, event) for event in batch.events]
    outcomes: list[Outcome] = []
    try:
        with db.write() as conn:
            outcomes = pipeline.record(conn, jobs, atomic=False)
            raise _CheckedOnly
    except _CheckedOnly:
        pass
    found: list[FieldError] = []
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, UnitraceError):
            if not outcome.errors:
                raise outcome  # not about a row (the database busy): said as it is
            for item in outcome.errors:
                field = item.field if item.field == "*" else f"{index}.{item.field}"
                found.append(FieldError(field, item.message, item.value))
    if not found:
        return []
    mapped = _by_line(ValidationError("", found), batch)
    return list(mapped.errors)


def _line_order(error: FieldError) -> tuple[int, str]:
    parts = error.field.split(".")
    return (int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else 0, error.field)


# --- reading the file -----------------------------------------------------------------------


def _rows(lines: Iterable[tuple[int, list[Cell]]]) -> list[tuple[int, dict[str, Cell]]]:
    """(line number, {column: cell}) of every non-blank row under the header line."""
    columns: list[tuple[int, str]] | None = None
    rows: list[tuple[int, dict[str, Cell]]] = []
    for number, cells in lines:
        if all(_text(c) == "" for c in cells):
            continue
        if columns is None:
            columns = _columns(cells, number)
            continue
        rows.append((number, {name: cells[i] if i < len(cells) else None for i, name in columns}))
    if columns is None:
        raise invalid(
            "file", "the file is empty: give a header line (serial, …) and one row per unit sold"
        )
    if not rows:
        raise invalid("file", "the file has a header line but no rows")
    return rows


def _columns(header: list[Cell], line: int) -> list[tuple[int, str]]:
    """(position, column name) of the header line; unknown or repeated names are refused, so
    that a misspelt `region` is not silently ignored."""
    found: list[tuple[int, str]] = []
    errors = []
    for i, cell in enumerate(header):
        given = _text(cell)
        if not given:
            continue
        name = COLUMNS.get(re.sub(r"[\s\-]+", "_", given.lower()))
        if name is None:
            message = f"unknown column; the columns are {EXPECTED}"
            errors.append(FieldError(f"line.{line}.{given}", message, given))
        elif name in (n for _, n in found):
            errors.append(FieldError(f"line.{line}.{given}", f"column {name} given twice", given))
        else:
            found.append((i, name))
    if not errors and "serial" not in (n for _, n in found):
        message = f"no serial column; the columns are {EXPECTED}"
        errors.append(FieldError(f"line.{line}.serial", message))
    if errors:
        raise _problems(ValidationError, errors)
    return found


def _text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))  # a serial typed as a number into a spreadsheet
    if isinstance(cell, datetime | date):
        return cell.isoformat()
    return str(cell).strip()


# --- checking rows --------------------------------------------------------------------------


def _sale(
    line: int, values: dict[str, Cell], now: datetime
) -> tuple[Sale | None, list[FieldError]]:
    """One row as a sale, checked by the ledger's own event schema (one place for its rules)."""
    errors: list[FieldError] = []
    serial = _text(values.get("serial"))
    if not serial:
        errors.append(FieldError(f"line.{line}.serial", "required"))
    sold_at = _sold_at(values.get("sold_at"), now)
    if isinstance(sold_at, str):
        errors.append(FieldError(f"line.{line}.sold_at", sold_at, _text(values.get("sold_at"))))
        sold_at = now
    customer = _text(values.get("customer")) or None
    if customer and len(customer) > MAX_CUSTOMER:
        errors.append(FieldError(f"line.{line}.customer", f"longer than {MAX_CUSTOMER} characters"))
        customer = None
    product = _text(values.get("product")) or None
    region = _text(values.get("region")).upper() or None
    if errors:
        return None, errors
    try:
        EventIn(
            type="sell",
            product=product,
            serials=[serial],
            event_time=sold_at,
            region=region,
            data={"customer": customer} if customer else {},
        )
    except PydanticValidationError as invalid_row:
        return None, [_row_error(line, item, values) for item in invalid_row.errors()]
    return Sale(line, serial, product, sold_at, region, customer), []


def _sold_at(cell: Cell, now: datetime) -> datetime | str:
    """The cell as an aware time (a date is its midnight, local time unless an offset is
    given), or the problem with it; every form of date `core.dates` reads."""
    if cell is None or _text(cell) == "":
        return now
    try:
        value = parse_when(cell)
    except NotADate as problem:
        return str(problem)
    try:
        value = value if value.tzinfo else value.astimezone()
        value.astimezone(UTC)  # years 1 and 9999 overflow here, not in the ledger's check
    except (ValueError, OverflowError, OSError):
        return "must be between 1970 and tomorrow"
    return value


def _row_error(line: int, item: Any, values: dict[str, Cell]) -> FieldError:
    column = _COLUMN_OF.get(str(item["loc"][0]) if item["loc"] else "", "serial")
    message = str(item["msg"]).removeprefix("Value error, ")
    if column == "region" and item["type"] == "string_pattern_mismatch":
        message = "not a region code such as CN or CN-44"
    return FieldError(f"line.{line}.{column}", message, _text(values.get(column)) or None)


# --- writing --------------------------------------------------------------------------------


def _events(sales: list[Sale], filename: str) -> _Batch:
    """One `sell` event per product, time, region and customer."""
    groups: dict[tuple[Any, ...], list[Sale]] = defaultdict(list)
    for sale in sales:
        groups[(sale.product, sale.sold_at, sale.region, sale.customer)].append(sale)
    events, lines = [], []
    for (product, sold_at, region, customer), group in groups.items():
        data = {"sell_through": filename[-120:] or "upload"}
        if customer:
            data["customer"] = customer
        events.append(
            EventIn(
                type="sell",
                product=product,
                event_time=sold_at,
                region=region,
                serials=[s.serial for s in group],
                data=data,
            )
        )
        lines.append([s.line for s in group])
    return _Batch(events, lines)


def _by_line(error: UnitraceError, batch: _Batch) -> UnitraceError:
    """The write path names events and their serials; the uploader needs lines and columns."""
    if not error.errors:
        return error
    positions: dict[int, dict[str, int]] = {}
    mapped = []
    for item in error.errors:
        found = _WRITE_PATH_FIELD.match(item.field)
        event = int(found[1] or 0) if found else -1
        if not found or event >= len(batch.events):
            mapped.append(item)
            continue
        if found[3] is not None:
            index = int(found[3])
        elif found[2] == "serials":
            if event not in positions:
                positions[event] = {s: i for i, s in enumerate(batch.events[event].serials)}
            index = positions[event].get(str(item.value), 0)
        else:
            index = 0
        column = "serial" if found[2] == "serials" else "product"
        field = f"line.{batch.lines[event][index]}.{column}"
        mapped.append(FieldError(field, item.message, item.value))
    return _problems(type(error), mapped)


def _problems(kind: type[UnitraceError], errors: list[FieldError]) -> UnitraceError:
    """One error listing the problems (the first MAX_REPORTED), its sentence naming the first
    one's line and column and how many there are in all."""
    total = sum(int(e.message.split()[0]) if e.field == "*" else 1 for e in errors)
    listed = [e for e in errors if e.field != "*"]
    where = listed[0].field
    if where.startswith("line."):
        _, line, column = where.split(".", 2)
        where = f"line {line}, {column}"
    more = f" ({total} problems in all)" if total > 1 else ""
    detail = f"{where}: {listed[0].message}{more}; nothing was written"
    error = report(detail, listed, kind, total)
    error.detail = detail  # the line and column said, not only the count
    return error


def _alerts(db: Database, event_ids: list[int]) -> int:
    query = select(func.count()).select_from(diversion_alerts)
    raised_by = diversion_alerts.c.source_event_id
    with db.read() as conn:
        return sum(
            conn.execute(query.where(raised_by.in_(list(chunk)))).scalar_one()
            for chunk in chunks(event_ids)
        )


def problems_by_line(error: UnitraceError) -> list[dict[str, Any]]:
    """An error's problems as rows for a page: line, column, message, value."""
    out = []
    for item in error.errors:
        line, column = "", item.field
        if item.field.startswith("line."):
            _, line, column = item.field.split(".", 2)
        out.append({"line": line, "column": column, "message": item.message, "value": item.value})
    return out
