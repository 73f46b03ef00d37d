"""Rows and lookups of the write pipeline (`ledger.pipeline`): the units events name, event
rows, replays by event id, and the new units of a commission event."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, func, insert, select, text

from unitrace.access.principal import Actor
from unitrace.catalog.service import lot_id, product_row, serial_template
from unitrace.core.errors import (
    MAX_REPORTED,
    Conflict,
    FieldError,
    NotFound,
    Problems,
    UnitraceError,
    invalid,
    report,
    unknown_unit,
)
from unitrace.core.lifecycle import Role, Status
from unitrace.core.serials import plain_serial_problem
from unitrace.db.fast import Fast, Listed
from unitrace.db.tables import event_units, events, products, unit_id_blocks, units
from unitrace.ledger.bulk import allocate, bulk_insert, chunks
from unitrace.ledger.scanned import Scan, is_gs1, lots_of, read_scan
from unitrace.ledger.schemas import EventIn

__all__ = ["MAX_REPORTED", "Recorded", "UnitRow", "record_in", "unknown_serial"]

Ref = tuple[str, str | None, str]  # (field, product code or None, serial)
unknown_serial = unknown_unit


def record_in(*args: Any, **kwargs: Any) -> Recorded:
    """`pipeline.record_in` (kept here for the use cases that call it by this name)."""
    from unitrace.ledger import pipeline

    return pipeline.record_in(*args, **kwargs)


@dataclass
class Recorded:
    """What the write path answers for one event."""

    event_id: str
    id: int
    type: str
    unit_count: int
    replayed: bool
    serials: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # what the pipeline's steps add to the answer (channel: the diversion alerts it raised)
    extra: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "event_id": self.event_id,
            "type": self.type,
            "unit_count": self.unit_count,
            "replayed": self.replayed,
        }
        if self.serials:
            out["serials"] = self.serials
        if self.warnings:
            out["warnings"] = self.warnings
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out


class UnitRow(NamedTuple):
    """A unit as the write pipeline checks it (a tuple: millions are made in a batch)."""

    id: int
    serial: str
    product: str
    status: Status
    parent_id: int | None
    product_id: int


def payload_hash(payload: Any) -> str:
    """A stable hash of an event's content, to tell a replay from a reused id."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


_NOT_HASHED = {"event_id"}


def event_hash(event: EventIn) -> str:
    """The hash of an event's content (its id left out), to tell a replay from a reused id.

    Serialised by pydantic in field order; free-form JSON (`data`, `attributes`), whose keys a
    client may send in any order, goes the way of `legacy_event_hash` with its keys sorted."""
    if event.data or event.attributes:
        return legacy_event_hash(event)
    canonical = event.model_dump_json(exclude=_NOT_HASHED, exclude_none=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def legacy_event_hash(event: EventIn) -> str:
    """The hash events were recorded with before issue 12 (and still are when they carry
    free-form JSON); a replay of such an event is recognised by it."""
    content = event.model_dump(mode="json", exclude=_NOT_HASHED, exclude_none=True)
    if not content.get("containers"):  # added later: events without them hash as before
        content.pop("containers", None)
    return payload_hash(content)


def same_event(stored: str, event: EventIn, digest: str) -> bool:
    """Whether an event recorded with hash `stored` is this one (hash `digest`)."""
    return stored == digest or stored == legacy_event_hash(event)


# --- the units events name ------------------------------------------------------------


# the columns of a `UnitRow`, in its order but for the product code (one join away)
UNIT_COLUMNS = (
    units.c.id,
    units.c.serial,
    units.c.status,
    units.c.parent_id,
    units.c.product_id,
    products.c.code,
)
# many units: one statement text for any number of serials (`db.fast.Listed`); the holder
# with a `+` so that SQLite looks serials up on their index, not a partner's units one by one
_MANY = (
    "SELECT u.id, u.serial, u.status, u.parent_id, u.product_id, p.code FROM units u "
    "JOIN products p ON p.id = u.product_id WHERE "
)
_MANY_BY_PRODUCT = Listed(_MANY + "p.code = {p} AND u.serial {in}")
_MANY_BY_SERIAL = Listed(_MANY + "u.serial {in}")
_MANY_BY_PRODUCT_HELD = Listed(_MANY + "p.code = {p} AND u.serial {in} AND +u.holder_id = {p}")
_MANY_BY_SERIAL_HELD = Listed(_MANY + "u.serial {in} AND +u.holder_id = {p}")
_PRODUCT_EXISTS = select(products.c.id).where(products.c.code == bindparam("code"))
_ONE_BY_PRODUCT = Fast(
    select(*UNIT_COLUMNS)
    .join_from(units, products, products.c.id == units.c.product_id)
    .where(products.c.code == bindparam("product"), units.c.serial == bindparam("serial"))
)
_ONE_BY_SERIAL = Fast(
    select(*UNIT_COLUMNS)
    .join_from(units, products, products.c.id == units.c.product_id)
    .where(units.c.serial == bindparam("serial"))
)
# with a `+`: SQLite looks the serial up on its index, not the partner's units one by one
_HELD_NOT_INDEXED = text("+units.holder_id = :holder").bindparams(bindparam("holder"))
_ONE_BY_PRODUCT_HELD = Fast(_ONE_BY_PRODUCT.statement.where(_HELD_NOT_INDEXED))
_ONE_BY_SERIAL_HELD = Fast(_ONE_BY_SERIAL.statement.where(_HELD_NOT_INDEXED))


class Lookup:
    """Units found by (product, serial) or by serial alone, for a whole batch of events."""

    def __init__(
        self,
        conn: Connection,
        found: dict[tuple[str | None, str], list[UnitRow]],
        scans: dict[tuple[str | None, str], Scan | UnitraceError] | None = None,
    ):
        self._conn = conn
        self._found = found
        self._products: dict[str, bool] = {}
        # (product, text) → the GS1 codes among the texts named, as read (or why not)
        self._scans = scans or {}

    def _product_exists(self, code: str) -> bool:
        if code not in self._products:
            row = self._conn.execute(_PRODUCT_EXISTS, {"code": code}).first()
            self._products[code] = row is not None
        return self._products[code]

    def take(self, refs: Sequence[Ref]) -> list[UnitRow]:
        """The units of `refs`, in order; all or NotFound listing every one missing.

        With a holder (a partner's party) only units that party holds were found: another
        party's unit and a serial that does not exist read the same."""
        problems, wrong = Problems(), Problems()
        result = []
        checked: list[tuple[str, Scan, UnitRow]] = []
        for path, product, serial in refs:
            scan = self._scans.get((product, serial)) if self._scans else None
            if isinstance(scan, UnitraceError):
                for error in scan.errors:
                    (problems if isinstance(scan, NotFound) else wrong).add(
                        FieldError(path, error.message, error.value)
                    )
                continue
            if scan is not None:
                product, serial = scan.product, scan.serial
            rows = self._found.get((product, serial), [])
            if not rows:
                if product is not None and not self._product_exists(product):
                    problems.add(FieldError("product", "unknown product", product))
                    break
                problems.add(FieldError(path, unknown_unit(serial, product), serial))
            elif len(rows) > 1:
                codes = ", ".join(sorted(r.product for r in rows))
                message = f"serial is used by products {codes}: name the product"
                problems.add(FieldError(path, message, serial))
            else:
                result.append(rows[0])
                if scan is not None and scan.checked:
                    checked.append((path, scan, rows[0]))
        if checked:
            found = lots_of(self._conn, (unit.id for _path, _scan, unit in checked))
            for path, scan, unit in checked:
                for error in scan.mismatches(path, *found[unit.id]):
                    wrong.add(error)
        if wrong:  # said by its first problem: one scan is what a station sends
            raise wrong.error(wrong.shown[0].message)
        if problems:
            raise problems.error("unknown or ambiguous units", NotFound)
        return result


_STATUS = {int(s): s for s in Status}


def _row(r: Any) -> UnitRow:
    return UnitRow(r[0], r[1], r[5], _STATUS[r[2]], r[3], r[4])


def lookup_units(conn: Connection, refs: Sequence[Ref], holder: int | None = None) -> Lookup:
    """Look units up in chunks by product (one row: one statement on the driver's cursor).
    With `holder` (`scope.write_holder`) only units that party holds are found: the holder is
    part of the lookup, so another party's unit and a serial that does not exist run the same
    statements and get the same answer."""
    held = {} if holder is None else {"holder": holder}
    found: dict[tuple[str | None, str], list[UnitRow]] = defaultdict(list)
    scans = _read_scans(conn, refs)
    if scans:  # GS1 codes among the texts: looked up by their product and serial
        refs = [_as_read(ref, scans) for ref in refs]
    if len(refs) == 1:  # a scan
        _path, product, serial = refs[0]
        if product is None:
            one = _ONE_BY_SERIAL if holder is None else _ONE_BY_SERIAL_HELD
            rows = one.run(conn, {"serial": serial, **held}).fetchall()
        else:
            one = _ONE_BY_PRODUCT if holder is None else _ONE_BY_PRODUCT_HELD
            rows = one.run(conn, {"product": product, "serial": serial, **held}).fetchall()
        found[(product, serial)] = [_row(r) for r in rows]
        return Lookup(conn, found, scans)
    by_product: dict[str | None, set[str]] = defaultdict(set)
    for _path, product, serial in refs:
        by_product[product].add(serial)
    for product, serials in by_product.items():
        for chunk in chunks(sorted(serials), 20_000):
            if product is None:
                many = _MANY_BY_SERIAL if holder is None else _MANY_BY_SERIAL_HELD
                rows = many.rows(conn, chunk, *held.values())
            else:
                many = _MANY_BY_PRODUCT if holder is None else _MANY_BY_PRODUCT_HELD
                rows = many.rows(conn, product, chunk, *held.values())
            for row in rows:
                found[(product, row[1])].append(_row(row))
    return Lookup(conn, found, scans)


def _read_scans(
    conn: Connection, refs: Sequence[Ref]
) -> dict[tuple[str | None, str], Scan | UnitraceError]:
    """The GS1 codes among the texts of `refs`, each read once (`scanned.read_scan`), or the
    error that refuses it — kept for the events that name it, not raised for the batch."""
    scans: dict[tuple[str | None, str], Scan | UnitraceError] = {}
    gtins: dict[str, str] = {}
    for path, product, scanned in refs:
        if not is_gs1(scanned) or (product, scanned) in scans:
            continue
        try:
            scans[(product, scanned)] = read_scan(conn, scanned, product, path, gtins)
        except UnitraceError as error:
            scans[(product, scanned)] = error
    return scans


def _as_read(ref: Ref, scans: dict[tuple[str | None, str], Scan | UnitraceError]) -> Ref:
    path, product, scanned = ref
    scan = scans.get((product, scanned))
    if isinstance(scan, Scan):
        return (path, scan.product, scan.serial)
    return ref


def resolve_units(
    conn: Connection, refs: Sequence[Ref], holder: int | None = None
) -> list[UnitRow]:
    """The units of `refs`, in order; all or NotFound (see `lookup_units`)."""
    return lookup_units(conn, refs, holder).take(refs)


_ANCESTORS = text(
    "WITH RECURSIVE up(start, id) AS (SELECT id, parent_id FROM units WHERE id IN :ids "
    "AND parent_id IS NOT NULL UNION SELECT up.start, u.parent_id FROM units u "
    "JOIN up ON u.id = up.id WHERE u.parent_id IS NOT NULL) SELECT start, id FROM up"
).bindparams(bindparam("ids", expanding=True))


def ancestors_of(conn: Connection, unit_ids: Sequence[int]) -> dict[int, set[int]]:
    """Unit id → the ids of every unit above it (its parent, the parent's parent …)."""
    above: dict[int, set[int]] = defaultdict(set)
    for chunk in chunks(sorted(set(unit_ids)), 500):
        for start, up in conn.execute(_ANCESTORS, {"ids": list(chunk)}):
            above[int(start)].add(int(up))
    return above


def commission_times(conn: Connection, unit_ids: Sequence[int]) -> dict[int, datetime]:
    """When each unit was commissioned (the time of its commission event)."""
    out: dict[int, datetime] = {}
    for part in chunks(unit_ids, 900):
        rows = conn.execute(COMMISSION_TIMES, {"ids": list(part)})
        out.update((r[0], r[1]) for r in rows)
    return out


COMMISSION_TIMES = (
    select(event_units.c.unit_id, events.c.event_time)
    .join(events, events.c.id == event_units.c.event_id)
    .where(events.c.type == "commission", event_units.c.unit_id.in_(bindparam("ids")))
)


def holders(conn: Connection, parent_ids: list[int]) -> dict[int, str]:
    """Parent unit id → "product/serial", to say which unit holds an installed component."""
    if not parent_ids:
        return {}
    rows = conn.execute(
        select(units.c.id, units.c.serial, products.c.code)
        .join(products, products.c.id == units.c.product_id)
        .where(units.c.id.in_(sorted(set(parent_ids))[:MAX_REPORTED]))
    )
    return {int(r.id): f"{r.code}/{r.serial}" for r in rows}


def new_event_id() -> str:
    """A time-ordered UUID (version 7 layout: milliseconds, then random bits) for an event the
    client did not name. Ordered ids are appended at the end of the unique index on event ids
    instead of landing on a random page of it — which, with millions of events, is a page
    read and a page split per scan."""
    ms = time.time_ns() // 1_000_000
    rand = secrets.randbits(74)  # one read of the system's randomness: 12 bits, then 62
    rand_a, rand_b = rand >> 62, rand & (2**62 - 1)
    h = f"{(ms & (2**48 - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b:032x}"
    return f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def utc_offset(moment: datetime) -> str:
    """The event's own UTC offset as `+08:00` (EPCIS eventTimeZoneOffset), kept beside UTC."""
    delta = moment.utcoffset()
    seconds = int(delta.total_seconds()) if delta else 0
    hours, minutes = divmod(abs(seconds) // 60, 60)
    return f"{'-' if seconds < 0 else '+'}{hours:02d}:{minutes:02d}"


def json_text(value: Any) -> str:
    """JSON text for a JSON column written by a Fast statement (`as_text`); empty values,
    as most scans have them, without a call to the encoder."""
    if isinstance(value, (list, dict)) and not value:
        return "[]" if isinstance(value, list) else "{}"
    return json.dumps(value)


_EVENT_COLUMNS = (
    "event_id", "payload_hash", "type", "event_time", "event_tz", "record_time", "location_id",
    "party_id", "parent_unit_id", "lot_id", "read_point", "operator", "equipment", "region",
    "actor_user_id", "biz_transactions", "data", "unit_count",
)  # fmt: skip
_VALUES = {c: bindparam(c, type_=events.c[c].type) for c in _EVENT_COLUMNS}
_INSERT_EVENT = Fast(
    insert(events).values(_VALUES).returning(events.c.id), as_text=("biz_transactions", "data")
)
_INSERT_EVENTS = Fast(
    insert(events).values({"id": bindparam("id"), **_VALUES}), as_text=("biz_transactions", "data")
)


def event_row(
    actor: Actor,
    event: EventIn,
    event_id: str | None,
    digest: str,
    event_time: datetime | None,
    location_id: int | None,
    party_id: int | None,
    parent_id: int | None,
    lot: int | None,
    unit_count: int,
) -> dict[str, Any]:
    """The row of one event in `events`; the one place an event row is made."""
    moment = event_time or datetime.now().astimezone()
    return {
        "event_id": event_id or new_event_id(),
        "payload_hash": digest,
        "type": event.type,
        "event_time": moment,
        "event_tz": utc_offset(moment),
        "record_time": datetime.now(UTC),
        "location_id": location_id,
        "party_id": party_id,
        "parent_unit_id": parent_id,
        "lot_id": lot,
        "read_point": event.read_point,
        "operator": event.operator,
        "equipment": event.equipment,
        "region": event.region,
        "actor_user_id": actor.user_id,
        "biz_transactions": json_text([b.model_dump() for b in event.biz_transactions]),
        "data": json_text(event.data),
        "unit_count": unit_count,
    }


def insert_events(conn: Connection, rows: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """Insert event rows; (primary key, event id) of each. One row: INSERT … RETURNING; many:
    their keys taken first, then one statement batch."""
    if len(rows) == 1:
        pk = int(_INSERT_EVENT.run(conn, rows[0]).fetchall()[0][0])
        return [(pk, rows[0]["event_id"])]
    ids = _event_ids(conn, len(rows))
    _INSERT_EVENTS.many(conn, [{**row, "id": pk} for pk, row in zip(ids, rows, strict=True)])
    return [(pk, row["event_id"]) for pk, row in zip(ids, rows, strict=True)]


_NEXT_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('events', 'id')) FROM generate_series(1, :n)"
)
_MAX_ID = Fast(select(func.coalesce(func.max(events.c.id), 0)))


def _event_ids(conn: Connection, count: int) -> list[int]:
    """Primary keys for `count` new events: from the sequence on PostgreSQL; after the highest
    id on SQLite, whose write transaction (BEGIN IMMEDIATE) excludes every other writer."""
    if conn.dialect.name == "postgresql":
        return [int(i) for i in conn.execute(_NEXT_IDS, {"n": count}).scalars()]
    start = int(_MAX_ID.scalar(conn, {})) + 1
    return list(range(start, start + count))


# --- replays --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Previous:
    """An event recorded before under an id: its content hash and what was answered."""

    digest: str
    recorded: Recorded


_PREVIOUS_COLUMNS = (
    events.c.id,
    events.c.event_id,
    events.c.payload_hash,
    events.c.type,
    events.c.unit_count,
)
_PREVIOUS = select(*_PREVIOUS_COLUMNS).where(
    events.c.event_id.in_(bindparam("ids", expanding=True))
)
_PREVIOUS_ONE = Fast(select(*_PREVIOUS_COLUMNS).where(events.c.event_id == bindparam("id")))
_MADE = (
    select(units.c.serial)
    .join(event_units, event_units.c.unit_id == units.c.id)
    .where(event_units.c.event_id == bindparam("event"))
    .order_by(units.c.id)
)


def commissioned(conn: Connection, event_id: str) -> tuple[str, list[str]] | None:
    """The product and the serials a commission event made, in the order they were made; None
    when there is no commission event with this id."""
    rows = _PREVIOUS_ONE.run(conn, {"id": event_id}).fetchall()
    if not rows or rows[0][3] != "commission":
        return None
    row = rows[0]
    made = (
        select(units.c.serial, products.c.code)
        .join(event_units, event_units.c.unit_id == units.c.id)
        .join(products, products.c.id == units.c.product_id)
        .where(event_units.c.event_id == row[0])
        .order_by(units.c.id)
    )
    rows = conn.execute(made).all()
    return (rows[0][1] if rows else ""), [r[0] for r in rows]


def find_replays(conn: Connection, event_ids: Sequence[str]) -> dict[str, Previous]:
    """The earlier recordings of these event ids (one statement for one id)."""
    rows: list[Any]
    if len(event_ids) == 1:
        rows = _PREVIOUS_ONE.run(conn, {"id": event_ids[0]}).fetchall()
    else:
        rows = []
        for chunk in chunks(sorted(set(event_ids))):
            rows += conn.execute(_PREVIOUS, {"ids": list(chunk)}).all()
    found = {}
    for pk, event_id, digest, kind, count in rows:
        serials: list[str] = []
        if kind == "commission":
            serials = list(conn.execute(_MADE, {"event": pk}).scalars())
        found[event_id] = Previous(digest, Recorded(event_id, pk, kind, count, True, serials))
    return found


def find_replay(conn: Connection, event_id: str | None, digest: str) -> Recorded | None:
    """The earlier recording of this event, or None; a reused id with other content conflicts."""
    if event_id is None:
        return None
    previous = find_replays(conn, [event_id]).get(event_id)
    if previous is None:
        return None
    if previous.digest != digest:
        raise Conflict(
            f"event_id {event_id!r} was used for a different event",
            [FieldError("event_id", "already used with other content", event_id)],
        )
    return previous.recorded


def audit_summary(event: EventIn, recorded: Recorded) -> dict[str, Any]:
    """What the audit record of one event says of it."""
    serials = recorded.serials or list(event.serials) or [u.serial for u in event.units]
    summary: dict[str, Any] = {
        "type": event.type,
        "unit_count": recorded.unit_count,
        "serials": list(serials[:20]),
    }
    for name in ("product", "location", "party", "lot"):
        if getattr(event, name):
            summary[name] = getattr(event, name)
    if event.parent is not None:
        summary["parent"] = event.parent.serial
    if event.containers:
        summary["containers"] = list(event.containers[:20])
    if event.container:
        summary["container"] = event.container
    return summary


# --- commissioning: the event that makes units ---------------------------------------------


@dataclass(frozen=True)
class Made:
    """What a commission event makes: units of one product (and lot)."""

    product_id: int
    lot_id: int | None


def commission_check(conn: Connection, event: EventIn, generated: bool) -> Made:
    """The product takes serials, the lot exists, every serial is well-formed, matches the
    product's rule, is named once and is new (serials the rule generated are checked by it)."""
    assert event.product is not None
    product = product_row(conn, event.product)
    if product.tracking != "serial":
        message = f"{product.code} is tracked by {product.tracking}, not by serial"
        raise invalid("product", message, product.code)
    lot = lot_id(conn, product.id, event.lot) if event.lot else None
    if generated:
        return Made(product.id, lot)
    serials = list(event.serials)
    template = serial_template(product)
    errors: list[tuple[int, FieldError]] = []
    seen: dict[str, int] = {}
    for i, serial in enumerate(serials):
        problem = plain_serial_problem(serial)
        if problem is None and template is not None:
            problem = template.mismatch(serial, product.code)
        if problem is None and serial in seen:
            problem = f"duplicate of serials.{seen[serial]}"
        if problem:
            errors.append((i, FieldError(f"serials.{i}", problem, serial)))
        seen.setdefault(serial, i)
    # every problem at once: a serial off the rule does not hide one that already exists
    refused = {i for i, _error in errors}
    well_formed = [s for i, s in enumerate(serials) if i not in refused]
    for serial in existing_serials(conn, product.id, well_formed):
        first = seen[serial]
        errors.append((first, FieldError(f"serials.{first}", "already exists", serial)))
    if not errors:
        return Made(product.id, lot)
    listed = [error for _i, error in sorted(errors, key=lambda pair: pair[0])]
    if refused:
        raise report(f"serials rejected for {product.code}; nothing was written", listed)
    raise report(f"serials already exist for {product.code}; nothing was written", listed, Conflict)
    return Made(product.id, lot)


def commission_write(
    conn: Connection, event: EventIn, made: Made, event_pk: int, location: int | None
) -> None:
    """The new units and their links to the commission event."""
    serials = list(event.serials)
    first_id = allocate(conn, unit_id_blocks, {"name": "units"}, "last_id", len(serials))
    ids = range(first_id, first_id + len(serials))
    constants: dict[str, int | None] = {
        "product_id": made.product_id,
        "lot_id": made.lot_id,
        "status": int(Status.COMMISSIONED),
        "location_id": location,
        "last_event_id": event_pk,
    }
    if event.attributes is None:
        bulk_insert(conn, units, ("id", "serial"), zip(ids, serials, strict=True), constants)
    else:
        attributes = json.dumps(event.attributes, ensure_ascii=False)
        rows = ((i, s, attributes) for i, s in zip(ids, serials, strict=True))
        bulk_insert(conn, units, ("id", "serial", "attributes"), rows, constants)
    links: dict[str, int | None] = {"event_id": event_pk, "role": int(Role.SUBJECT)}
    bulk_insert(conn, event_units, ("unit_id",), ((i,) for i in ids), links)


def existing_serials(conn: Connection, product_id: int, serials: Sequence[str]) -> list[str]:
    """Which of `serials` the product already has (chunked lookups on the unique index)."""
    query = select(units.c.serial).where(
        units.c.product_id == product_id,
        units.c.serial.in_(bindparam("serials", expanding=True)),
    )
    found: list[str] = []
    for chunk in chunks(serials):
        found.extend(conn.execute(query, {"serials": list(chunk)}).scalars())
    return found
