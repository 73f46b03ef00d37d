"""Partner scope: a partner user sees and acts on only units its party holds or held.

A unit is in scope when the party is its holder now, or when any event of the unit names the
party (shipped to it, delivered to it, sold by it …). Outside the scope a unit does not exist
for the partner: every lookup answers "not found", never "forbidden".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, bindparam, exists, or_, select

from unitrace.access.principal import Actor
from unitrace.db.tables import event_units, events, units
from unitrace.ledger.bulk import chunks


def unit_condition(actor: Actor) -> Any:
    """A WHERE condition on `units` for the actor's scope, or None when unrestricted."""
    if not actor.is_partner:
        return None
    party = actor.party_id if actor.party_id is not None else -1
    touched = (
        select(event_units.c.unit_id)
        .join(events, events.c.id == event_units.c.event_id)
        .where(events.c.party_id == party)
    )
    return or_(units.c.holder_id == party, units.c.id.in_(touched))


def outside(conn: Connection, actor: Actor, unit_ids: Iterable[int]) -> set[int]:
    """The ids among `unit_ids` that the actor may not see (empty when unrestricted)."""
    ids = list(unit_ids)
    if not actor.is_partner or not ids:
        return set()
    party = actor.party_id if actor.party_id is not None else -1
    named = exists().where(
        event_units.c.unit_id == units.c.id,
        event_units.c.event_id == events.c.id,
        events.c.party_id == party,
    )
    query = select(units.c.id).where(
        units.c.id.in_(bindparam("ids", expanding=True)), or_(units.c.holder_id == party, named)
    )
    visible: set[int] = set()
    for chunk in chunks(ids):
        visible.update(conn.execute(query, {"ids": list(chunk)}).scalars())
    return set(ids) - visible
