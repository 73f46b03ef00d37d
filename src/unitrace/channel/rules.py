"""Diversion (窜货) detection, applied by the ledger's write pipeline (`channel.steps`) to every
event that names the region where its units were seen. One place for the rule: a unit is
expected in the regions authorised for the distributor (or retailer) it was last shipped to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, func, insert, select

from unitrace.core import signals
from unitrace.core.lifecycle import Role
from unitrace.db.tables import diversion_alerts, event_units, events, parties
from unitrace.ledger.bulk import chunks

_LAST_SHIPMENT = (
    select(event_units.c.unit_id, func.max(events.c.id).label("ship_event_id"))
    .join(events, events.c.id == event_units.c.event_id)
    .where(event_units.c.unit_id.in_(bindparam("ids", expanding=True)), events.c.type == "ship")
    .group_by(event_units.c.unit_id)
)
_SHIPPED_TO = (
    select(
        events.c.id, parties.c.id.label("party_id"), parties.c.code, parties.c.authorised_regions
    )
    .join(parties, parties.c.id == events.c.party_id)
    .where(events.c.id.in_(bindparam("ids", expanding=True)))
)


def region_allowed(seen: str, authorised: Sequence[str]) -> bool:
    """`CN-44` is inside `CN-44` and inside `CN` (a whole country)."""
    return any(seen == area or seen.startswith(area + "-") for area in authorised)


@dataclass(frozen=True)
class Sighting:
    """Units an event saw in a region."""

    event_pk: int
    event_type: str
    region: str
    unit_ids: Sequence[int]


def check_sightings(conn: Connection, sightings: Sequence[Sighting]) -> list[Raised]:
    """Raise one alert per unit seen outside the regions of the party it was last shipped to
    (parties without authorised regions sell anywhere). Returns the alerts raised."""
    seen = [s for s in sightings if s.event_type != "ship"]  # a shipment is where regions start
    ids = sorted({u for s in seen for u in s.unit_ids})
    last: dict[int, int] = {}
    for chunk in chunks(ids):
        last.update((int(u), int(e)) for u, e in conn.execute(_LAST_SHIPMENT, {"ids": list(chunk)}))
    if not last:
        return []
    shipped: dict[int, tuple[int, str, list[str]]] = {}
    for chunk in chunks(sorted(set(last.values()))):
        for ship_id, party, code, authorised in conn.execute(_SHIPPED_TO, {"ids": list(chunk)}):
            shipped[int(ship_id)] = (int(party), str(code), list(authorised or []))
    now = datetime.now(UTC)
    alerts, raised = [], []
    for sighting in seen:
        for unit in sighting.unit_ids:
            if unit not in last:
                continue
            ship_id = last[unit]
            party, code, authorised = shipped.get(ship_id, (0, "", []))
            if party and authorised and not region_allowed(sighting.region, authorised):
                alerts.append(
                    {
                        "unit_id": unit,
                        "party_id": party,
                        "ship_event_id": ship_id,
                        "expected": authorised,
                        "seen_region": sighting.region,
                        "source_event_id": sighting.event_pk,
                        "source_type": sighting.event_type,
                        "status": "open",
                        "note": "",
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                raised.append(Raised(0, sighting.event_pk, unit, code, authorised, sighting.region))
    if not alerts:
        return []
    keys = {(int(u), int(e)): int(i) for i, u, e in conn.execute(_INSERT_ALERTS, alerts)}
    raised = [r._replace(id=keys[(r.unit_id, r.event_pk)]) for r in raised]
    signals.emit_many(conn, "diversion", [r._asdict() for r in raised])  # webhooks hear it
    return raised


class Raised(NamedTuple):
    """One alert raised: its id, the event that raised it, the unit, the distributor the unit
    was shipped to and the regions it may sell in, and where the unit was seen."""

    id: int
    event_pk: int
    unit_id: int
    distributor: str
    expected: list[str]
    seen_region: str


_INSERT_ALERTS = insert(diversion_alerts).returning(
    diversion_alerts.c.id, diversion_alerts.c.unit_id, diversion_alerts.c.source_event_id
)


# --- one unit's channel: who it was shipped to, and its alerts (the claim checks ask) ---------

_SHIPPED_TO_ONE = (
    select(parties.c.code, parties.c.authorised_regions)
    .select_from(event_units)
    .join(events, events.c.id == event_units.c.event_id)
    .join(parties, parties.c.id == events.c.party_id)
    .where(
        event_units.c.unit_id == bindparam("unit"),
        event_units.c.role == int(Role.SUBJECT),
        events.c.type == "ship",
    )
    .order_by(events.c.id.desc())
    .limit(1)
)
_ALERTS_OF_ONE = (
    select(
        diversion_alerts.c.id,
        diversion_alerts.c.status,
        diversion_alerts.c.seen_region,
        diversion_alerts.c.expected,
        diversion_alerts.c.source_type,
        diversion_alerts.c.created_at,
        parties.c.code,
    )
    .join(parties, parties.c.id == diversion_alerts.c.party_id)
    .where(diversion_alerts.c.unit_id == bindparam("unit"), diversion_alerts.c.status != "closed")
    .order_by(diversion_alerts.c.id.desc())
)


def shipped_to(conn: Connection, unit_id: int) -> tuple[str, list[str]] | None:
    """The party the unit was last shipped to and the regions it may sell in (empty: anywhere),
    or None when the unit was never shipped to a party."""
    row = conn.execute(_SHIPPED_TO_ONE, {"unit": unit_id}).first()
    return None if row is None else (str(row.code), list(row.authorised_regions or []))


def alerts_for(conn: Connection, unit_id: int) -> list[dict[str, Any]]:
    """The unit's diversion alerts not yet closed (open or acknowledged), newest first."""
    return [
        {
            "id": int(r.id),
            "status": r.status,
            "distributor": r.code,
            "expected_regions": list(r.expected or []),
            "seen_region": r.seen_region,
            "source": r.source_type,
            "created_at": r.created_at.isoformat(),
        }
        for r in conn.execute(_ALERTS_OF_ONE, {"unit": unit_id})
    ]
