"""Genealogy trace. Backward: a unit's whole component tree with lots and suppliers. Forward:
from a component serial, a lot, a supplier, or a station/equipment/operator in a time window, to
every finished (top-level) unit that holds it now, through any depth of nesting.

Both are one recursive SQL query over the projection (`units.parent_id`), so a part taken out
of a unit no longer makes that unit affected; the history of who held what stays in events.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    and_,
    bindparam,
    func,
    select,
    union,
)

from unitrace.access.principal import Actor
from unitrace.catalog.service import location_id, lot_id, party_id, product_row
from unitrace.core.errors import NotFound
from unitrace.core.lifecycle import Status
from unitrace.db.engine import Database
from unitrace.db.tables import (
    event_units,
    events,
    locations,
    lot_uses,
    lots,
    parties,
    products,
    units,
)
from unitrace.ledger.bulk import fetch_plain
from unitrace.ledger.genealogy import tree
from unitrace.ledger.queries import find_unit
from unitrace.production.schemas import TraceQuery

MAX_ITEMS = 100_000


# --- backward ---------------------------------------------------------------------------


def backward(db: Database, actor: Actor, serial: str, product: str | None = None) -> dict[str, Any]:
    """The component tree of a unit: every component at any depth with its lot and supplier,
    the lot-tracked parts each assembly consumed, and parts taken out earlier."""
    actor.require("trace")
    with db.read() as conn:
        root = find_unit(conn, actor, serial, product)
        return tree(conn, root.id)


# --- forward ----------------------------------------------------------------------------


_LOT_SEEDS = union(
    select(units.c.id).where(units.c.lot_id.in_(bindparam("lots", expanding=True))),
    select(lot_uses.c.unit_id.label("id")).where(
        lot_uses.c.lot_id.in_(bindparam("lots", expanding=True))
    ),
).subquery("lot_seeds")
_WINDOW = and_(events.c.event_time >= bindparam("since"), events.c.event_time < bindparam("until"))
_SEEDS: dict[str, Select[Any]] = {
    "serial": select(units.c.id).where(units.c.serial == bindparam("serial")),
    "serial+product": select(units.c.id).where(
        units.c.serial == bindparam("serial"), units.c.product_id == bindparam("product_id")
    ),
    "lots": select(_LOT_SEEDS.c.id),
    **{
        kind: select(event_units.c.unit_id.label("id"))
        .join(events, events.c.id == event_units.c.event_id)
        .where(column == bindparam("start"), _WINDOW)
        for kind, column in (
            ("station", events.c.location_id),
            ("equipment", events.c.equipment),
            ("operator", events.c.operator),
        )
    },
}


def seeds(conn: Connection, query: TraceQuery) -> tuple[str, dict[str, Any], str]:
    """Which seed statement a forward trace starts from, its parameters, and a description."""
    if query.serial:
        params: dict[str, Any] = {"serial": query.serial}
        kind = "serial"
        if query.product:
            params["product_id"] = product_row(conn, query.product).id
            kind = "serial+product"
        if conn.execute(_SEEDS[kind].limit(1), params).first() is None:
            raise NotFound(f"no unit with serial {query.serial!r}")
        return kind, params, f"serial {query.serial}"
    if query.lot:
        product = product_row(conn, query.product or "")
        lot_ids = [lot_id(conn, product.id, query.lot)]
        return "lots", {"lots": lot_ids}, f"lot {query.product}/{query.lot}"
    if query.supplier:
        supplier = party_id(conn, query.supplier, "supplier")
        supplied = select(lots.c.id).where(lots.c.supplier_id == supplier)
        lot_ids = list(conn.execute(supplied).scalars())
        return "lots", {"lots": lot_ids}, f"supplier {query.supplier}"
    window = {"since": query.since, "until": query.until}
    if query.station:
        start: Any = location_id(conn, query.station, "station")
        kind, label = "station", f"station {query.station}"
    elif query.equipment:
        start, kind, label = query.equipment, "equipment", f"equipment {query.equipment}"
    else:
        start, kind, label = query.operator, "operator", f"operator {query.operator}"
    return kind, {"start": start, **window}, f"{label} from {query.since} until {query.until}"


def affected_query(seed: Select[Any]) -> Select[Any]:
    """Top-level units holding any of the seed units (a seed not installed is its own top)."""
    start = seed.cte("seeds")
    up = select(start.c.id).cte("up", recursive=True)
    level = up.alias("level")
    up = up.union(
        select(units.c.parent_id).where(units.c.id == level.c.id, units.c.parent_id.is_not(None))
    )
    holder = parties.alias("holder")
    sold_at = (
        select(func.max(events.c.event_time))
        .join(event_units, event_units.c.event_id == events.c.id)
        .where(event_units.c.unit_id == units.c.id, events.c.type == "sell")
        .scalar_subquery()
    )
    return (
        select(
            units.c.id,
            units.c.serial,
            products.c.code.label("product"),
            units.c.status,
            units.c.holder_id,
            locations.c.code.label("location"),
            holder.c.code.label("holder"),
            holder.c.name.label("holder_name"),
            holder.c.kind.label("holder_kind"),
            func.coalesce(holder.c.region, locations.c.region).label("region"),
            sold_at.label("sold_at"),
        )
        .select_from(up)
        .join(units, units.c.id == up.c.id)
        .join(products, products.c.id == units.c.product_id)
        .outerjoin(locations, locations.c.id == units.c.location_id)
        .outerjoin(holder, holder.c.id == units.c.holder_id)
        .where(units.c.parent_id.is_(None))
        .order_by(units.c.id)
    )


# built once: the statements (and their compiled forms) are reused by every trace
_AFFECTED = {kind: affected_query(seed) for kind, seed in _SEEDS.items()}


def affected_rows(conn: Connection, query: TraceQuery) -> tuple[list[Any], str]:
    """Rows of the affected units (id, serial, product, status, holder id, location, holder,
    holder name, holder kind, region, sold at)."""
    kind, params, label = seeds(conn, query)
    if kind == "lots" and not params["lots"]:
        return [], label
    if kind == "lots":  # big results; integer parameters only
        return fetch_plain(conn, _AFFECTED[kind].params(**params)), label
    return list(conn.execute(_AFFECTED[kind], params).all()), label


_LABELS = {int(s): s.label for s in Status}


def _iso(value: Any) -> str | None:
    """A timestamp from either path: a datetime, or SQLite's stored UTC text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.replace(" ", "T") + "+00:00"
    return str(value.astimezone(UTC).isoformat())


def public_row(row: Any) -> dict[str, Any]:
    _id, serial, product, status, _holder_id, location, holder, name, kind, region, sold = row
    return {
        "serial": serial,
        "product": product,
        "status": _LABELS[status],
        "location": location,
        "holder": holder,
        "holder_name": name,
        "holder_kind": kind,
        "region": region,
        "sold_at": _iso(sold),
    }


def forward(
    db: Database, actor: Actor, query: TraceQuery, limit: int = 1000, offset: int = 0
) -> dict[str, Any]:
    """Every finished unit affected, with totals by status, region and holder."""
    actor.require("trace")
    with db.read() as conn:
        rows, label = affected_rows(conn, query)
    statuses: Counter[str] = Counter()
    regions: Counter[str] = Counter()
    holders: Counter[str] = Counter()
    for row in rows:  # one pass, by position (attribute access costs per row)
        statuses[_LABELS[row[3]]] += 1
        regions[row[9] or ""] += 1
        holders[row[6] or ""] += 1
    return {
        "start": label,
        "total": len(rows),
        "by_status": dict(statuses.most_common()),
        "by_region": dict(regions.most_common()),
        "by_holder": dict(holders.most_common()),
        "items": [public_row(r) for r in rows[offset : offset + min(limit, MAX_ITEMS)]],
    }


def affected(db: Database, actor: Actor, query: TraceQuery) -> Iterator[dict[str, Any]]:
    """Every finished unit affected, each as `forward` lists it, one at a time for a download
    (`interop.exports`): the same rows as `forward`'s items in the same order, without its
    cap of MAX_ITEMS. The trace is computed (and the permission checked) now."""
    actor.require("trace")
    with db.read() as conn:
        rows, _label = affected_rows(conn, query)
    return (public_row(r) for r in rows)
