"""A unit's warranty: from its product's policy and the unit's own events, never a typed date.

The policy (`products.warranty_months`, `warranty_start`, `warranty_fallback`,
`warranty_fallback_days`) names the event the warranty starts at — manufacture (commission),
shipment (the first ship), sale, activation — and what to use when the unit has none of it
("sale, else shipment + 90 days"). Extensions add months; a void ends it until lifted.

The verdict, everywhere a unit is shown:

    {"status": "in_warranty" | "expired" | "not_started" | "void" | "none",
     "start_date", "end_date", "policy": {...}, "started_by": {event} | None,
     "extensions": [...], "void": {...} | None}
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from unitrace.config import site_timezone
from unitrace.core.clock import as_moment
from unitrace.core.lifecycle import Role
from unitrace.db.tables import event_units, events, products, units, warranty_adjustments

STARTS: dict[str, str] = {  # the policy's start → the event type that starts it
    "manufacture": "commission",
    "shipment": "ship",
    "sale": "sell",
    "activation": "activate",
}
STATUSES = ("in_warranty", "expired", "not_started", "void", "none")


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def today() -> date:
    """The site's date (`UNITRACE_TIMEZONE`): a warranty ends at the end of a local day."""
    return datetime.now(UTC).astimezone(site_timezone()).date()


def _first_event(conn: Connection, unit_id: int, event_type: str) -> Any:
    return conn.execute(
        select(events.c.event_id, events.c.type, events.c.event_time)
        .join(event_units, event_units.c.event_id == events.c.id)
        .where(
            event_units.c.unit_id == unit_id,
            event_units.c.role == int(Role.SUBJECT),
            events.c.type == event_type,
        )
        .order_by(events.c.event_time, events.c.id)
        .limit(1)
    ).first()


def _local_date(moment: Any) -> date:
    return as_moment(moment).astimezone(site_timezone()).date()


def verdict(conn: Connection, unit_id: int, on: date | None = None) -> dict[str, Any]:
    """The warranty of one unit on `on` (the site's today)."""
    on = on or today()
    product = conn.execute(
        select(products)
        .join(units, units.c.product_id == products.c.id)
        .where(units.c.id == unit_id)
    ).one()
    policy = {
        "months": product.warranty_months,
        "start": product.warranty_start,
        "fallback": product.warranty_fallback,
        "fallback_days": product.warranty_fallback_days,
    }
    adjustments = conn.execute(
        select(warranty_adjustments)
        .where(warranty_adjustments.c.unit_id == unit_id)
        .order_by(warranty_adjustments.c.at, warranty_adjustments.c.id)
    ).all()
    extensions = [
        {"months": a.months, "paid": a.paid, "reason": a.reason, "at": a.at.isoformat(),
         "by": a.by}
        for a in adjustments
        if a.kind == "extension"
    ]  # fmt: skip
    void = None
    for a in adjustments:
        if a.kind == "void":
            void = {"reason": a.reason, "at": a.at.isoformat(), "by": a.by}
        elif a.kind == "unvoid":
            void = None
    out: dict[str, Any] = {
        "status": "none",
        "start_date": None,
        "end_date": None,
        "policy": policy,
        "started_by": None,
        "extensions": extensions,
        "void": void,
    }
    months = product.warranty_months + sum(e["months"] or 0 for e in extensions)
    if product.warranty_months == 0 and not extensions:
        return out
    start: date | None = None
    started = _first_event(conn, unit_id, STARTS[product.warranty_start])
    if started is not None:
        start = _local_date(started.event_time)
    elif product.warranty_fallback:
        started = _first_event(conn, unit_id, STARTS[product.warranty_fallback])
        if started is not None:
            start = _local_date(started.event_time) + timedelta(days=product.warranty_fallback_days)
    if started is not None:
        out["started_by"] = {
            "event_id": started.event_id,
            "type": started.type,
            "event_time": as_moment(started.event_time).isoformat(),
        }
    if void is not None:
        out["status"] = "void"
    if start is None:
        if void is None:
            out["status"] = "not_started"
        return out
    try:
        end = add_months(start, months)
    except (ValueError, OverflowError):  # beyond the year 9999: it does not end
        end = date.max
    out.update(start_date=start.isoformat(), end_date=end.isoformat())
    if void is None:
        out["status"] = (
            "in_warranty" if start <= on <= end else ("expired" if on > end else "not_started")
        )
    return out
