"""Production master data use cases: a product's bill of materials and its route of steps."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from unitrace.access import audit
from unitrace.access.principal import Actor
from unitrace.catalog.service import product_row
from unitrace.core.errors import ValidationError, invalid, twice_in
from unitrace.db.engine import Database
from unitrace.db.tables import bom_lines, products, route_steps
from unitrace.ledger.queries import find_unit
from unitrace.production import rules
from unitrace.production.schemas import BomIn, RouteIn


def _bom_public(conn: Connection, product: Any) -> dict[str, Any]:
    rows = conn.execute(
        select(
            products.c.code,
            products.c.name,
            products.c.tracking,
            bom_lines.c.quantity,
            bom_lines.c.required,
        )
        .join(products, products.c.id == bom_lines.c.component_id)
        .where(bom_lines.c.product_id == product.id)
        .order_by(products.c.code)
    ).all()
    return {
        "product": product.code,
        "policy": product.bom_policy,
        "lines": [
            {
                "component": r.code,
                "name": r.name,
                "tracking": r.tracking,
                "quantity": r.quantity,
                "required": bool(r.required),
            }
            for r in rows
        ],
    }


def get_bom(db: Database, actor: Actor, code: str) -> dict[str, Any]:
    actor.require("read")
    with db.read() as conn:
        return _bom_public(conn, product_row(conn, code))


def set_bom(db: Database, actor: Actor, code: str, data: BomIn) -> dict[str, Any]:
    actor.require("catalog.write")
    with db.write() as conn:
        product = product_row(conn, code)
        before = _bom_public(conn, product)
        rows = []
        seen: set[str] = set()
        for i, line in enumerate(data.lines):
            if line.component in seen:
                raise invalid(f"lines.{i}.component", "named twice", line.component)
            seen.add(line.component)
            component = product_row(conn, line.component, f"lines.{i}.component")
            if component.id == product.id:
                raise invalid(
                    f"lines.{i}.component", "a product cannot contain itself", line.component
                )
            if component.tracking == "none":
                raise invalid(
                    f"lines.{i}.component", "is not tracked by serial or lot", line.component
                )
            rows.append(
                {
                    "product_id": product.id,
                    "component_id": component.id,
                    "quantity": line.quantity,
                    "required": line.required,
                }
            )
        conn.execute(delete(bom_lines).where(bom_lines.c.product_id == product.id))
        if rows:
            conn.execute(insert(bom_lines), rows)
        conn.execute(
            update(products).where(products.c.id == product.id).values(bom_policy=data.policy)
        )
        after = _bom_public(conn, product_row(conn, code))
        audit.append(conn, actor, "update", "bom", code, before, after)
    return after


def _route_public(conn: Connection, product: Any) -> dict[str, Any]:
    rows = conn.execute(
        select(route_steps)
        .where(route_steps.c.product_id == product.id)
        .order_by(route_steps.c.position)
    ).all()
    return {
        "product": product.code,
        "steps": [{"code": r.code, "name": r.name, "required": bool(r.required)} for r in rows],
    }


def get_route(db: Database, actor: Actor, code: str) -> dict[str, Any]:
    actor.require("read")
    with db.read() as conn:
        return _route_public(conn, product_row(conn, code))


def set_route(db: Database, actor: Actor, code: str, data: RouteIn) -> dict[str, Any]:
    actor.require("catalog.write")
    codes = [s.code for s in data.steps]
    twice = twice_in((f"steps.{i}.code", c, c) for i, c in enumerate(codes))
    if twice:
        raise ValidationError("a step is named twice", twice)
    with db.write() as conn:
        product = product_row(conn, code)
        before = _route_public(conn, product)
        conn.execute(delete(route_steps).where(route_steps.c.product_id == product.id))
        rows = [
            {
                "product_id": product.id,
                "code": s.code,
                "position": i + 1,
                "name": s.name,
                "required": s.required,
            }
            for i, s in enumerate(data.steps)
        ]
        if rows:
            conn.execute(insert(route_steps), rows)
        after = _route_public(conn, product)
        audit.append(conn, actor, "update", "route", code, before, after)
    return after


def bom_fill(db: Database, actor: Actor, serial: str, product: str | None) -> dict[str, Any]:
    """An assembly's BOM next to what is in it now (serialised parts and consumed lots), counted
    the way the assembly check counts (`rules.installed`)."""
    actor.require("read")
    with db.read() as conn:
        unit = find_unit(conn, actor, serial, product)
        parent = product_row_by_id(conn, unit.product_id)
        bom = _bom_public(conn, parent)
        have = rules.installed(conn, [unit.id]).get(unit.id, Counter())
        named = select(products.c.id, products.c.code).where(products.c.id.in_(list(have)))
        codes = dict(conn.execute(named).all())
    counted = {codes[pid]: n for pid, n in have.items() if n > 0}
    lines = [{**line, "have": counted.get(line["component"], 0)} for line in bom["lines"]]
    extra = sorted(set(counted) - {line["component"] for line in bom["lines"]})
    return {
        "serial": unit.serial,
        "product": parent.code,
        "product_name": parent.name,
        "bom": bom,
        "lines": lines,
        "extra": [(p, counted[p]) for p in extra],
    }


def product_row_by_id(conn: Connection, product_id: int) -> Any:
    return conn.execute(select(products).where(products.c.id == product_id)).one()
