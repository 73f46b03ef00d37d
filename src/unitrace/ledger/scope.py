"""Partner scope: a partner user sees only units its party holds or held, and writes only on
units its party holds now.

A unit is in the read scope when the party is its holder now, or when any event of the unit
names the party (shipped to it, delivered to it, sold by it …); in the write scope only while
the party holds it. Outside the scope a unit does not exist for the partner: every lookup
answers "not found", never "forbidden", and says what it says of a serial that does not exist.

Inside the scope a partner sees only its own time with a unit (`partner_view`): a former
holder sees nothing of what happened after the unit left it. docs/access.md ("What a partner
can see") says the same in prose.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, exists, or_, select

from unitrace.access.principal import Actor
from unitrace.catalog.service import location_id, party_id, unknown_location, unknown_party
from unitrace.core.errors import invalid
from unitrace.core.lifecycle import Role, UnitState, apply
from unitrace.db.tables import event_units, events, parties, units
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


# --- the write side: what a partner may name on its events -----------------------------


def write_holder(actor: Actor) -> int | None:
    """The party whose units the actor may write on, or None when unrestricted.

    A partner writes only on units its party holds now. A unit it held before and gave on,
    or that came back to us, is someone else's: on the write path it reads as an unknown
    serial, found by the same query (the holder is part of the lookup, so a unit of another
    party and a serial that does not exist take the same path)."""
    return party_of(actor) if actor.is_partner else None


def named_party(conn: Connection, actor: Actor, code: str, field: str = "party") -> int:
    """The party an event names. A partner may name only its own party: the catalog links no
    party to a partner (end customers are recorded in the event's `data`), so any other code
    is answered as an unknown party, word for word."""
    found = party_id(conn, code, field)
    if actor.is_partner and found != actor.party_id:
        raise unknown_party(code, field)
    return found


def named_location(conn: Connection, actor: Actor, code: str, field: str = "location") -> int:
    """The location an event names. Locations are ours: a partner names none, and any code it
    names is answered as an unknown location without being looked up."""
    if actor.is_partner:
        raise unknown_location(code, field)
    return location_id(conn, code, field)


EVENT_ID_LENGTH = int(events.c.event_id.type.length or 80)  # type: ignore[attr-defined]


def event_id_prefix(conn: Connection, actor: Actor) -> str:
    """A partner's ids are its own: kept as `<party code>:<id>`, so that two partners may both
    use `EV-1`, and one that sends an id another party used gets the answer for an unused id."""
    code = conn.execute(select(parties.c.code).where(parties.c.id == actor.party_id)).scalar()
    return f"{code or '-'}:"


def own_event_id(prefix: str, event_id: str) -> str:
    """The event id of a partner (`event_id_prefix`) as the ledger keeps it. An id that already
    carries the partner's prefix (as the ledger answered it) is taken as it is."""
    own = event_id if event_id.startswith(prefix) else prefix + event_id
    if len(own) > EVENT_ID_LENGTH:
        raise invalid(
            "event_id",
            f"at most {EVENT_ID_LENGTH - len(prefix)} characters: a partner's event ids are "
            f"kept as {prefix}<id>",
            event_id,
        )
    return own


# --- what a partner sees of a unit in its scope ------------------------------------------------


@dataclass(frozen=True)
class PartnerView:
    """A partner's view of one unit: the events it may see and the unit's state after the last
    of them (for a former holder: the state in which it let the unit go)."""

    event_ids: frozenset[int]
    state: UnitState | None

    def holds(self, party: int) -> bool:
        return self.state is not None and self.state.holder_id == party


def partner_view(rows: Iterable[Any], party: int) -> PartnerView:
    """Replay one unit's events (rows with `id`, `type`, `role`, `party_id`, `location_id` and
    `parent_unit_id`) to find what the party may see of it:

    - its making: every event before the unit first went to any party (commissioning, tests,
      assembly, our stock) — the product as it left us;
    - every event while the party held the unit, from the one that gave it the unit to the one
      that took it away (both included);
    - any other event that names the party.

    Nothing of the unit's time with another party, and none of our events after the unit first
    left us and before it came to this party. Replayed with the ledger's own rules (as
    `unitrace ledger verify` does), in the order the events were recorded.
    """
    seen: set[int] = set()
    state: UnitState | None = None
    shown: UnitState | None = None
    left_us = False
    for row in sorted(rows, key=lambda r: r.id):
        before = state
        try:
            state = apply(
                state, row.type, Role(row.role), row.location_id, row.party_id, row.parent_unit_id
            )
        except ValueError:  # a ledger that `ledger verify` would flag: show nothing new of it
            continue
        held_before = before is not None and before.holder_id == party
        making = not left_us and state.holder_id is None
        left_us = left_us or state.holder_id is not None
        if making or held_before or state.holder_id == party or row.party_id == party:
            seen.add(row.id)
            shown = state
    return PartnerView(frozenset(seen), shown)


_EVENTS_OF = (
    select(
        event_units.c.unit_id,
        events.c.id,
        events.c.type,
        event_units.c.role,
        events.c.party_id,
        events.c.location_id,
        events.c.parent_unit_id,
    )
    .join(events, events.c.id == event_units.c.event_id)
    .where(event_units.c.unit_id.in_(bindparam("ids", expanding=True)))
)


def partner_views(
    conn: Connection, actor: Actor, unit_ids: Iterable[int]
) -> dict[int, PartnerView]:
    """`partner_view` of many units (their events read through the event_units key)."""
    party = party_of(actor)
    by_unit: dict[int, list[Any]] = {}
    ids = list(dict.fromkeys(unit_ids))
    for chunk in chunks(ids):
        for row in conn.execute(_EVENTS_OF, {"ids": list(chunk)}):
            by_unit.setdefault(row.unit_id, []).append(row)
    return {unit: partner_view(by_unit.get(unit, []), party) for unit in ids}


def party_of(actor: Actor) -> int:
    """The party a partner acts for (-1, no party at all, for a partner without one)."""
    return actor.party_id if actor.party_id is not None else -1
