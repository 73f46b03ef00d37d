"""A unit's component tree as it is now (any depth), with lots, suppliers, what capabilities add
to each node (the lot-tracked parts each assembly consumed, `ledger.reads`), and the parts taken
out earlier — one recursive query down the projection's `parent_id`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, literal, or_, select

from unitrace.core.lifecycle import Role, Status
from unitrace.db.tables import event_units, events, lots, parties, products, units
from unitrace.ledger import reads


def tree_query(root_id: int) -> Any:
    """The unit and everything below it, with depth, lot and supplier (recursive, indexed on
    units.parent_id)."""
    start = select(units.c.id, literal(0).label("depth")).where(units.c.id == root_id)
    down = start.cte("down", recursive=True)
    below = down.alias("d")
    down = down.union_all(
        select(units.c.id, below.c.depth + 1).where(units.c.parent_id == below.c.id)
    )
    supplier = parties.alias("supplier")
    return (
        select(
            units.c.id,
            units.c.parent_id,
            units.c.serial,
            units.c.status,
            products.c.code.label("product"),
            products.c.name.label("product_name"),
            lots.c.number.label("lot"),
            supplier.c.code.label("supplier"),
            down.c.depth,
        )
        .join(units, units.c.id == down.c.id)
        .join(products, products.c.id == units.c.product_id)
        .outerjoin(lots, lots.c.id == units.c.lot_id)
        .outerjoin(supplier, supplier.c.id == lots.c.supplier_id)
        .order_by(down.c.depth, units.c.id)
    )


def tree(conn: Connection, root_id: int, partner: bool = False) -> dict[str, Any]:
    """The tree below a unit; each node with what the capabilities add (`reads.node_parts`,
    e.g. the lots an assembly consumed; a partner sees less of them)."""
    rows = conn.execute(tree_query(root_id)).all()
    ids = [r.id for r in rows]
    parts = {p.key: p.read(conn, ids, partner) for p in reads.node_parts()}
    removed = _removed_history(conn, ids)
    nodes: dict[int, dict[str, Any]] = {}
    for r in rows:
        nodes[r.id] = {
            "serial": r.serial,
            "product": r.product,
            "product_name": r.product_name,
            "status": Status(r.status).label,
            "lot": r.lot,
            "supplier": r.supplier,
            "depth": r.depth,
            **{key: found.get(r.id, []) for key, found in parts.items()},
            "removed": removed.get(r.id, []),
            "components": [],
        }
        if r.depth and r.parent_id in nodes:
            nodes[r.parent_id]["components"].append(nodes[r.id])
    return nodes[root_id]


def _removed_history(conn: Connection, ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Parts that were in these units once and were taken out (disassemble, replace_part)."""
    out: dict[int, list[dict[str, Any]]] = {}
    taken_out = or_(
        and_(events.c.type == "replace_part", event_units.c.role == int(Role.REMOVED)),
        and_(events.c.type == "disassemble", event_units.c.role == int(Role.SUBJECT)),
    )
    for chunk in _chunks(ids):
        for r in conn.execute(
            select(
                events.c.parent_unit_id,
                units.c.serial,
                products.c.code,
                events.c.type,
                events.c.event_time,
            )
            .join(event_units, event_units.c.event_id == events.c.id)
            .join(units, units.c.id == event_units.c.unit_id)
            .join(products, products.c.id == units.c.product_id)
            .where(events.c.parent_unit_id.in_(chunk), taken_out)
            .order_by(events.c.id)
        ):
            out.setdefault(r[0], []).append(
                {"serial": r[1], "product": r[2], "by": r[3], "at": r[4].isoformat()}
            )
    return out


def _chunks(ids: Sequence[int], size: int = 5000) -> list[list[int]]:
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]
