"""Channel use cases: shipments (serials and ranges, all or nothing), item-level inventory read
from the projection, and the diversion alerts the write path raises."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Connection, insert, select, update

from unitrace.access import audit
from unitrace.access.principal import Actor
from unitrace.catalog.service import party_id, product_row
from unitrace.channel import packing
from unitrace.channel.inventory import INVENTORY_BY as INVENTORY_BY  # the use case lives there
from unitrace.channel.inventory import inventory as inventory
from unitrace.core.errors import Conflict, FieldError, NotFound, invalid
from unitrace.db.engine import Database
from unitrace.db.tables import (
    containers,
    diversion_alerts,
    event_containers,
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
    """`SN000100`–`SN000299` → the 200 serials between, same prefix and width."""
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


def create_shipment(db: Database, actor: Actor, data: ShipmentIn) -> dict[str, Any]:
    """Ship every named unit to the party in one event, or none: a unit that is unknown or not
    in stock is reported one by one and nothing is written."""
    actor.require("event:ship")
    serials = list(data.serials)
    for i, r in enumerate(data.ranges):
        serials += expand_range(r.first, r.last, f"ranges.{i}")
    # a serial named twice (in a list and a range) is refused by the write path, field by field
    if len(serials) > MAX_RANGE:
        raise invalid("serials", f"at most {MAX_RANGE:,} units a shipment")
    now = datetime.now(UTC)
    with db.write() as conn:
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


def list_shipments(db: Database, actor: Actor, party: str | None = None) -> list[dict[str, Any]]:
    actor.require("catalog.read")
    query = (
        select(shipments, parties.c.code.label("party"), events.c.event_time)
        .join(parties, parties.c.id == shipments.c.party_id)
        .join(events, events.c.id == shipments.c.event_id)
        .order_by(shipments.c.id.desc())
        .limit(500)
    )
    if party:
        query = query.where(parties.c.code == party)
    with db.read() as conn:
        rows = conn.execute(query).all()
    return [
        {
            "number": r.number,
            "party": r.party,
            "region": r.region,
            "unit_count": r.unit_count,
            "shipped_at": r.event_time.isoformat(),
            "created_by": r.created_by,
        }
        for r in rows
    ]


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


def list_alerts(
    db: Database,
    actor: Actor,
    *,
    status: str | None = "open",
    party: str | None = None,
    region: str | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
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
        .order_by(diversion_alerts.c.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(diversion_alerts.c.status == status)
    if party:
        query = query.where(parties.c.code == party)
    if region:
        query = query.where(diversion_alerts.c.seen_region == region)
    with db.read() as conn:
        rows = conn.execute(query).all()
    return [
        {
            "id": r.id,
            "serial": r.serial,
            "product": r.product,
            "distributor": r.party,
            "distributor_name": r.party_name,
            "shipment": next((b["id"] for b in r.biz_transactions if b["type"] == "desadv"), None),
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


def settle_alert(
    db: Database, actor: Actor, alert_id: int, status: str, note: str
) -> dict[str, Any]:
    """Acknowledge or close an alert with a note (who and when are kept, and audited)."""
    actor.require("diversion.manage")
    if status not in ("acknowledged", "closed"):
        raise invalid("status", "acknowledged or closed", status)
    if status == "closed" and not note.strip():
        raise invalid("note", "say how the alert was settled")
    with db.write() as conn:
        found = select(diversion_alerts).where(diversion_alerts.c.id == alert_id)
        row = conn.execute(found).first()
        if row is None:
            raise NotFound(
                f"no diversion alert {alert_id}", [FieldError("id", "unknown alert", alert_id)]
            )
        if row.status == "closed":
            raise Conflict(f"alert {alert_id} is closed already")
        kept = note.strip()[:4000]
        conn.execute(
            update(diversion_alerts)
            .where(diversion_alerts.c.id == alert_id)
            .values(
                status=status, note=kept, updated_at=datetime.now(UTC), updated_by=actor.username
            )
        )
        before, after = {"status": row.status, "note": row.note}, {"status": status, "note": kept}
        audit.append(conn, actor, "update", "diversion", str(alert_id), before, after)
    return {"id": alert_id, "status": status}
