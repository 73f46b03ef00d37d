"""The import engine: a file's rows read (streamed), mapped by header, checked, and written
through the one write pipeline — or, in a dry run, only checked.

A run has three passes at most:

1. **rows**: every row read once and checked on its own (required values, dates in any form
   `core.dates` reads, codes of products, lots, locations and parties against master data
   loaded once, a serial twice in the file, a serial's check character by its product's
   rule). What a row needs to be written is kept, compactly (units: grouped by product, lot,
   location, status, production date and attributes).
2. **database**: set-based checks of what the rows name (serials that exist already, chunked
   on the unique index).
3. **write**: units as commission events, one for each group (≤ `EVENT_UNITS` units), handed to
   `ledger.pipeline.record` in one transaction — all or nothing; event kinds one event a row,
   recorded in one transaction answering each row for itself (its lifecycle rule): in a dry run
   and in an all-or-nothing run with a refused row it is rolled back, so a dry run reports the
   broken rules too. Master data is written through the catalog's use cases, row by row, after
   every row passed its checks.

Problems name the row as the spreadsheet shows it, the column by its header in the file and the
reason (English; `interop_imports.po` translates them)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import Connection, select

from unitrace.access import audit
from unitrace.access.principal import Actor
from unitrace.catalog import service as catalog
from unitrace.catalog.schemas import LocationCreate, LotCreate, PartyCreate, ProductCreate
from unitrace.catalog.service import serial_template
from unitrace.config import ImportLimits
from unitrace.core.dates import NotADate, parse_when
from unitrace.core.errors import FieldError, UnitraceError, ValidationError
from unitrace.core.serials import plain_serial_problem
from unitrace.db.engine import Database
from unitrace.db.retry import retried
from unitrace.db.tables import locations, lots, parties, products
from unitrace.interop.imports.kinds import EVENT_KINDS, KINDS, normal, synonyms
from unitrace.interop.imports.readers import Cell, rows
from unitrace.ledger.pipeline import Job, Outcome, record
from unitrace.ledger.schemas import EventIn
from unitrace.ledger.write import Recorded, existing_serials

EVENT_UNITS = 50_000  # units of one commission event an import writes
EVENT_BATCH = 2_000  # events handed to the pipeline at once
PROGRESS_EVERY = 5_000
STATUSES = {
    "commissioned": "commissioned",
    "已生产": "commissioned",
    "已赋码": "commissioned",
    "instock": "in_stock",
    "在库": "in_stock",
    "入库": "in_stock",
}

Mode = Literal["all", "good"]
Unknown = Literal["attributes", "ignore"]
Progress = Callable[[int, int], None]  # (rows done, rows written)


# why a row is bad, by key (English; interop_imports.po has the Chinese): `reason_key` and
# `params` of a problem let a page show it in the reader's language
REASONS = {
    "required": "required",
    "as_is": "%(text)s",
    "unknown_product": "unknown product %(code)s",
    "unknown_lot": "unknown lot %(lot)s of %(product)s",
    "unknown_location": "unknown location %(code)s",
    "unknown_party": "unknown party %(code)s",
    "duplicate_serial": "duplicate serial in the file (first in row %(row)s)",
    "serial_exists": "serial exists already",
    "check_digit": "bad check digit: %(why)s",
    "bin_elsewhere": "bin %(bin)s is not in warehouse %(warehouse)s",
    "status": "status not importable: commissioned or in_stock (events by the event kinds)",
    "in_stock_where": "in_stock needs a warehouse or bin",
    "bad_date": "bad date: %(why)s",
    "twice": "twice in the file (first in row %(row)s)",
    "exists": "exists already",
    "second_column": "a second column for %(field)s",
    "missing_column": "required column missing (%(headers)s)",
    "no_rows": "the file has no rows",
    "no_data_rows": "the file has its header but no rows under it",
    "refused": "%(text)s",
}


@dataclass(frozen=True)
class Problem:
    row: int
    column: str
    reason: str
    key: str = "as_is"
    params: tuple[tuple[str, str], ...] = ()

    def public(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "reason": self.reason,
            "reason_key": self.key,
            "params": dict(self.params),
        }


def problem(at: int, column: str, key: str, /, **params: object) -> Problem:
    values = {k: str(v) for k, v in params.items()}
    return Problem(at, column, REASONS[key] % values, key, tuple(values.items()))


@dataclass(frozen=True)
class Options:
    kind: str
    mapping: dict[str, str] | None = None  # header in the file → field ("" to ignore it)
    unknown: Unknown = "attributes"
    mode: Mode = "all"
    dry_run: bool = False


@dataclass
class Result:
    rows_total: int = 0
    written: int = 0
    problems: list[Problem] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    header_row: int = 1

    @property
    def bad_rows(self) -> set[int]:
        return {p.row for p in self.problems}


class _Rollback(Exception):
    """Ends a write transaction without committing (dry run; a refused row)."""


def text_of(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))  # a serial or code typed as a number into a spreadsheet
    if isinstance(cell, datetime | date):
        return cell.isoformat()
    return str(cell).strip()


def moment(cell: Cell) -> datetime | str:
    """The cell as an aware time (a date is its midnight, local time), or the problem."""
    try:
        value = parse_when(cell)
    except NotADate as problem:
        return str(problem)
    try:
        value = value if value.tzinfo else value.astimezone()
        utc = value.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        return "must be between 1970 and tomorrow"
    if not datetime(1970, 1, 1, tzinfo=UTC) <= utc <= datetime.now(UTC) + timedelta(days=1):
        return "must be between 1970 and tomorrow"
    return value


# --- columns ----------------------------------------------------------------------------------


@dataclass
class Columns:
    fields: dict[str, int]  # field → index of its column
    headers: dict[str, str]  # field → header as in the file
    extras: list[tuple[int, str]]  # unknown columns kept as attributes: (index, header)


def columns(
    kind: str, header: list[Cell], mapping: dict[str, str] | None, unknown: Unknown
) -> tuple[Columns, list[tuple[str, str, dict[str, str]]]]:
    """Which column holds which field, and the problems (column, reason) of the header."""
    known = synonyms(kind)
    chosen = {normal(h): f for h, f in (mapping or {}).items()}
    found = Columns({}, {}, [])
    problems: list[tuple[str, str, dict[str, str]]] = []
    for index, cell in enumerate(header):
        shown = text_of(cell)
        if not shown:
            continue
        key = normal(shown)
        target = chosen[key] if key in chosen else known.get(key)
        if target and target in found.fields:
            problems.append((shown, "second_column", {"field": target}))
        elif target:
            found.fields[target] = index
            found.headers[target] = shown
        elif unknown == "attributes" and key not in chosen:
            found.extras.append((index, shown))
    for spec in KINDS[kind]:
        if spec.required and spec.name not in found.fields:
            headers = " / ".join((*spec.headers_zh[:2], *spec.headers_en[:2]))
            problems.append((spec.name, "missing_column", {"headers": headers}))
    return found, problems


def check_mapping(kind: str, mapping: dict[str, str]) -> None:
    """A mapping names only fields of its kind (or "" to leave a column out)."""
    names = {f.name for f in KINDS[kind]}
    bad = [
        FieldError(f"mapping.{header}", f"not a field of {kind}: one of {', '.join(names)}", f)
        for header, f in mapping.items()
        if f and f not in names
    ]
    if bad:
        raise ValidationError("mapping: unknown fields", bad)


# --- kinds ------------------------------------------------------------------------------------


class Handler:
    """One kind: checks rows as they come, then the database, then writes."""

    def __init__(self, conn: Connection, cols: Columns, unknown: Unknown) -> None:
        self.cols = cols
        self.unknown = unknown
        self.products = {r.code: r for r in conn.execute(select(products))}
        self.locations = {
            r.code: (r.id, r.parent_id, r.kind)
            for r in conn.execute(
                select(locations.c.code, locations.c.id, locations.c.parent_id, locations.c.kind)
            )
        }
        self.parties = set(conn.execute(select(parties.c.code)).scalars())
        self.templates: dict[str, Any] = {}
        self.mode: Mode = "all"

    def column(self, name: str) -> str:
        return self.cols.headers.get(name, name)

    def values(self, cells: list[Cell]) -> dict[str, str]:
        got = {}
        for name, index in self.cols.fields.items():
            got[name] = text_of(cells[index]) if index < len(cells) else ""
        return got

    def raw(self, cells: list[Cell], name: str) -> Cell:
        index = self.cols.fields.get(name)
        return cells[index] if index is not None and index < len(cells) else None

    def attributes(self, cells: list[Cell]) -> dict[str, str] | None:
        found = {
            header: text_of(cells[i])
            for i, header in self.cols.extras
            if i < len(cells) and text_of(cells[i])
        }
        return found or None

    def check_digit(self, product: str, serial: str) -> str | None:
        """The product's serial rule's verdict on the check character, if the rule has one:
        serials made elsewhere need not match the rule, but one that does has a right check."""
        if product not in self.templates:
            row = self.products.get(product)
            self.templates[product] = serial_template(row) if row is not None else None
        template = self.templates[product]
        if template is None:
            return None
        reason: str | None = template.mismatch(serial, product)
        return reason if reason and reason.startswith("wrong check") else None

    def row(self, number: int, cells: list[Cell]) -> list[Problem]:
        raise NotImplementedError

    def finish(self, db: Database) -> list[Problem]:
        return []

    def write(
        self, db: Database, actor: Actor, bad: set[int], commit: bool, progress: Progress
    ) -> tuple[int, list[Problem]]:
        raise NotImplementedError


class Units(Handler):
    """New units: grouped into commission events (and a `receive` for those in stock)."""

    def __init__(self, conn: Connection, cols: Columns, unknown: Unknown) -> None:
        super().__init__(conn, cols, unknown)
        self.lots = {
            (p, n)
            for p, n in conn.execute(
                select(products.c.code, lots.c.number).join(
                    products, products.c.id == lots.c.product_id
                )
            )
        }
        self.seen: dict[str, dict[str, int]] = defaultdict(dict)  # product → serial → row
        self.groups: dict[tuple[Any, ...], list[str]] = defaultdict(list)
        self.rejected: set[tuple[str, str]] = set()

    def row(self, number: int, cells: list[Cell]) -> list[Problem]:
        v = self.values(cells)
        problems: list[Problem] = []

        def bad(name: str, key: str, **params: object) -> None:
            problems.append(problem(number, self.column(name), key, **params))

        serial, product = v.get("serial", ""), v.get("product", "")
        if not serial:
            bad("serial", "required")
        elif (why := plain_serial_problem(serial)) is not None:
            bad("serial", "as_is", text=why)
        if not product:
            bad("product", "required")
        elif product not in self.products:
            bad("product", "unknown_product", code=product)
        elif serial:
            first = self.seen[product].get(serial)
            if first is not None:
                bad("serial", "duplicate_serial", row=first)
            elif (why := self.check_digit(product, serial)) is not None:
                bad("serial", "check_digit", why=why)
        lot = v.get("lot") or None
        if lot and product in self.products and (product, lot) not in self.lots:
            bad("lot", "unknown_lot", lot=lot, product=product)
        location = None
        warehouse, shelf = v.get("warehouse") or None, v.get("bin") or None
        for name, code in (("warehouse", warehouse), ("bin", shelf)):
            if code and code not in self.locations:
                bad(name, "unknown_location", code=code)
        both = warehouse in self.locations and shelf in self.locations
        if both and self.locations[str(shelf)][1] != self.locations[str(warehouse)][0]:
            bad("bin", "bin_elsewhere", bin=shelf, warehouse=warehouse)
        if shelf in self.locations:
            location = shelf
        elif warehouse in self.locations:
            location = warehouse
        status = STATUSES.get(normal(v.get("status", "")))
        if v.get("status") and status is None:
            bad("status", "status")
        if status == "in_stock" and not location:
            bad("status", "in_stock_where")
        when: datetime | None = None
        if v.get("production_date"):
            got = moment(self.raw(cells, "production_date"))
            if isinstance(got, str):
                bad("production_date", "bad_date", why=got)
            else:
                when = got
        attributes = self.attributes(cells) if self.unknown == "attributes" else None
        if serial and product:
            self.seen[product].setdefault(serial, number)
        if problems:
            return problems
        key = (
            product,
            lot,
            location,
            status == "in_stock",
            when,
            json.dumps(attributes, ensure_ascii=False, sort_keys=True) if attributes else None,
        )
        self.groups[key].append(serial)
        return []

    def finish(self, db: Database) -> list[Problem]:
        problems = []
        with db.read() as conn:
            for product, serials in self.seen.items():
                row = self.products.get(product)
                if row is None:
                    continue
                for serial in existing_serials(conn, row.id, list(serials)):
                    problems.append(
                        problem(serials[serial], self.column("serial"), "serial_exists")
                    )
                    self.rejected.add((product, serial))
        return problems

    def events(self, bad: set[int]) -> Iterator[EventIn]:
        for (product, lot, location, in_stock, when, attrs), serials in self.groups.items():
            seen = self.seen[product]
            kept = [s for s in serials if (product, s) not in self.rejected and seen[s] not in bad]
            for start in range(0, len(kept), EVENT_UNITS):
                part = kept[start : start + EVENT_UNITS]
                yield EventIn(
                    type="commission",
                    product=product,
                    serials=part,
                    lot=lot,
                    location=location,
                    event_time=when,
                    attributes=json.loads(attrs) if attrs else None,
                    data={"source": "import"},
                )
                if in_stock:
                    yield EventIn(
                        type="receive",
                        product=product,
                        serials=part,
                        location=location,
                        event_time=when,
                    )

    def write(
        self, db: Database, actor: Actor, bad: set[int], commit: bool, progress: Progress
    ) -> tuple[int, list[Problem]]:
        def work(conn: Connection) -> int:
            written = 0
            with audit.deferred(conn):
                for event in self.events(bad):
                    record(conn, [Job(actor, event)])
                    if event.type == "commission":
                        written += len(event.serials)
                        progress(-1, written)
            if not commit:
                raise _Rollback
            return written

        try:
            return retried(db, work, "serials were registered meanwhile; nothing was written"), []
        except _Rollback:
            return 0, []


class Events(Handler):
    """Event kinds: one event a row, each answered for itself by the pipeline."""

    def __init__(self, conn: Connection, cols: Columns, unknown: Unknown, kind: str) -> None:
        super().__init__(conn, cols, unknown)
        self.kind = kind
        self.items: list[tuple[int, EventIn]] = []

    def row(self, number: int, cells: list[Cell]) -> list[Problem]:
        v = self.values(cells)
        problems: list[Problem] = []

        def bad(name: str, key: str, **params: object) -> None:
            problems.append(problem(number, self.column(name), key, **params))

        product = v.get("product") or None
        if product and product not in self.products:
            bad("product", "unknown_product", code=product)
        when: datetime | None = None
        if v.get("date"):
            got = moment(self.raw(cells, "date"))
            if isinstance(got, str):
                bad("date", "bad_date", why=got)
            else:
                when = got
        extra = self.attributes(cells) if self.unknown == "attributes" else None
        data: dict[str, Any] = {"source": "import", **({"columns": extra} if extra else {})}
        event: dict[str, Any] = {"event_time": when, "product": product, "data": data}
        serial = v.get("serial", "")
        if self.kind != "bindings" and not serial:
            bad("serial", "required")
        if self.kind == "shipments":
            party = v.get("party", "")
            if not party:
                bad("party", "required")
            elif party not in self.parties:
                bad("party", "unknown_party", code=party)
            event.update(type="ship", serials=[serial], party=party)
            if v.get("number"):
                event["biz_transactions"] = [{"type": "desadv", "id": v["number"]}]
        elif self.kind == "sellthrough":
            event.update(type="sell", serials=[serial], region=(v.get("region") or "").upper())
            event["region"] = event["region"] or None
            if v.get("customer"):
                data["customer"] = v["customer"]
        elif self.kind == "repairs":
            event.update(type="repair", serials=[serial])
            if v.get("note"):
                data["note"] = v["note"]
        else:  # bindings: parent serial → component serial
            parent, component = v.get("parent", ""), v.get("component", "")
            parent_product = v.get("parent_product") or None
            for name, value in (("parent", parent), ("component", component)):
                if not value:
                    bad(name, "required")
            if parent_product and parent_product not in self.products:
                bad("parent_product", "unknown_product", code=parent_product)
            event.update(
                type="assemble",
                units=[{"serial": component, "product": product}],
                parent={"serial": parent, "product": parent_product},
            )
            event.pop("product")
        if problems:
            return problems
        try:
            self.items.append((number, EventIn.model_validate(event)))
        except PydanticValidationError as error:
            for item in error.errors():
                where = str(item["loc"][0]) if item["loc"] else "serial"
                name = {"serials": "serial", "units": "component", "event_time": "date"}.get(
                    where, where
                )
                reason = str(item["msg"]).removeprefix("Value error, ")
                problems.append(problem(number, self.column(name), "as_is", text=reason))
        return problems

    def write(
        self, db: Database, actor: Actor, bad: set[int], commit: bool, progress: Progress
    ) -> tuple[int, list[Problem]]:
        items = [(n, e) for n, e in self.items if n not in bad]
        problems: list[Problem] = []

        def work(conn: Connection) -> int:
            written = 0
            with audit.deferred(conn):
                for start in range(0, len(items), EVENT_BATCH):
                    part = items[start : start + EVENT_BATCH]
                    outcomes = record(conn, [Job(actor, e) for _, e in part], atomic=False)
                    for (number, _), outcome in zip(part, outcomes, strict=True):
                        if isinstance(outcome, Recorded):
                            written += 1
                        else:
                            problems.append(self.refusal(number, outcome))
                    progress(-1, written)
            if not commit or (problems and self.mode == "all"):
                raise _Rollback
            return written

        try:
            return retried(db, work, "the events collided with a concurrent write"), problems
        except _Rollback:
            return 0, problems

    def refusal(self, number: int, outcome: Outcome) -> Problem:
        assert isinstance(outcome, UnitraceError)
        first = outcome.errors[0] if outcome.errors else None
        where = first.field.split(".")[0] if first else "serial"
        name = {"serials": "serial", "units": "component", "parent": "parent"}.get(where, "serial")
        if self.kind == "bindings" and name == "serial":
            name = "component"
        reason = first.message if first else outcome.detail
        return problem(number, self.column(name), "refused", text=reason[:300])


class Master(Handler):
    """Products, lots, parties, locations: each row checked by the catalog's own schema and
    against master data; written by the catalog's use cases."""

    MODELS: dict[str, type[BaseModel]] = {
        "products": ProductCreate,
        "lots": LotCreate,
        "parties": PartyCreate,
        "locations": LocationCreate,
    }

    def __init__(self, conn: Connection, cols: Columns, unknown: Unknown, kind: str) -> None:
        super().__init__(conn, cols, unknown)
        self.kind = kind
        self.lots = {
            (p, n)
            for p, n in conn.execute(
                select(products.c.code, lots.c.number).join(
                    products, products.c.id == lots.c.product_id
                )
            )
        }
        self.items: list[tuple[int, BaseModel]] = []
        self.seen: dict[Any, int] = {}

    def row(self, number: int, cells: list[Cell]) -> list[Problem]:
        v = {k: value for k, value in self.values(cells).items() if value}
        problems: list[Problem] = []

        def bad(name: str, key: str, **params: object) -> None:
            problems.append(problem(number, self.column(name), key, **params))

        for name in ("production_date", "expiry_date"):
            if name in v:
                got = moment(self.raw(cells, name))
                if isinstance(got, str):
                    bad(name, "bad_date", why=got)
                    v.pop(name)
                else:
                    v[name] = got.date().isoformat()
        if "region" in v:
            v["region"] = v["region"].upper()
        if self.kind == "parties" and "kind" in v:
            v["kind"] = v["kind"].casefold()
        if self.kind == "locations" and "kind" in v:
            v["kind"] = v["kind"].casefold()
        key: Any = (v.get("product"), v.get("number")) if self.kind == "lots" else v.get("code")
        existing = {
            "products": self.products,
            "parties": self.parties,
            "locations": self.locations,
            "lots": self.lots,
        }[self.kind]
        column = "number" if self.kind == "lots" else "code"
        if key in self.seen:
            bad(column, "twice", row=self.seen[key])
        elif key in existing:
            bad(column, "exists")
        if self.kind == "lots" and v.get("product") and v["product"] not in self.products:
            bad("product", "unknown_product", code=v["product"])
        if self.kind == "locations" and v.get("parent"):
            parent = v["parent"]
            if parent not in self.locations and parent not in self.seen:
                bad("parent", "unknown_location", code=parent)
        if self.kind == "lots" and v.get("supplier") and v["supplier"] not in self.parties:
            bad("supplier", "unknown_party", code=v["supplier"])
        try:
            model = self.MODELS[self.kind].model_validate(v)
        except PydanticValidationError as error:
            for item in error.errors():
                name = str(item["loc"][0]) if item["loc"] else column
                bad(name, "as_is", text=str(item["msg"]).removeprefix("Value error, "))
        if key is not None:
            self.seen.setdefault(key, number)
        if problems:
            return problems
        self.items.append((number, model))
        return []

    def write(
        self, db: Database, actor: Actor, bad: set[int], commit: bool, progress: Progress
    ) -> tuple[int, list[Problem]]:
        if not commit:
            return 0, []
        creators: dict[str, Callable[..., Any]] = {
            "products": catalog.create_product,
            "lots": catalog.create_lot,
            "parties": catalog.create_party,
            "locations": catalog.create_location,
        }
        create = creators[self.kind]
        written = 0
        problems = []
        for number, model in self.items:
            if number in bad:
                continue
            try:
                create(db, actor, model)
            except UnitraceError as error:
                first = error.errors[0] if error.errors else None
                name = first.field if first else "code"
                problems.append(problem(number, self.column(name), "refused", text=error.detail))
                continue
            written += 1
            progress(-1, written)
        return written, problems


def handler(kind: str, conn: Connection, cols: Columns, unknown: Unknown) -> Handler:
    if kind == "units":
        return Units(conn, cols, unknown)
    if kind in EVENT_KINDS:
        return Events(conn, cols, unknown, kind)
    return Master(conn, cols, unknown, kind)


# --- a run ------------------------------------------------------------------------------------


def run(
    db: Database,
    actor: Actor,
    path: Path,
    filename: str,
    options: Options,
    limits: ImportLimits,
    progress: Progress,
) -> Result:
    """Read, check and (unless a dry run, or a bad row in an all-or-nothing run) write."""
    result = Result()
    source = rows(path, filename, limits)
    try:
        result.header_row, header = next(source)
    except StopIteration:
        result.problems.append(problem(1, "file", "no_rows"))
        return result
    result.header = [text_of(c) for c in header]
    cols, header_problems = columns(options.kind, header, options.mapping, options.unknown)
    if header_problems:
        result.problems = [problem(result.header_row, c, k, **p) for c, k, p in header_problems]
        return result
    with db.read() as conn:
        kind = handler(options.kind, conn, cols, options.unknown)
    kind.mode = options.mode
    for number, cells in source:
        result.problems.extend(kind.row(number, cells))
        result.rows_total += 1
        if result.rows_total % PROGRESS_EVERY == 0:
            progress(result.rows_total, 0)
    progress(result.rows_total, 0)
    if not result.rows_total:  # an empty template, say: nothing to do is not done
        result.problems.append(problem(result.header_row, "file", "no_data_rows"))
        return result
    result.problems.extend(kind.finish(db))
    bad = result.bad_rows
    if options.dry_run:
        if isinstance(kind, Events):  # the lifecycle rules: written, then rolled back
            result.problems.extend(kind.write(db, actor, bad, False, progress)[1])
    elif not (result.problems and options.mode == "all"):
        written, problems = kind.write(db, actor, bad, True, progress)
        result.problems.extend(problems)
        result.written = 0 if problems and options.mode == "all" else written
    result.problems.sort(key=lambda p: (p.row, p.column))
    return result


def bad_cells(
    path: Path, filename: str, limits: ImportLimits, wanted: set[int]
) -> Iterator[tuple[int, list[Cell]]]:
    """The rows numbered `wanted`, read again (for the report)."""
    for number, cells in rows(path, filename, limits):
        if number in wanted:
            yield number, cells
