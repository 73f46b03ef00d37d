"""The single write path of the ledger.

Every event — from the API, the pages, the CLI, importers or EPCIS capture — is written by
`record_in`, inside a transaction its use case opened. It validates the event, checks the
lifecycle rule for every unit, appends the event and its unit links, and updates the
projection (status, location, holder, parent) in the same transaction. A batch is all or
nothing. Events are idempotent by `event_id`: the same event sent again is acknowledged with
`replayed=True`; different content under a used id is a conflict.

A partner's event is checked inside its party's scope before anything else is said of it: the
units, cartons and parties it names are looked up among those its party holds (or is), its
event ids are kept per party, and what is outside reads exactly as what does not exist
(`ledger.scope`, docs/access.md "What a partner can write").
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, text, update

from unitrace.access import audit
from unitrace.access.principal import Actor
from unitrace.catalog.service import lot_id, product_row, serial_template
from unitrace.channel import packing
from unitrace.channel import rules as channel
from unitrace.core.errors import (
    Conflict,
    FieldError,
    InvalidTransition,
    NotFound,
    ValidationError,
    invalid,
)
from unitrace.core.lifecycle import (
    PARENT_ALLOWED,
    REMOVED_FROM,
    REMOVED_TO,
    Effect,
    Role,
    Rule,
    Status,
    rule_for,
)
from unitrace.core.serials import plain_serial_problem
from unitrace.db.fast import Fast
from unitrace.db.tables import event_units, events, products, unit_id_blocks, units
from unitrace.ledger import limits
from unitrace.ledger.bulk import allocate, bulk_insert, chunks
from unitrace.ledger.schemas import EventIn
from unitrace.ledger.scope import named_location, named_party, own_event_id, write_holder
from unitrace.production import rules

MAX_REPORTED = 1_000  # errors listed one by one in a reply; the count says how many in all


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
        return out


@dataclass(frozen=True)
class UnitRow:
    id: int
    serial: str
    product: str
    status: Status
    parent_id: int | None
    product_id: int
    container_id: int | None = None


def payload_hash(payload: Any) -> str:
    """A stable hash of an event's content, to tell a replay from a reused id."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def event_hash(event: EventIn) -> str:
    content = event.model_dump(mode="json", exclude={"event_id"}, exclude_none=True)
    if not content.get("containers"):  # added later: events without them hash as before
        content.pop("containers", None)
    return payload_hash(content)


def report(
    detail: str,
    errors: list[FieldError],
    kind: type[ValidationError]
    | type[Conflict]
    | type[NotFound]
    | type[InvalidTransition] = ValidationError,
    total: int | None = None,
) -> Exception:
    """An error listing problems one by one (the first MAX_REPORTED of them); `total` is how
    many there are in all when only the first ones were kept (see `Problems`)."""
    total = len(errors) if total is None else total
    shown = errors[:MAX_REPORTED]
    if total > len(shown):
        shown.append(FieldError("*", f"{total - len(shown)} more not listed"))
    return kind(f"{detail} ({total} in all)" if total > 1 else detail, shown)


class Problems:
    """Problems found one by one: the first MAX_REPORTED kept, the others only counted — an
    event that names a million unknown serials is refused without building a million of them
    while it holds the writer."""

    def __init__(self) -> None:
        self.shown: list[FieldError] = []
        self.total = 0

    def add(self, error: FieldError) -> None:
        self.total += 1
        if len(self.shown) < MAX_REPORTED:
            self.shown.append(error)

    def error(self, detail: str, kind: type[ValidationError] | type[Conflict] | type[NotFound]
              | type[InvalidTransition] = ValidationError) -> Exception:  # fmt: skip
        return report(detail, self.shown, kind, self.total)


# --- resolving units ------------------------------------------------------------------


def unit_refs(event: EventIn) -> list[tuple[str, str | None, str]]:
    """(field path, product code or None, serial) for every unit an event names."""
    refs = [(f"serials.{i}", event.product, s) for i, s in enumerate(event.serials)]
    refs += [(f"units.{i}.serial", u.product or event.product, u.serial)
             for i, u in enumerate(event.units)]  # fmt: skip
    seen: dict[tuple[str | None, str], str] = {}
    dupes = []
    for path, product, serial in refs:
        if (product, serial) in seen:
            dupes.append(FieldError(path, f"named twice (also {seen[(product, serial)]})", serial))
        seen[(product, serial)] = path
    if dupes:
        raise report("the event names a unit more than once", dupes)
    return refs


_BY_PRODUCT = (
    select(
        units.c.id,
        units.c.serial,
        units.c.status,
        units.c.parent_id,
        units.c.product_id,
        products.c.code,
        units.c.container_id,
    )
    .join(products, products.c.id == units.c.product_id)
    .where(products.c.code == bindparam("product"))
    .where(units.c.serial.in_(bindparam("serials", expanding=True)))
)
_BY_SERIAL = (
    select(
        units.c.id,
        units.c.serial,
        units.c.status,
        units.c.parent_id,
        units.c.product_id,
        products.c.code,
        units.c.container_id,
    )
    .join(products, products.c.id == units.c.product_id)
    .where(units.c.serial.in_(bindparam("serials", expanding=True)))
)
_HELD = units.c.holder_id == bindparam("holder")  # a partner's write scope: what it holds
_BY_PRODUCT_HELD = _BY_PRODUCT.where(_HELD)
_BY_SERIAL_HELD = _BY_SERIAL.where(_HELD)
_PRODUCT_EXISTS = select(products.c.id).where(products.c.code == bindparam("code"))
_ONE_BY_PRODUCT = Fast(
    select(*_BY_SERIAL.selected_columns)
    .join_from(units, products, products.c.id == units.c.product_id)
    .where(products.c.code == bindparam("product"), units.c.serial == bindparam("serial"))
)
_ONE_BY_SERIAL = Fast(
    select(*_BY_SERIAL.selected_columns)
    .join_from(units, products, products.c.id == units.c.product_id)
    .where(units.c.serial == bindparam("serial"))
)
_ONE_BY_PRODUCT_HELD = Fast(_ONE_BY_PRODUCT.statement.where(_HELD))
_ONE_BY_SERIAL_HELD = Fast(_ONE_BY_SERIAL.statement.where(_HELD))


def unknown_serial(serial: str, product: str | None) -> str:
    """How an unknown serial is reported — also a unit outside a partner's scope, word for word."""
    return f"no unit with serial {serial!r}" + (f" of product {product}" if product else "")


def resolve_units(
    conn: Connection, refs: Sequence[tuple[str, str | None, str]], holder: int | None = None
) -> list[UnitRow]:
    """Look units up by (product, serial) or by serial alone, in chunks; all or NotFound.

    With `holder` (a partner's party, `scope.write_holder`) only units that party holds are
    found: the holder is part of the lookup, so another party's unit and a serial that does
    not exist run the same statements and get the same answer."""
    held = {} if holder is None else {"holder": holder}
    if len(refs) == 1:  # a scan: one lookup on the driver's cursor
        path, product, serial = refs[0]
        if product is None:
            one = _ONE_BY_SERIAL if holder is None else _ONE_BY_SERIAL_HELD
            rows = one.run(conn, {"serial": serial, **held}).fetchall()
        else:
            one = _ONE_BY_PRODUCT if holder is None else _ONE_BY_PRODUCT_HELD
            rows = one.run(conn, {"product": product, "serial": serial, **held}).fetchall()
        if len(rows) == 1:
            r = rows[0]
            return [UnitRow(r[0], r[1], r[5], Status(r[2]), r[3], r[4], r[6])]
    by_product: dict[str | None, list[str]] = defaultdict(list)
    for _, product, serial in refs:
        by_product[product].append(serial)
    found: dict[tuple[str | None, str], list[UnitRow]] = defaultdict(list)
    by_serial = _BY_SERIAL if holder is None else _BY_SERIAL_HELD
    by_product_code = _BY_PRODUCT if holder is None else _BY_PRODUCT_HELD
    for product, serials in by_product.items():
        for chunk in chunks(serials):
            if product is None:
                cursor = conn.execute(by_serial, {"serials": list(chunk), **held})
            else:
                values = {"product": product, "serials": list(chunk), **held}
                cursor = conn.execute(by_product_code, values)
            for row in cursor:
                found[(product, row.serial)].append(
                    UnitRow(
                        row.id,
                        row.serial,
                        row.code,
                        Status(row.status),
                        row.parent_id,
                        row.product_id,
                        row.container_id,
                    )
                )
    problems = Problems()
    result = []
    known_products: set[str] = set()
    for path, product, serial in refs:
        rows = found.get((product, serial), [])
        if not rows:
            if product is not None and product not in known_products:
                if conn.execute(_PRODUCT_EXISTS, {"code": product}).first() is None:
                    problems.add(FieldError("product", "unknown product", product))
                    break
                known_products.add(product)
            problems.add(FieldError(path, unknown_serial(serial, product), serial))
        elif len(rows) > 1:
            codes = ", ".join(sorted(r.product for r in rows))
            problems.add(FieldError(path, f"serial is used by products {codes}: name the product",
                                    serial))  # fmt: skip
        else:
            result.append(rows[0])
    if problems.total:
        raise problems.error("unknown or ambiguous units", NotFound)
    return result


_ANCESTORS = text(
    "WITH RECURSIVE up(id) AS (SELECT parent_id FROM units WHERE id = :id "
    "UNION SELECT u.parent_id FROM units u JOIN up ON u.id = up.id "
    "WHERE u.parent_id IS NOT NULL) SELECT id FROM up WHERE id IS NOT NULL"
)


def ancestors(conn: Connection, unit_id: int) -> set[int]:
    rows = conn.execute(_ANCESTORS, {"id": unit_id})
    return {int(r[0]) for r in rows}


# --- the write path -------------------------------------------------------------------


def record_in(
    conn: Connection,
    actor: Actor,
    event: EventIn,
    digest: str | None = None,
    new_unit_serials: Sequence[str] | None = None,
) -> Recorded:
    """Write one event on an open write transaction. See the module docstring."""
    actor.require(f"event:{event.type}")
    digest = digest or event_hash(event)
    if actor.is_partner and event.event_id is not None:  # a partner's ids are its own
        event = event.model_copy(update={"event_id": own_event_id(conn, actor, event.event_id)})
    replay = find_replay(conn, event.event_id, digest)
    if replay is not None:
        return replay
    rule = rule_for(event.type)
    _check_required(rule, event)
    event_time = event.event_time or datetime.now().astimezone()
    refs = {
        "location_id": named_location(conn, actor, event.location) if event.location else None,
        "party_id": named_party(conn, actor, event.party) if event.party else None,
    }
    if event.type == "commission":
        return _commission(conn, actor, event, digest, event_time, refs, new_unit_serials)

    # a partner's units are looked up among those its party holds: another party's unit is
    # not found, exactly like a serial that does not exist, before anything is said of it
    holder = write_holder(actor)
    refs_named = unit_refs(event)
    direct = resolve_units(conn, refs_named, holder)
    _named_once(refs_named, direct)
    plan = packing.prepare(conn, actor, event, direct)
    subjects = direct + _packed_units(plan, direct)
    if holder is not None:
        limits.check_units(actor, len(subjects), limits.named_field(event))
    parent = _parent(conn, rule, event, subjects, holder)
    removed = _removed(conn, event, parent, holder)
    rules.check_recall_block(conn, event.type, subjects)
    _check_transitions(conn, rule, event, subjects)
    warnings: list[str] = []
    uses = rules.resolve_lot_uses(conn, event.consumed)
    if parent is not None and event.type in ("assemble", "replace_part"):
        warnings += rules.check_bom(conn, [rules.Assembly(parent, subjects, removed, uses)])[0]
    if event.type in ("receive", "disassemble"):
        warnings += rules.check_completion(conn, subjects)
    if event.step is not None and event.step.started_at and event.step.started_at > event_time:
        raise invalid("step.started_at", "is after the event's time (when the step ended)")
    event_pk, event_id = _insert_event(
        conn, actor, event, digest, event_time, refs, parent.id if parent else None,
        None, len(subjects) + len(removed),
    )  # fmt: skip
    _project(conn, rule, subjects, event_pk, refs, parent.id if parent else None)
    boxed = [u.id for u in direct if u.container_id is not None]
    if plan.target is not None or plan.named or boxed:
        packing.apply(conn, rule, plan, event_pk, refs, [u.id for u in direct])
    if removed:
        _project_removed(conn, removed, event_pk, parent.id if parent else None)
    if uses and parent is not None:
        rules.record_lot_uses_many(conn, ((event_pk, parent.id, u) for u in uses))
    if event.step is not None:
        rules.record_steps(conn, event_pk, subjects, event.step, event_time)
    if event.region is not None and subjects:
        channel.check_sighting(conn, event_pk, event.type, event.region, [u.id for u in subjects])
    links = [(u.id, event_pk, int(Role.SUBJECT)) for u in subjects]
    links += [(u.id, event_pk, int(Role.REMOVED)) for u in removed]
    if parent:
        links.append((parent.id, event_pk, int(Role.PARENT)))
    if len(links) <= 3:  # a scan
        _LINK.many(conn, [{"unit_id": u, "event_id": e, "role": r} for u, e, r in links])
    else:
        bulk_insert(conn, event_units, ("unit_id", "event_id", "role"), links)
    _audit_event(conn, actor, event, event_id, len(subjects) + len(removed),
                 [u.serial for u in subjects])  # fmt: skip
    return Recorded(event_id, event_pk, event.type, len(subjects) + len(removed), False,
                    warnings=warnings)  # fmt: skip


def _packed_units(plan: packing.Plan, direct: list[UnitRow]) -> list[UnitRow]:
    """The units inside the cartons and pallets an event names; none named on its own too."""
    named = {u.id: u for u in direct}
    twice = [
        FieldError(
            "serials",
            "named twice: also inside a carton or pallet the event names",
            named[r.id].serial,
        )
        for r in plan.units
        if r.id in named
    ]
    if twice:
        raise report("the event names a unit more than once", twice)
    return [UnitRow(r.id, r.serial, r.code, Status(r.status), r.parent_id, r.product_id)
            for r in plan.units]  # fmt: skip


def _named_once(refs: list[tuple[str, str | None, str]], found: list[UnitRow]) -> None:
    """One unit named twice (e.g. once by serial, once with its product) is an input error."""
    seen: dict[int, str] = {}
    twice = []
    for (path, _product, serial), u in zip(refs, found, strict=True):
        if u.id in seen:
            twice.append(FieldError(path, f"named twice (also {seen[u.id]})", serial))
        seen.setdefault(u.id, path)
    if twice:
        raise report("the event names a unit more than once", twice)


def find_replay(conn: Connection, event_id: str | None, digest: str) -> Recorded | None:
    """The earlier recording of this event, or None; a reused id with other content conflicts."""
    if event_id is None:
        return None
    previous = conn.execute(
        select(events.c.id, events.c.payload_hash, events.c.type, events.c.unit_count).where(
            events.c.event_id == event_id
        )
    ).first()
    if previous is None:
        return None
    if previous.payload_hash != digest:
        raise Conflict(
            f"event_id {event_id!r} was used for a different event",
            [FieldError("event_id", "already used with other content", event_id)],
        )
    serials: list[str] = []
    if previous.type == "commission":
        serials = list(
            conn.execute(
                select(units.c.serial)
                .join(event_units, event_units.c.unit_id == units.c.id)
                .where(event_units.c.event_id == previous.id)
                .order_by(units.c.id)
            ).scalars()
        )
    return Recorded(event_id, previous.id, previous.type, previous.unit_count, True, serials)


def _audit_event(conn: Connection, actor: Actor, event: EventIn, event_id: str, count: int,
                 serials: Sequence[str]) -> None:  # fmt: skip
    summary: dict[str, Any] = {"type": event.type, "unit_count": count,
                               "serials": list(serials[:20])}  # fmt: skip
    for name in ("product", "location", "party", "lot"):
        if getattr(event, name):
            summary[name] = getattr(event, name)
    if event.parent is not None:
        summary["parent"] = event.parent.serial
    if event.containers:
        summary["containers"] = list(event.containers[:20])
    if event.container:
        summary["container"] = event.container
    audit.append(conn, actor, "record", "event", event_id, None, summary)


def _check_required(rule: Rule, event: EventIn) -> None:
    what = event.type
    if rule.location is Effect.SET and not event.location:
        raise invalid("location", f"{what} needs the location the units go to")
    if rule.holder is Effect.SET and not event.party:
        raise invalid("party", f"{what} needs the party the units go to")
    if rule.parent is Effect.SET and event.parent is None:
        raise invalid("parent", f"{what} needs the parent unit the components go into")
    if event.type == "replace_part" and not event.removed:
        raise invalid("removed", "replace_part needs the components that come out")
    if event.removed and event.type != "replace_part":
        raise invalid("removed", f"only replace_part takes removed components, not {what}")
    if event.parent is not None and event.type not in ("assemble", "disassemble", "replace_part"):
        raise invalid("parent", f"{what} does not take a parent unit")
    if event.type in ("pack", "unpack") and not event.container:
        raise invalid("container", f"{what} needs the carton or pallet (its code)")
    if event.container and event.type not in ("pack", "unpack"):
        raise invalid("container", f"only pack and unpack take `container`, not {what}; name "
                      "the cartons the event moves in `containers`")  # fmt: skip
    if event.container_kind and event.type != "pack":
        raise invalid("container_kind", "only pack makes containers")
    if event.containers and event.type in ("commission", "assemble", "disassemble",
                                           "replace_part"):  # fmt: skip
        raise invalid("containers", f"{what} takes units, not cartons or pallets")
    if event.attributes is not None and event.type != "commission":
        raise invalid("attributes", "only commission sets unit attributes")
    if event.lot is not None and event.type != "commission":
        raise invalid("lot", "only commission sets the lot of units")


def _parent(
    conn: Connection, rule: Rule, event: EventIn, subjects: list[UnitRow], holder: int | None
) -> UnitRow | None:
    if event.parent is None:
        return None
    ref = ("parent.serial", event.parent.product or event.product, event.parent.serial)
    parent = resolve_units(conn, [ref], holder)[0]
    if event.type != "disassemble" and parent.status not in PARENT_ALLOWED:
        raise InvalidTransition(
            f"parent {parent.product}/{parent.serial} is {parent.status.label}",
            [FieldError("parent", f"is {parent.status.label}", parent.serial)],
        )
    ids = {u.id for u in subjects}
    if event.type == "disassemble":
        wrong = [
            FieldError("serials", f"{u.serial} is not installed in {parent.serial}", u.serial)
            for u in subjects
            if u.parent_id != parent.id
        ]
        if wrong:
            raise report(f"units are not in {parent.serial}", wrong, InvalidTransition)
        return parent
    if parent.id in ids or ids & ancestors(conn, parent.id):
        raise InvalidTransition(
            f"installing into {parent.serial} would put a unit inside itself",
            [FieldError("parent", "is one of the components or contains them", parent.serial)],
        )
    return parent


def _removed(
    conn: Connection, event: EventIn, parent: UnitRow | None, holder: int | None
) -> list[UnitRow]:
    if not event.removed or parent is None:
        return []
    refs = [(f"removed.{i}.serial", r.product or event.product, r.serial)
            for i, r in enumerate(event.removed)]  # fmt: skip
    seen: set[tuple[str | None, str]] = set()
    for path, product, serial in refs:
        if (product, serial) in seen:
            raise invalid(path, "named twice", serial)
        seen.add((product, serial))
    removed = resolve_units(conn, refs, holder)
    wrong = [
        FieldError(f"removed.{i}", f"{u.serial} is {u.status.label}, not installed in "
                   f"{parent.serial}", u.serial)
        for i, u in enumerate(removed)
        if u.parent_id != parent.id or u.status not in REMOVED_FROM
    ]  # fmt: skip
    if wrong:
        raise report(f"removed parts are not installed in {parent.serial}", wrong,
                     InvalidTransition)  # fmt: skip
    return removed


def _check_transitions(
    conn: Connection, rule: Rule, event: EventIn, subjects: list[UnitRow]
) -> None:
    bad = [u for u in subjects if not rule.allows(u.status)]
    if not bad:
        return
    allowed = rule.describe_allowed() or "nowhere"
    held = holders(conn, [u.parent_id for u in bad if u.parent_id is not None])

    def state(u: UnitRow) -> str:
        if u.parent_id is not None and u.parent_id in held:
            return f"{u.status.label} in {held[u.parent_id]}"
        return u.status.label

    errors = [
        FieldError(
            "serials",
            f"unit {u.product}/{u.serial} is {state(u)}; {rule.event_type} is allowed "
            f"only from {allowed}",
            u.serial,
        )
        for u in bad[:MAX_REPORTED]
    ]
    first = bad[0]
    raise report(
        f"cannot {rule.event_type} unit {first.product}/{first.serial}: it is "
        f"{state(first)}, and {rule.event_type} is allowed only from {allowed}",
        errors,
        InvalidTransition,
        len(bad),
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


_EVENT_COLUMNS = ("event_id", "payload_hash", "type", "event_time", "event_tz", "record_time",
                  "location_id", "party_id", "parent_unit_id", "lot_id", "read_point", "operator",
                  "equipment", "region", "actor_user_id", "biz_transactions", "data",
                  "unit_count")  # fmt: skip
_INSERT_EVENT = Fast(
    insert(events).values({c: bindparam(c, type_=events.c[c].type) for c in _EVENT_COLUMNS})
    .returning(events.c.id),
    as_text=("biz_transactions", "data"),
)  # fmt: skip
_LINK = Fast(
    insert(event_units).values(
        unit_id=bindparam("unit_id"), event_id=bindparam("event_id"), role=bindparam("role")
    )
)


def _insert_event(
    conn: Connection,
    actor: Actor,
    event: EventIn,
    digest: str,
    event_time: datetime,
    refs: dict[str, int | None],
    parent_id: int | None,
    lot: int | None,
    unit_count: int,
) -> tuple[int, str]:
    values = {
        "event_id": event.event_id or new_event_id(),
        "payload_hash": digest,
        "type": event.type,
        "event_time": event_time,
        "event_tz": utc_offset(event_time),
        "record_time": datetime.now(UTC),
        "location_id": refs["location_id"],
        "party_id": refs["party_id"],
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
    return int(_INSERT_EVENT.run(conn, values).fetchall()[0][0]), values["event_id"]


@functools.cache
def _project_statement(rule: Rule, columns: tuple[str, ...]) -> Any:
    """UPDATE of the projection, guarded by the statuses the rule allows (built once)."""
    return (
        update(units)
        .where(
            units.c.id.in_(bindparam("ids", expanding=True)),
            units.c.status.in_([int(s) for s in sorted(rule.allowed_from)]),
        )
        .values({column: bindparam(column) for column in columns})
    )


@functools.cache
def _project_one(rule: Rule, columns: tuple[str, ...]) -> Fast:
    """The same update for one unit, run on the driver's cursor (the scan path)."""
    allowed = ", ".join(str(int(s)) for s in sorted(rule.allowed_from))  # integers only
    return Fast(
        update(units)
        .where(units.c.id == bindparam("id"), text(f"units.status IN ({allowed})"))
        .values({column: bindparam(column) for column in columns})
    )


def _project(
    conn: Connection,
    rule: Rule,
    subjects: list[UnitRow],
    event_pk: int,
    refs: dict[str, int | None],
    parent_id: int | None,
) -> None:
    """Update the projection, guarded by the allowed statuses (the concurrency check)."""
    values: dict[str, Any] = {"last_event_id": event_pk}
    if rule.to is not None:
        values["status"] = int(rule.to)
    for column, effect, given in (
        ("location_id", rule.location, refs["location_id"]),
        ("holder_id", rule.holder, refs["party_id"]),
        ("parent_id", rule.parent, parent_id),
    ):
        if effect is Effect.CLEAR:
            values[column] = None
        elif effect is Effect.SET or (effect is Effect.OPTIONAL and given is not None):
            values[column] = given
    ids = [u.id for u in subjects]
    changed = 0
    if len(ids) == 1:  # a scan
        changed = (
            _project_one(rule, tuple(sorted(values))).run(conn, {**values, "id": ids[0]}).rowcount
        )
    else:
        statement = _project_statement(rule, tuple(sorted(values)))
        for chunk in chunks(ids):
            changed += conn.execute(statement, {**values, "ids": list(chunk)}).rowcount
    if changed != len(ids):
        raise Conflict(
            f"{len(ids) - changed} of the units changed while this {rule.event_type} was "
            "being recorded; nothing was written, try again",
            [FieldError("serials", "changed by a concurrent event")],
        )


def _project_removed(
    conn: Connection, removed: list[UnitRow], event_pk: int, parent_id: int | None
) -> None:
    changed = conn.execute(
        update(units)
        .where(
            units.c.id.in_([u.id for u in removed]),
            units.c.parent_id == parent_id,
            units.c.status.in_([int(s) for s in REMOVED_FROM]),
        )
        .values(status=int(REMOVED_TO), parent_id=None, holder_id=None, last_event_id=event_pk)
    ).rowcount
    if changed != len(removed):
        raise Conflict("removed parts changed meanwhile; nothing was written, try again")


# --- commissioning: the event that creates units --------------------------------------


def _commission(
    conn: Connection,
    actor: Actor,
    event: EventIn,
    digest: str,
    event_time: datetime,
    refs: dict[str, int | None],
    generated: Sequence[str] | None,
) -> Recorded:
    if event.units or not event.product:
        raise invalid("product", "commission takes `product` and its new `serials`")
    product = product_row(conn, event.product)
    if product.tracking != "serial":
        raise invalid(
            "product", f"{product.code} is tracked by {product.tracking}, not by serial",
            product.code,
        )  # fmt: skip
    lot = lot_id(conn, product.id, event.lot) if event.lot else None
    serials = list(event.serials)
    if generated is None:
        template = serial_template(product)
        errors: list[FieldError] = []
        seen: dict[str, int] = {}
        for i, serial in enumerate(serials):
            problem = plain_serial_problem(serial)
            if problem is None and template is not None:
                problem = template.mismatch(serial, product.code)
            if problem is None and serial in seen:
                problem = f"duplicate of serials.{seen[serial]}"
            if problem:
                errors.append(FieldError(f"serials.{i}", problem, serial))
            seen.setdefault(serial, i)
        if errors:
            raise report(f"serials rejected for {product.code}; nothing was written", errors)
        existing = existing_serials(conn, product.id, serials)
        if existing:
            raise report(
                f"serials already exist for {product.code}; nothing was written",
                [FieldError(f"serials.{seen[s]}", "already exists", s) for s in existing],
                Conflict,
            )
    event_pk, event_id = _insert_event(
        conn, actor, event.model_copy(update={"serials": []}), digest, event_time, refs, None,
        lot, len(serials),
    )  # fmt: skip
    first_id = allocate(conn, unit_id_blocks, {"name": "units"}, "last_id", len(serials))
    constants: dict[str, int | None] = {
        "product_id": product.id,
        "lot_id": lot,
        "status": int(Status.COMMISSIONED),
        "location_id": refs["location_id"],
        "last_event_id": event_pk,
    }
    if event.attributes is None:
        bulk_insert(conn, units, ("id", "serial"),
                    zip(range(first_id, first_id + len(serials)), serials, strict=True),
                    constants)  # fmt: skip
    else:
        attributes = json.dumps(event.attributes, ensure_ascii=False)
        bulk_insert(conn, units, ("id", "serial", "attributes"),
                    ((first_id + i, s, attributes) for i, s in enumerate(serials)),
                    constants)  # fmt: skip
    bulk_insert(
        conn,
        event_units,
        ("unit_id",),
        ((unit_id,) for unit_id in range(first_id, first_id + len(serials))),
        {"event_id": event_pk, "role": int(Role.SUBJECT)},
    )
    _audit_event(conn, actor, event, event_id, len(serials), serials)
    return Recorded(event_id, event_pk, "commission", len(serials), False, serials)


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
