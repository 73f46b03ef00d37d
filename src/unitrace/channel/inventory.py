"""Item-level inventory: units on hand counted from the ledger's projection (no second counter),
rolled up the location tree — a warehouse counts what its bins hold — and with recalled units
still counted where they physically are, flagged."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, case, func, or_, select

from unitrace.access.principal import Actor
from unitrace.core.errors import NotFound, invalid
from unitrace.core.lifecycle import Status
from unitrace.db.engine import Database
from unitrace.db.tables import locations, lots, products, units

INVENTORY_BY = {
    "product": products.c.code,
    "lot": lots.c.number,
    "location": locations.c.code,
    "status": units.c.status,
}
# On hand: in stock, or recalled while still in one of our locations (a recall changes no
# location: the unit is on the shelf, held back). Installed, shipped and scrapped units are not.
ON_HAND: ColumnElement[bool] = and_(
    units.c.status.in_([int(Status.IN_STOCK), int(Status.RECALLED)]),
    or_(units.c.status == int(Status.IN_STOCK), units.c.location_id.is_not(None)),
)
# every product: lets the planner walk `ix_units_product_status` (product, status) for the
# statuses asked, instead of reading every unit ever made
EVERY_PRODUCT = units.c.product_id.in_(select(products.c.id).scalar_subquery())


@dataclass(frozen=True)
class Place:
    id: int
    code: str
    name: str
    kind: str
    parent_id: int | None


def location_tree(conn: Connection) -> dict[int, Place]:
    rows = conn.execute(
        select(
            locations.c.id,
            locations.c.code,
            locations.c.name,
            locations.c.kind,
            locations.c.parent_id,
        )
    )
    return {r.id: Place(r.id, r.code, r.name, r.kind, r.parent_id) for r in rows}


def ancestors(tree: dict[int, Place], place: int) -> list[int]:
    """`place` and the locations above it, nearest first (a cycle in bad data stops the walk)."""
    chain: list[int] = []
    at: int | None = place
    while at is not None and at in tree and at not in chain:
        chain.append(at)
        at = tree[at].parent_id
    return chain


def subtree(tree: dict[int, Place], root: int) -> set[int]:
    return {place for place in tree if root in ancestors(tree, place)}


def inventory_query(
    by: list[str], status: str | None, places: set[int] | None, product: str | None = None
) -> Select[Any]:
    """Own counts per group (and per location id when rolling up). Products and lots are
    joined only when counted by: a count of the whole stock reads the units once, a product's
    stock goes by `ix_units_product_status`, a location's by `ix_units_location`."""
    columns = [INVENTORY_BY[b].label(b) for b in by if b != "location"]
    if "location" in by:
        columns.append(units.c.location_id.label("location_id"))
    recalled = func.sum(case((units.c.status == int(Status.RECALLED), 1), else_=0))
    source: Any = units
    if "product" in by:
        source = source.join(products, products.c.id == units.c.product_id)
    if "lot" in by:
        source = source.outerjoin(lots, lots.c.id == units.c.lot_id)
    query = (
        select(*columns, func.count().label("units"), recalled.label("recalled"))
        .select_from(source)
        .group_by(*columns)
    )
    if status:
        try:
            query = query.where(units.c.status == int(Status.from_label(status)))
        except ValueError as error:
            raise invalid("status", str(error), status) from None
    else:
        query = query.where(ON_HAND)
    if places is not None:
        query = query.where(units.c.location_id.in_(sorted(places)))
    if product:
        wanted = select(products.c.id).where(products.c.code == product).scalar_subquery()
        query = query.where(units.c.product_id == wanted)
    elif places is None:
        query = query.where(EVERY_PRODUCT)
    return query


def inventory(
    db: Database,
    actor: Actor,
    by: list[str],
    *,
    product: str | None = None,
    location: str | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    """Units on hand counted by product, lot, location and/or status. `units` counts each
    group's own units, `recalled` how many of them are recalled (still on hand, held back).
    By location, every location above one with stock gets a row too, with `total` its own
    units and those of every location below it (a warehouse and its bins), `depth` its level
    in the tree and `parent` the location above it; `location=` counts that location and the
    ones below it. Without `status`: units on hand (in stock, and recalled ones in our
    locations); with it, units of that status only."""
    actor.require("catalog.read")
    unknown = [b for b in by if b not in INVENTORY_BY]
    if unknown or not by:
        raise invalid("by", f"one or more of {', '.join(INVENTORY_BY)}", ",".join(unknown))
    with db.read() as conn:
        tree = location_tree(conn)
        places = None
        if location:
            root = next((p.id for p in tree.values() if p.code == location), None)
            if root is None:
                raise NotFound(f"no location with code {location!r}")
            places = subtree(tree, root)
        query = inventory_query(by, status, places, product)
        rows = [dict(r._mapping) for r in conn.execute(query)]
    for row in rows:
        row["recalled"] = int(row["recalled"] or 0)
        if "status" in row:
            row["status"] = Status(row["status"]).label
    total = sum(r["units"] for r in rows)
    if "location" in by:
        items = _rolled_up(rows, by, tree, places)
    else:
        items = sorted(rows, key=lambda r: tuple(str(r[b] or "") for b in by))
    return {"by": by, "items": items, "total": total}


def _rolled_up(
    rows: list[dict[str, Any]], by: list[str], tree: dict[int, Place], places: set[int] | None
) -> list[dict[str, Any]]:
    """One row per (other groups, location) for every location with stock at or below it, in
    the tree's order (a parent before its children)."""
    others = [b for b in by if b != "location"]
    own: dict[tuple[Any, ...], dict[int | None, dict[str, int]]] = defaultdict(dict)
    rolled: dict[tuple[Any, ...], dict[int | None, dict[str, int]]] = defaultdict(dict)
    for row in rows:
        key = tuple(row[b] for b in others)
        place = row["location_id"]
        own[key][place] = {"units": row["units"], "recalled": row["recalled"]}
        chain: list[int | None] = [None] if place is None else list(ancestors(tree, place))
        for above in chain:
            if places is not None and above is not None and above not in places:
                break  # a filtered count rolls up to the location asked for, not beyond it
            sums = rolled[key].setdefault(above, {"units": 0, "recalled": 0})
            sums["units"] += row["units"]
            sums["recalled"] += row["recalled"]
    children: dict[int | None, list[int]] = defaultdict(list)
    for place in sorted(tree.values(), key=lambda p: p.code):
        parent = place.parent_id if place.parent_id in tree else None
        if places is not None and parent not in places:
            parent = None  # the location asked for is the top of its count
        children[parent].append(place.id)
    items: list[dict[str, Any]] = []

    def walk(key: tuple[Any, ...], place: int, depth: int) -> None:
        if places is not None and place not in places:
            return
        sums = rolled[key].get(place)
        if sums is None:
            return
        mine = own[key].get(place, {"units": 0, "recalled": 0})
        parent = tree[place].parent_id
        items.append(
            {
                **dict(zip(others, key, strict=True)),
                "location": tree[place].code,
                "location_name": tree[place].name,
                "kind": tree[place].kind,
                "parent": tree[parent].code if parent in tree and depth else None,
                "depth": depth,
                "units": mine["units"],
                "recalled": mine["recalled"],
                "total": sums["units"],
                "total_recalled": sums["recalled"],
            }
        )
        for child in children[place]:
            walk(key, child, depth + 1)

    for key in sorted(rolled, key=lambda k: tuple(str(v or "") for v in k)):
        for top in children[None]:
            walk(key, top, 0)
        if None in own[key]:  # units on hand without a location (only with a status asked)
            mine = own[key][None]
            items.append(
                {
                    **dict(zip(others, key, strict=True)),
                    "location": None,
                    "location_name": None,
                    "kind": None,
                    "parent": None,
                    "depth": 0,
                    **mine,
                    "total": mine["units"],
                    "total_recalled": mine["recalled"],
                }
            )
    return items
