"""Channel use cases: shipments (serials and ranges, all or nothing), item-level inventory read
from the projection, and the diversion alerts the write path raises."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Connection, func, insert, select, update

from unitrace.access import audit
from unitrace.access.principal import Actor
from unitrace.catalog.service import party_id, product_row, serial_template
from unitrace.channel import packing
from unitrace.channel.inventory import INVENTORY_BY as INVENTORY_BY  # the use case lives there
from unitrace.channel.inventory import inventory as inventory
from unitrace.core.errors import (
    Conflict,
    FieldError,
    NotFound,
    ValidationError,
    invalid,
    report,
)
from unitrace.core.serials import RangeProblem, SerialTemplate
from unitrace.db.engine import Database
from unitrace.db.tables import (
    containers,
    diversion_alerts,
    event_containers,
    event_units,
    events,
    locations,
    parties,
    products,
    shipments,
    units,
)
from unitrace.ledger.pipeline import record_in
from unitrace.ledger.schemas import BizTransaction, EventIn, EventTime
from unitrace.ledger.scope import outside, party_of, write_holder

MAX_RANGE = 100_000
_TAIL = re.compile(r"^(.*?)(\d+)$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SerialRange(Strict):
    first: str = Field(min_length=1, max_length=64, alias="from")
    last: str = Field(min_length=1, max_length=64, alias="to")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ShipmentIn(Strict):
    """A delivery note: the units (serials and ranges like SN000100–SN000299) and the party."""

    number: str | None = Field(
        default=None, min_length=1, max_length=60, description="delivery note; made up if absent"
    )
    party: str = Field(min_length=1, max_length=40)
    product: str | None = Field(default=None, max_length=40)
    serials: list[str] = Field(default_factory=list, max_length=MAX_RANGE)
    ranges: list[SerialRange] = Field(default_factory=list, max_length=100)
    containers: list[str] = Field(
        default_factory=list,
        max_length=1_000,
        description="cartons or pallets shipped whole (SSCC or label)",
    )
    event_time: EventTime | None = None

    @model_validator(mode="after")
    def _names_units(self) -> ShipmentIn:
        if not self.serials and not self.ranges and not self.containers:
            raise ValueError("a shipment names serials, ranges, cartons or pallets")
        return self


def expand_range(first: str, last: str, field: str) -> list[str]:
    """`SN000100`–`SN000299` → the 200 serials between, same prefix and width: the ranges of
    a product without a serial rule (with one, `SerialTemplate.range_serials` steps through its
    sequence)."""
    a, b = _TAIL.match(first), _TAIL.match(last)
    if not a or not b or a.group(1) != b.group(1) or len(a.group(2)) != len(b.group(2)):
        raise invalid(
            field,
            "a range runs between two serials with the same prefix and the "
            "same number of digits at the end",
            f"{first}–{last}",
        )
    low, high, width = int(a.group(2)), int(b.group(2)), len(a.group(2))
    if high < low:
        raise invalid(field, "the range ends before it starts", f"{first}–{last}")
    if high - low + 1 > MAX_RANGE:
        raise invalid(field, f"at most {MAX_RANGE:,} serials a range", f"{first}–{last}")
    return [f"{a.group(1)}{n:0{width}d}" for n in range(low, high + 1)]


_PRODUCTS_OF_SERIAL = (
    select(products.c.code).join(units, units.c.product_id == products.c.id).distinct().limit(2)
)


def range_serials(
    conn: Connection, product: str | None, first: str, last: str, field: str
) -> list[str]:
    """The serials of a range: by the product's serial rule when it has one (each sequence
    number with its check character), else by the digits at the end. Without a product, the
    product is the one of the unit the range starts with."""
    code = product
    if code is None:
        for end in (first, last):
            query = _PRODUCTS_OF_SERIAL.where(units.c.serial == end)
            found = list(conn.execute(query).scalars())
            if found:
                break
        if not found:  # no unit has either end: the products whose rule makes serials like it
            found = _products_shaped_like(conn, first, last)
        if len(found) > 1:
            raise invalid(field, "serials repeat across products: choose the product", first)
        code = found[0] if found else None
    rule = serial_template(product_row(conn, code)) if code else None
    if rule is None:
        return expand_range(first, last, field)
    try:
        return rule.range_serials(first, last, code, MAX_RANGE)
    except RangeProblem as problem:
        raise invalid(field, problem.message, problem.value) from None


def _products_shaped_like(conn: Connection, first: str, last: str) -> list[str]:
    """The products whose serial rule has the shape of both ends (check characters aside)."""
    rules = select(products.c.code, products.c.serial_rule).where(
        products.c.serial_rule.is_not(None)
    )
    out = []
    for code, rule in conn.execute(rules):
        shape = SerialTemplate.parse(rule).pattern(code)
        if shape.fullmatch(first) and shape.fullmatch(last):
            out.append(str(code))
    return out[:2]


def create_shipment(db: Database, actor: Actor, data: ShipmentIn) -> dict[str, Any]:
    """Ship every named unit to the party in one event, or none: a unit that is unknown or not
    in stock is reported one by one and nothing is written."""
    actor.require("event:ship")
    now = datetime.now(UTC)
    with db.write() as conn:
        serials = list(data.serials)
        problems: list[FieldError] = []
        for i, r in enumerate(data.ranges):
            try:
                serials += range_serials(conn, data.product, r.first, r.last, f"ranges.{i}")
            except ValidationError as error:
                problems += error.errors
        if problems:  # every range's problem at once
            raise report(f"{problems[0].field}: {problems[0].message}", problems)
        # a serial named twice (in a list and a range) is refused by the write path
        if len(serials) > MAX_RANGE:
            raise invalid("serials", f"at most {MAX_RANGE:,} units a shipment")
        number = data.number or f"DN-{now:%Y%m%d%H%M%S%f}"
        if conn.execute(select(shipments.c.id).where(shipments.c.number == number)).first():
            raise Conflict(
                f"shipment {number!r} exists", [FieldError("number", "already exists", number)]
            )
        party_pk = party_id(conn, data.party)
        party = conn.execute(select(parties).where(parties.c.id == party_pk)).one()
        if data.product:
            product_row(conn, data.product)
        event = EventIn(
            type="ship",
            product=data.product,
            serials=serials,
            party=data.party,
            containers=data.containers,
            event_time=data.event_time,
            biz_transactions=[BizTransaction(type="desadv", id=number)],
        )
        done = record_in(conn, actor, event)
        conn.execute(
            insert(shipments).values(
                number=number,
                party_id=party.id,
                region=party.region,
                event_id=done.id,
                unit_count=done.unit_count,
                created_at=now,
                created_by=actor.username,
            )
        )
        summary = {"party": data.party, "units": done.unit_count}
        audit.append(conn, actor, "create", "shipment", number, None, summary)
    return {
        "number": number,
        "party": data.party,
        "region": party.region,
        "authorised_regions": party.authorised_regions,
        "unit_count": done.unit_count,
        "event_id": done.event_id,
    }


def list_shipments(
    db: Database, actor: Actor, party: str | None = None, limit: int = 500, offset: int = 0
) -> dict[str, Any]:
    """Every ship event, newest first — a delivery note made here, and a ship event sent
    through the API, the scan station, the CLI or a file (the demo ships that way) — with
    its delivery note number (the shipment's, else its `desadv` business document, else the
    event id), and how many there are in all."""
    actor.require("catalog.read")
    where = [events.c.type == "ship"]
    if party:
        where.append(parties.c.code == party)
    base = (
        select(
            events.c.event_id,
            events.c.event_time,
            events.c.unit_count,
            events.c.biz_transactions,
            parties.c.code.label("party"),
            parties.c.name.label("party_name"),
            parties.c.region.label("party_region"),
            shipments.c.number,
            shipments.c.region,
            shipments.c.created_by,
        )
        .select_from(events)
        .outerjoin(shipments, shipments.c.event_id == events.c.id)
        .outerjoin(parties, parties.c.id == events.c.party_id)
        .where(*where)
    )
    counted = select(func.count()).select_from(events)
    if party:
        counted = counted.join(parties, parties.c.id == events.c.party_id)
    with db.read() as conn:
        total = conn.execute(counted.where(*where)).scalar_one()
        ordered = base.order_by(events.c.event_time.desc(), events.c.id.desc())
        rows = conn.execute(ordered.limit(limit).offset(offset)).all()
    return {
        "total": int(total),
        "items": [
            {
                "number": r.number or _note_of(r.biz_transactions) or r.event_id,
                "key": r.number or r.event_id,
                "event_id": r.event_id,
                "party": r.party,
                "party_name": r.party_name,
                "region": r.region or r.party_region,
                "unit_count": r.unit_count,
                "shipped_at": r.event_time.isoformat(),
                "created_by": r.created_by,
            }
            for r in rows
        ],
    }


def _note_of(documents: Sequence[dict[str, Any]] | None) -> str | None:
    return next((d["id"] for d in documents or [] if d.get("type") == "desadv"), None)


def delivery_note(db: Database, actor: Actor, key: str) -> dict[str, Any]:
    """What a printed delivery note shows: shipper, consignee, date, the cartons with their
    serials and the loose serials, counts by product. `key`: a shipment's number or the id of
    a ship event."""
    actor.require("catalog.read")
    with db.read() as conn:
        by_number = select(shipments.c.event_id).where(shipments.c.number == key)
        pk = conn.execute(by_number).scalar()
        ship = events.alias("ship")
        query = select(ship).where(ship.c.type == "ship")
        query = query.where(ship.c.id == pk) if pk else query.where(ship.c.event_id == key)
        event = conn.execute(query).first()
        if event is None:
            raise NotFound(
                f"no shipment {key!r}", [FieldError("number", "unknown delivery note", key)]
            )
        made = conn.execute(select(shipments).where(shipments.c.event_id == event.id)).first()
        consignee = None
        if event.party_id is not None:
            consignee = conn.execute(select(parties).where(parties.c.id == event.party_id)).one()
        shipper = _shipper(conn, event.location_id)
        named = {
            int(c): str(code)
            for c, code in conn.execute(
                select(containers.c.id, containers.c.code)
                .join(event_containers, event_containers.c.container_id == containers.c.id)
                .where(event_containers.c.event_id == event.id)
            )
        }
        carton = containers.alias("carton")
        rows = conn.execute(
            select(
                units.c.serial,
                products.c.code.label("product"),
                products.c.name.label("product_name"),
                carton.c.id.label("carton_id"),
                carton.c.code.label("carton"),
                carton.c.parent_id.label("pallet_id"),
            )
            .join(event_units, event_units.c.unit_id == units.c.id)
            .join(products, products.c.id == units.c.product_id)
            .outerjoin(carton, carton.c.id == units.c.container_id)
            .where(event_units.c.event_id == event.id)
            .order_by(carton.c.code, products.c.code, units.c.serial)
        ).all()
    cartons: dict[str, list[str]] = {}
    loose: list[str] = []
    counts: dict[tuple[str, str], int] = {}
    for r in rows:
        key_ = (r.product, r.product_name)
        counts[key_] = counts.get(key_, 0) + 1
        in_named = r.carton_id in named or r.pallet_id in named
        if r.carton and in_named:
            cartons.setdefault(r.carton, []).append(r.serial)
        else:
            loose.append(r.serial)
    return {
        "number": made.number if made else _note_of(event.biz_transactions) or event.event_id,
        "event_id": event.event_id,
        "shipped_at": event.event_time.isoformat(),
        "created_by": made.created_by if made else None,
        "shipper": shipper,
        "consignee": None
        if consignee is None
        else {
            "code": consignee.code,
            "name": consignee.name,
            "region": consignee.region,
            "authorised_regions": list(consignee.authorised_regions or []),
        },
        "cartons": [{"code": c, "serials": s} for c, s in cartons.items()],
        "loose": loose,
        "products": [
            {"code": code, "name": name, "units": n} for (code, name), n in sorted(counts.items())
        ],
        "unit_count": len(rows),
        "carton_count": len(cartons),
    }


def _shipper(conn: Connection, location_id: int | None) -> dict[str, Any] | None:
    """Who ships: the site the event's location is in, else our first site."""
    found = None
    seen = set()
    while location_id is not None and location_id not in seen:
        seen.add(location_id)
        found = conn.execute(select(locations).where(locations.c.id == location_id)).first()
        if found is None or found.kind == "site" or found.parent_id is None:
            break
        location_id = found.parent_id
    if found is None:
        first_site = select(locations).where(locations.c.kind == "site").order_by(locations.c.id)
        found = conn.execute(first_site.limit(1)).first()
    if found is None:
        return None
    return {"code": found.code, "name": found.name, "region": found.region}


# --- cartons and pallets ------------------------------------------------------------------


def _visible(conn: Connection, actor: Actor, code: str) -> packing.Container | None:
    """The container with this code, if the actor may see it. A partner sees only the ones its
    party holds: one indexed lookup that answers the same way, in the same time, for another
    partner's carton and for a code nobody uses."""
    return packing.find(conn, [code], write_holder(actor)).get(code)


def is_container(db: Database, actor: Actor, code: str) -> bool:
    """Whether a scanned code names a carton or pallet the actor may see (an SSCC always
    does: for a partner, another partner's carton is like a serial nobody uses)."""
    code = packing.normalise(code)
    if len(code) == 18 and code.isdigit():
        return True
    with db.read() as conn:
        return _visible(conn, actor, code) is not None


def container(
    db: Database, actor: Actor, code: str, missing_ok: bool = False
) -> dict[str, Any] | None:
    """A carton or pallet: where it is, what is in it (all levels counted), and its events.
    A partner sees one only while its party holds it (and every unit in it is in its scope),
    and of its events only those since the partner got it, and its packing before it first
    left us."""
    actor.require("read")
    code = packing.normalise(code)
    with db.read() as conn:
        found = _visible(conn, actor, code)
        content = packing.content_ids(conn, found.id) if found else []
        if (
            found is not None
            and actor.is_partner
            and (not content or outside(conn, actor, content))
        ):
            found = None
        if found is None:
            if missing_ok:
                return None
            raise packing.unknown([("code", code)])
        inside = packing.content_summary(conn, found.id)
        history = conn.execute(
            select(
                events.c.id,
                events.c.event_id,
                events.c.type,
                events.c.event_time,
                events.c.unit_count,
                events.c.party_id,
                locations.c.code.label("location"),
                parties.c.code.label("party"),
                event_containers.c.role,
            )
            .join(event_containers, event_containers.c.event_id == events.c.id)
            .outerjoin(locations, locations.c.id == events.c.location_id)
            .outerjoin(parties, parties.c.id == events.c.party_id)
            .where(event_containers.c.container_id == found.id)
            .order_by(events.c.event_time, events.c.id)
        ).all()
        pallet_code = select(containers.c.code).where(containers.c.id == found.parent_id)
        location_code = select(locations.c.code).where(locations.c.id == found.location_id)
        holder_code = select(parties.c.code).where(parties.c.id == found.holder_id)
        pallet = conn.execute(pallet_code).scalar() if found.parent_id else None
        location = conn.execute(location_code).scalar()
        holder = conn.execute(holder_code).scalar()
    partner = actor.is_partner
    if partner:
        history = _since_given(history, party_of(actor))
    return {
        "code": found.code,
        "kind": found.kind,
        "pallet": pallet,
        "location": None if partner else location,
        "holder": holder,
        "unit_count": len(content),
        **inside,
        "events": [
            {
                "event_id": e.event_id,
                "type": e.type,
                "event_time": e.event_time.isoformat(),
                "unit_count": e.unit_count,
                "location": None if partner else e.location,
                "party": e.party if not partner or e.party == holder else None,
                "role": "packed into" if e.role == packing.TARGET else "scanned",
            }
            for e in history
        ],
    }


def _since_given(history: Sequence[Any], party: int) -> list[Any]:
    """A container's events a partner that holds it may see: its packing before it first went
    to any party, and everything from the last event that gave it to this partner on."""
    in_order = sorted(history, key=lambda e: e.id)
    first_out = next((i for i, e in enumerate(in_order) if e.party_id is not None), len(in_order))
    given = max((i for i, e in enumerate(in_order) if e.party_id == party), default=len(in_order))
    shown = {e.id for e in in_order[:first_out]} | {e.id for e in in_order[given:]}
    return [e for e in history if e.id in shown]


# --- diversion alerts -------------------------------------------------------------------

ALERT_STATES = ("open", "acknowledged", "closed")


def _alert_filters(status: str | None, party: str | None, region: str | None) -> list[Any]:
    where: list[Any] = []
    if status:
        where.append(diversion_alerts.c.status == status)
    if party:
        where.append(parties.c.code == party)
    if region:
        where.append(diversion_alerts.c.seen_region == region)
    return where


def list_alerts(
    db: Database,
    actor: Actor,
    *,
    status: str | None = "open",
    party: str | None = None,
    region: str | None = None,
    limit: int = 500,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Alerts newest first, `limit` of them from `offset` (`alert_summary` counts them all)."""
    actor.require("catalog.read")
    ship = events.alias("ship")
    source = events.alias("source")
    query = (
        select(
            diversion_alerts,
            units.c.serial,
            products.c.code.label("product"),
            parties.c.code.label("party"),
            parties.c.name.label("party_name"),
            ship.c.event_time.label("shipped_at"),
            ship.c.biz_transactions,
            source.c.event_time.label("seen_at"),
        )
        .join(units, units.c.id == diversion_alerts.c.unit_id)
        .join(products, products.c.id == units.c.product_id)
        .join(parties, parties.c.id == diversion_alerts.c.party_id)
        .join(ship, ship.c.id == diversion_alerts.c.ship_event_id)
        .join(source, source.c.id == diversion_alerts.c.source_event_id)
        .where(*_alert_filters(status, party, region))
        .order_by(diversion_alerts.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    with db.read() as conn:
        rows = conn.execute(query).all()
    return [
        {
            "id": r.id,
            "serial": r.serial,
            "product": r.product,
            "distributor": r.party,
            "distributor_name": r.party_name,
            "shipment": _note_of(r.biz_transactions),
            "shipped_at": r.shipped_at.isoformat(),
            "expected_regions": r.expected,
            "seen_region": r.seen_region,
            "source": r.source_type,
            "seen_at": r.seen_at.isoformat(),
            "status": r.status,
            "note": r.note,
        }
        for r in rows
    ]


def alert_summary(
    db: Database,
    actor: Actor,
    *,
    status: str | None = "open",
    party: str | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    """What the filter finds in all, not only on one page: `total`, by region seen (most
    first), per distributor and region, and how many alerts each state has (no filter)."""
    actor.require("catalog.read")
    grouped = (
        select(parties.c.code, diversion_alerts.c.seen_region, func.count().label("n"))
        .select_from(diversion_alerts)
        .join(parties, parties.c.id == diversion_alerts.c.party_id)
        .where(*_alert_filters(status, party, region))
        .group_by(parties.c.code, diversion_alerts.c.seen_region)
        .order_by(parties.c.code, diversion_alerts.c.seen_region)
    )
    states = select(diversion_alerts.c.status, func.count()).group_by(diversion_alerts.c.status)
    with db.read() as conn:
        rows = conn.execute(grouped).all()
        by_state = {str(k): int(n) for k, n in conn.execute(states)}
    regions: dict[str, int] = {}
    per_party: dict[str, dict[str, int]] = {}
    for code, seen, n in rows:
        regions[seen] = regions.get(seen, 0) + int(n)
        per_party.setdefault(code, {})[seen] = int(n)
    ranked = dict(sorted(regions.items(), key=lambda kv: (-kv[1], kv[0])))
    return {
        "total": sum(regions.values()),
        "regions": ranked,
        "per_party": per_party,
        "states": {state: by_state.get(state, 0) for state in ALERT_STATES},
    }


MAX_SETTLE = 1_000


def settle_alert(
    db: Database, actor: Actor, alert_id: int, status: str, note: str
) -> dict[str, Any]:
    """Acknowledge or close an alert with a note (who and when are kept, and audited)."""
    settle_alerts(db, actor, [alert_id], status, note)
    return {"id": alert_id, "status": status}


def settle_alerts(
    db: Database, actor: Actor, alert_ids: Sequence[int], status: str, note: str
) -> dict[str, Any]:
    """Acknowledge or close several alerts with one note, in one transaction: all or none.
    Closing needs a note (how it was settled); an alert that is closed already, or unknown,
    is named and nothing is written. Acknowledging one that is acknowledged keeps it so."""
    actor.require("diversion.manage")
    if status not in ("acknowledged", "closed"):
        raise invalid("status", "acknowledged or closed", status)
    wanted = list(dict.fromkeys(alert_ids))
    problems: list[FieldError] = []
    if not wanted:
        problems.append(FieldError("ids", "choose at least one alert"))
    if len(wanted) > MAX_SETTLE:
        problems.append(FieldError("ids", f"at most {MAX_SETTLE:,} alerts at once", len(wanted)))
    kept = note.strip()[:4000]
    if status == "closed" and not kept:
        problems.append(FieldError("note", "say how the alert was settled"))
    if problems:
        raise report(f"{problems[0].field}: {problems[0].message}", problems)
    now = datetime.now(UTC)
    with db.write() as conn:
        rows = {
            int(r.id): r
            for r in conn.execute(select(diversion_alerts).where(diversion_alerts.c.id.in_(wanted)))
        }
        unknown = [i for i in wanted if i not in rows]
        if unknown:
            raise NotFound(
                f"no diversion alert {unknown[0]}",
                [FieldError("id", "unknown alert", i) for i in unknown],
            )
        closed = [i for i in wanted if rows[i].status == "closed"]
        if closed:
            raise Conflict(
                f"alert {closed[0]} is closed already",
                [FieldError("id", "closed already", i) for i in closed],
            )
        conn.execute(
            update(diversion_alerts)
            .where(diversion_alerts.c.id.in_(wanted))
            .values(status=status, note=kept, updated_at=now, updated_by=actor.username)
        )
        for i in wanted:
            before = {"status": rows[i].status, "note": rows[i].note}
            after = {"status": status, "note": kept}
            audit.append(conn, actor, "update", "diversion", str(i), before, after)
    return {"ids": wanted, "status": status, "count": len(wanted)}
