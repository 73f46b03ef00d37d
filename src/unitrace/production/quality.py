"""Quality figures from the step results: first-pass yield and failure rate by product, lot,
station, operator, equipment, supplier or component lot over a period, and a Pareto of defect
codes. Exports as CSV or XLSX.

Definitions (docs/production.md): a *record* is one step result of one unit; *first attempts*
are the records with attempt 1 (a unit's first try at a step); first-pass yield = first attempts
passed / first attempts; failure rate = failed records / records.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, case, cast, func, select, union

from unitrace.access.principal import Actor
from unitrace.core.errors import invalid
from unitrace.db.engine import Database
from unitrace.db.tables import (
    events,
    locations,
    lot_uses,
    lots,
    parties,
    products,
    unit_steps,
    units,
)
from unitrace.interop import exports

DIMENSIONS = (
    "product",
    "lot",
    "station",
    "operator",
    "equipment",
    "supplier",
    "component_lot",
    "step",
)
COLUMNS = ("key", "records", "failures", "failure_rate", "first_attempts", "first_pass", "fpy")


def _key_and_joins(by: str) -> tuple[Any, Any]:
    """The grouping column for a dimension and the FROM clause that provides it."""
    base = unit_steps.join(units, units.c.id == unit_steps.c.unit_id).join(
        events, events.c.id == unit_steps.c.event_id
    )
    if by == "product":
        return products.c.code, base.join(products, products.c.id == unit_steps.c.product_id)
    if by == "step":
        return unit_steps.c.step, base
    if by in ("operator", "equipment"):
        return getattr(events.c, by), base
    if by == "station":
        return locations.c.code, base.join(locations, locations.c.id == events.c.location_id)
    unit_lot = base.join(lots, lots.c.id == units.c.lot_id)
    if by == "lot":
        return lots.c.number, unit_lot
    if by == "supplier":
        return parties.c.code, unit_lot.join(parties, parties.c.id == lots.c.supplier_id)
    # component lot: lots of the serialised parts in the unit, and lots the unit consumed
    child = units.alias("child")
    parts = union(
        select(child.c.parent_id.label("unit_id"), child.c.lot_id.label("lot_id")).where(
            child.c.parent_id.is_not(None), child.c.lot_id.is_not(None)
        ),
        select(lot_uses.c.unit_id, lot_uses.c.lot_id),
    ).subquery("parts")
    part_lot = lots.alias("part_lot")
    return part_lot.c.number, base.join(parts, parts.c.unit_id == unit_steps.c.unit_id).join(
        part_lot, part_lot.c.id == parts.c.lot_id
    )


def yield_report(
    db: Database,
    actor: Actor,
    by: str = "product",
    *,
    product: str | None = None,
    step: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    actor.require("trace")
    if by not in DIMENSIONS:
        raise invalid("by", f"one of {', '.join(DIMENSIONS)}", by)
    key, source = _key_and_joins(by)
    failed = cast(case((unit_steps.c.passed, 0), else_=1), Integer)
    first = cast(case((unit_steps.c.attempt == 1, 1), else_=0), Integer)
    first_ok = cast(case(((unit_steps.c.attempt == 1) & unit_steps.c.passed, 1), else_=0), Integer)
    query = (
        select(
            key.label("key"),
            func.count().label("records"),
            func.sum(failed),
            func.sum(first),
            func.sum(first_ok),
        )
        .select_from(source)
        .group_by(key)
        .order_by(key)
    )
    if product:
        product_id = select(products.c.id).where(products.c.code == product).scalar_subquery()
        query = query.where(unit_steps.c.product_id == product_id)
    if step:
        query = query.where(unit_steps.c.step == step)
    if since:
        query = query.where(unit_steps.c.ended_at >= since)
    if until:
        query = query.where(unit_steps.c.ended_at < until)
    with db.read() as conn:
        rows = conn.execute(query).all()
    items = []
    for k, records, failures, firsts, first_pass in rows:
        failures, firsts, first_pass = int(failures or 0), int(firsts or 0), int(first_pass or 0)
        items.append(
            {
                "key": k,
                "records": int(records),
                "failures": failures,
                "failure_rate": round(failures / records, 4) if records else None,
                "first_attempts": firsts,
                "first_pass": first_pass,
                "fpy": round(first_pass / firsts, 4) if firsts else None,
            }
        )
    return {"by": by, "items": items}


def defect_pareto(
    db: Database,
    actor: Actor,
    *,
    product: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Defect codes of failed step results, most frequent first, with the cumulative share."""
    actor.require("trace")
    query = (
        select(unit_steps.c.defect_code, func.count().label("n"))
        .where(~unit_steps.c.passed)
        .group_by(unit_steps.c.defect_code)
        .order_by(func.count().desc(), unit_steps.c.defect_code)
    )
    if product:
        query = query.join(products, products.c.id == unit_steps.c.product_id).where(
            products.c.code == product
        )
    if since:
        query = query.where(unit_steps.c.ended_at >= since)
    if until:
        query = query.where(unit_steps.c.ended_at < until)
    with db.read() as conn:
        rows = conn.execute(query).all()
    total = sum(int(n) for _code, n in rows)
    running = 0
    items = []
    for code, n in rows:
        running += int(n)
        items.append(
            {
                "defect_code": code or "(none)",
                "count": int(n),
                "cumulative": round(running / total, 4),
            }
        )
    return {"total": total, "items": items}


def to_csv(
    columns: tuple[str, ...], items: list[dict[str, Any]], headers: list[str] | None = None
) -> str:
    """The items as CSV text (no byte order mark: the caller writes the file with one); the
    header line is `headers` (the pages' words) or the column keys (`interop.exports`)."""
    return b"".join(exports.stream_csv(items, columns, headers, bom=False)).decode("utf-8")


def to_xlsx(
    title: str,
    columns: tuple[str, ...],
    items: list[dict[str, Any]],
    headers: list[str] | None = None,
) -> bytes:
    """The items as an .xlsx workbook (`interop.exports`)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "table.xlsx"
        exports.write_xlsx(items, columns, path, title, headers)
        return path.read_bytes()
