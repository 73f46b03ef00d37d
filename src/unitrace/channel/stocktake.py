"""Stocktake: open a count for locations (the expected units are frozen then), scan from any
number of scanners at once (a serial counts once; a unique constraint, not a check, decides),
close it for the report — missing, unexpected, misplaced — and approve the adjustments, which
are ordinary ledger events. A unit missing in this and the previous count of the same locations
is flagged as possible loss."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from unitrace.access import audit
from unitrace.access.principal import Actor
from unitrace.catalog.service import location_id
from unitrace.core.errors import Conflict, FieldError, NotFound, invalid
from unitrace.core.lifecycle import Status, rule_for
from unitrace.db.engine import Database
from unitrace.db.tables import (
    locations,
    products,
    stocktake_expected,
    stocktake_scans,
    stocktakes,
    units,
)
from unitrace.ledger.bulk import bulk_insert
from unitrace.ledger.pipeline import record_in
from unitrace.ledger.scanned import check_unit, read_scan
from unitrace.ledger.schemas import EventIn, UnitRef


def _count(conn: Any, code: str) -> Any:
    row = conn.execute(select(stocktakes).where(stocktakes.c.code == code)).first()
    if row is None:
        raise NotFound(f"no stocktake {code!r}", [FieldError("code", "unknown", code)])
    return row


def _counter(actor: Actor) -> None:
    """Counting our stock is staff work: it shows what lies where (partners count their own
    units with `count` events instead)."""
    actor.require("catalog.read")
    actor.require("event:count")


def open_count(db: Database, actor: Actor, code: str, where: list[str]) -> dict[str, Any]:
    _counter(actor)
    if not where:
        raise invalid("locations", "name at least one location")
    now = datetime.now(UTC)
    with db.write() as conn:
        if conn.execute(select(stocktakes.c.id).where(stocktakes.c.code == code)).first():
            raise Conflict(
                f"stocktake {code!r} exists", [FieldError("code", "already exists", code)]
            )
        ids = [location_id(conn, w, f"locations.{i}") for i, w in enumerate(where)]
        count_id = conn.execute(
            insert(stocktakes)
            .values(
                code=code,
                status="open",
                location_ids=ids,
                opened_at=now,
                opened_by=actor.username,
            )
            .returning(stocktakes.c.id)
        ).scalar_one()
        expected = conn.execute(
            select(units.c.id, units.c.location_id).where(
                units.c.location_id.in_(ids), units.c.status == int(Status.IN_STOCK)
            )
        ).all()
        bulk_insert(
            conn,
            stocktake_expected,
            ("unit_id", "location_id"),
            ((int(u), int(loc)) for u, loc in expected),
            constants={"stocktake_id": count_id},
        )
        summary = {"locations": where, "expected": len(expected)}
        audit.append(conn, actor, "create", "stocktake", code, None, summary)
    return {"code": code, "locations": where, "expected": len(expected)}


def scan(db: Database, actor: Actor, code: str, serial: str, where: str) -> dict[str, Any]:
    """One scan at one location; a serial scanned again (by any scanner) counts once."""
    _counter(actor)
    serial = serial.strip()
    if not serial:
        raise invalid("serial", "nothing was scanned")
    try:
        with db.write() as conn:
            count = _count(conn, code)
            if count.status != "open":
                raise invalid("code", f"stocktake {code} is {count.status}", code)
            place = location_id(conn, where)
            if place not in count.location_ids:
                raise invalid("location", f"{where} is not counted in {code}", where)
            scan = read_scan(conn, serial)  # a GS1 code: its product's unit, lot checked
            serial = scan.serial
            query = select(units.c.id).where(units.c.serial == serial)
            if scan.product is not None:
                query = query.join(products, products.c.id == units.c.product_id).where(
                    products.c.code == scan.product
                )
            unit = conn.execute(query).first()
            if unit is not None:
                check_unit(conn, scan, unit.id)
            row = {
                "stocktake_id": count.id,
                "serial": serial,
                "unit_id": unit.id if unit else None,
                "location_id": place,
                "scanned_at": datetime.now(UTC),
                "scanned_by": actor.username,
            }
            conn.execute(insert(stocktake_scans).values(**row))
    except IntegrityError:
        return {"serial": serial, "counted": False, "reason": "already scanned in this count"}
    return {"serial": serial, "counted": True, "known": unit is not None}


def close_count(db: Database, actor: Actor, code: str) -> dict[str, Any]:
    """Close the count and keep its report."""
    _counter(actor)
    with db.write() as conn:
        count = _count(conn, code)
        if count.status != "open":
            raise invalid("code", f"stocktake {code} is {count.status}", code)
        report = _report(conn, count)
        conn.execute(
            update(stocktakes)
            .where(stocktakes.c.id == count.id)
            .values(status="closed", closed_at=datetime.now(UTC), report=report)
        )
        after = {"status": "closed", **{k: len(v) for k, v in report.items()}}
        audit.append(conn, actor, "update", "stocktake", code, {"status": "open"}, after)
    return {"code": code, **report}


def _report(conn: Any, count: Any) -> dict[str, list[dict[str, Any]]]:
    place = {int(i): c for i, c in conn.execute(select(locations.c.id, locations.c.code))}
    planned, scanned = stocktake_expected.c, stocktake_scans.c
    query = select(planned.unit_id, planned.location_id).where(planned.stocktake_id == count.id)
    expected = {int(u): int(loc) for u, loc in conn.execute(query)}
    query = select(scanned.serial, scanned.unit_id, scanned.location_id)
    scans = conn.execute(query.where(scanned.stocktake_id == count.id)).all()
    serials = select(units.c.id, units.c.serial).where(units.c.id.in_(list(expected)))
    serial_of = dict(conn.execute(serials).all())
    known = list(expected) + [s.unit_id for s in scans if s.unit_id]
    query = (
        select(units.c.id, products.c.code)
        .join(products, products.c.id == units.c.product_id)
        .where(units.c.id.in_(known))
    )
    product_of = dict(conn.execute(query).all())
    seen = {int(s.unit_id) for s in scans if s.unit_id is not None}
    missing = [
        {"serial": serial_of[u], "product": product_of[u], "expected_at": place[loc]}
        for u, loc in sorted(expected.items())
        if u not in seen
    ]
    unexpected, misplaced = [], []
    for s in scans:
        if s.unit_id is None or int(s.unit_id) not in expected:
            unexpected.append(
                {
                    "serial": s.serial,
                    "product": product_of.get(s.unit_id),
                    "scanned_at": place[s.location_id],
                    "known": s.unit_id is not None,
                }
            )
        elif expected[int(s.unit_id)] != s.location_id:
            misplaced.append(
                {
                    "serial": s.serial,
                    "product": product_of[s.unit_id],
                    "expected_at": place[expected[int(s.unit_id)]],
                    "scanned_at": place[s.location_id],
                }
            )
    earlier = conn.execute(
        select(stocktakes.c.location_ids, stocktakes.c.report)
        .where(stocktakes.c.id < count.id, stocktakes.c.closed_at.is_not(None))
        .order_by(stocktakes.c.id.desc())
    ).all()
    places = sorted(count.location_ids)
    previous = next((r.report for r in earlier if sorted(r.location_ids) == places), None)
    before = {m["serial"] for m in (previous or {}).get("missing", [])}
    for m in missing:
        m["possible_loss"] = m["serial"] in before
    return {"missing": missing, "unexpected": unexpected, "misplaced": misplaced}


def approve(db: Database, actor: Actor, code: str) -> dict[str, Any]:
    """Adjust the ledger to the count, as ordinary events: misplaced and known unexpected
    units are moved where they were found; missing ones get a `count` event saying so."""
    actor.require("catalog.write")  # adjustments change stock figures: a manager approves
    with db.write() as conn:
        count = _count(conn, code)
        if count.status != "closed":
            raise invalid("code", f"stocktake {code} is {count.status}; close it first", code)
        report = count.report
        moves: dict[str, list[UnitRef]] = {}
        for item in report["misplaced"] + [u for u in report["unexpected"] if u["known"]]:
            moves.setdefault(item["scanned_at"], []).append(
                UnitRef(serial=item["serial"], product=item["product"])
            )
        written = 0
        for where, found in moves.items():
            movable = [u for u in found if _movable(conn, u)]
            if movable:
                event = EventIn(
                    type="move", units=movable, location=where, data={"stocktake": code}
                )
                record_in(conn, actor, event)
                written += len(movable)
        if report["missing"]:
            gone = [UnitRef(serial=m["serial"], product=m["product"]) for m in report["missing"]]
            event = EventIn(type="count", units=gone, data={"stocktake": code, "result": "missing"})
            record_in(conn, actor, event)
        conn.execute(
            update(stocktakes).where(stocktakes.c.id == count.id).values(status="adjusted")
        )
        after = {"status": "adjusted", "moved": written, "missing": len(report["missing"])}
        audit.append(conn, actor, "update", "stocktake", code, {"status": "closed"}, after)
    return {"code": code, "moved": written, "missing": len(report["missing"])}


def _movable(conn: Any, ref: UnitRef) -> bool:
    """Whether the lifecycle allows moving the unit (the rule lives in core.lifecycle)."""
    row = conn.execute(
        select(units.c.status)
        .join(products, products.c.id == units.c.product_id)
        .where(units.c.serial == ref.serial, products.c.code == ref.product)
    ).first()
    return row is not None and rule_for("move").allows(Status(row.status))


def get_count(db: Database, actor: Actor, code: str) -> dict[str, Any]:
    actor.require("catalog.read")
    with db.read() as conn:
        count = _count(conn, code)
        scanned = conn.execute(
            select(func.count()).where(stocktake_scans.c.stocktake_id == count.id)
        ).scalar_one()
        expected = conn.execute(
            select(func.count()).where(stocktake_expected.c.stocktake_id == count.id)
        ).scalar_one()
    return {
        "code": count.code,
        "status": count.status,
        "expected": expected,
        "scanned": scanned,
        "opened_at": count.opened_at.isoformat(),
        "report": count.report,
    }
