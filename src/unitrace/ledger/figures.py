"""The ledger's figures for the home page and the demo's summary, each defined once: units by
status (a component installed in a unit is part of that unit, not a unit of its own), units
sold, today's output, shipments of a period, and the latest events with a serial to open.

Every count is one set-based statement on an index (`ix_events_type_time`,
`ix_units_product_status`), so the home page stays fast on a large ledger.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select

from unitrace.access.principal import SYSTEM, Actor
from unitrace.core.lifecycle import Role, Status
from unitrace.db.engine import Database
from unitrace.db.tables import event_units, events, products, units
from unitrace.ledger import queries
from unitrace.ledger.scope import party_of, unit_condition

# a component installed in a unit travels, sells and is counted with it
PART_OF_A_UNIT = Status.INSTALLED.label


def unit_statuses(db: Database, actor: Actor) -> dict[str, Any]:
    """Units by status as the actor sees them (a partner: its own, former ones as they left
    it), without installed components; `installed`: how many components are in units."""
    actor.require("read")
    counts: dict[str, int] = {}
    if actor.is_partner:  # former units as they left it: the overview replays them
        counts.update(queries.overview(db, actor, latest=0)["statuses"])
    else:
        # grouped as the covering index `ix_units_product_status` is ordered: no sort
        by_status = select(units.c.status, func.count()).group_by(
            units.c.product_id, units.c.status
        )
        with db.read() as conn:
            for status, n in conn.execute(by_status):
                counts[Status(status).label] = counts.get(Status(status).label, 0) + n
    installed = counts.pop(PART_OF_A_UNIT, 0)
    ordered = [(s.label, counts.get(s.label, 0)) for s in Status if s.label != PART_OF_A_UNIT]
    return {"statuses": ordered, "total": sum(counts.values()), "installed": installed}


def units_by_product(db: Database, actor: Actor) -> list[dict[str, Any]]:
    """Units per product, installed components left out (they are counted in their unit)."""
    actor.require("read")
    query = (
        select(products.c.code, products.c.name, func.count().label("units"))
        .join(units, units.c.product_id == products.c.id)
        .where(units.c.status != int(Status.INSTALLED))
        .group_by(products.c.code, products.c.name)
        .order_by(products.c.code)
    )
    scope = unit_condition(actor)
    if scope is not None:
        query = query.where(scope)
    with db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def _events_of(actor: Actor, kind: str, since: datetime | None) -> ColumnElement[bool]:
    condition = events.c.type == kind
    if since is not None:
        condition = condition & (events.c.event_time >= since)
    if actor.is_partner:
        condition = condition & (events.c.party_id == party_of(actor))
    return condition


def units_in_events(db: Database, actor: Actor, kind: str, since: datetime | None = None) -> int:
    """Units named by `kind` events (since a moment): `sell` gives the units sold — each sale
    once, a unit sold, returned and sold again twice. A partner: its units in such events."""
    actor.require("read")
    query = select(func.coalesce(func.sum(events.c.unit_count), 0)).where(
        _events_of(SYSTEM, kind, since)
    )
    if actor.is_partner:
        # its units in such events: those that name its party, and those of units it holds
        # (a sale recorded for the partner's unit by our staff names no party)
        party = party_of(actor)
        query = (
            select(func.count())
            .select_from(event_units)
            .join(events, events.c.id == event_units.c.event_id)
            .join(units, units.c.id == event_units.c.unit_id)
            .where(
                _events_of(SYSTEM, kind, since),
                event_units.c.role == int(Role.SUBJECT),
                or_(events.c.party_id == party, units.c.holder_id == party),
            )
        )
    with db.read() as conn:
        return int(conn.execute(query).scalar_one())


def events_count(db: Database, actor: Actor, kind: str, since: datetime | None = None) -> int:
    actor.require("read")
    query = select(func.count()).select_from(events).where(_events_of(actor, kind, since))
    with db.read() as conn:
        return int(conn.execute(query).scalar_one())


def day_start(zone: tzinfo, today: date | None = None) -> datetime:
    """Midnight of today (in `zone`) as a UTC moment."""
    day = today or datetime.now(zone).date()
    return datetime.combine(day, time(), zone).astimezone(UTC)


def week_start(zone: tzinfo, today: date | None = None) -> datetime:
    """Midnight of this week's Monday (in `zone`) as a UTC moment."""
    day = today or datetime.now(zone).date()
    return day_start(zone, day - timedelta(days=day.weekday()))


def output_since(db: Database, actor: Actor, since: datetime) -> list[dict[str, Any]]:
    """Units commissioned since `since`, per product (today's output)."""
    actor.require("read")
    if actor.is_partner:
        return []  # our production is not a partner's
    unit_product = (
        select(units.c.product_id)
        .join(event_units, event_units.c.unit_id == units.c.id)
        .where(event_units.c.event_id == events.c.id)
        .limit(1)
        .scalar_subquery()
    )
    per_event = (
        select(unit_product.label("product_id"), events.c.unit_count)
        .where(_events_of(actor, "commission", since))
        .subquery()
    )
    query = (
        select(products.c.code, products.c.name, func.sum(per_event.c.unit_count).label("units"))
        .join(per_event, per_event.c.product_id == products.c.id)
        .group_by(products.c.code, products.c.name)
        .order_by(products.c.code)
    )
    with db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def latest_events(db: Database, actor: Actor, limit: int = 10) -> list[dict[str, Any]]:
    """The latest events with their first unit (serial and product) to open; a partner: those
    that name its party."""
    actor.require("read")
    first = (
        select(func.min(event_units.c.unit_id))
        .where(event_units.c.event_id == events.c.id, event_units.c.role == int(Role.SUBJECT))
        .scalar_subquery()
    )
    recent = select(
        events.c.id,
        events.c.type,
        events.c.event_time,
        events.c.event_tz,
        events.c.unit_count,
        first.label("unit_id"),
    ).order_by(events.c.id.desc())
    if actor.is_partner:
        recent = recent.where(events.c.party_id == party_of(actor))
    listed = recent.limit(limit).subquery()
    query = (
        select(listed, units.c.serial, products.c.code.label("product"))
        .outerjoin(units, units.c.id == listed.c.unit_id)
        .outerjoin(products, products.c.id == units.c.product_id)
        .order_by(listed.c.id.desc())
    )
    with db.read() as conn:
        return [
            {
                "type": r.type,
                "event_time": queries.local_time(r.event_time, r.event_tz),
                "unit_count": r.unit_count,
                "serial": r.serial,
                "product": r.product,
            }
            for r in conn.execute(query)
        ]
