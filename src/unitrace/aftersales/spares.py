"""Spare-part requests (备件申请): a diagnosis names the parts a repair needs; what the case's
service location does not have in stock is requested from the warehouse, shows in its pick
list, and is fulfilled when the serialised spares arrive at the service location by scan.

This module makes the requests (`request_missing`, called by `cases.diagnose`) and says what is
on hand; the warehouse's side — the pick list, picking by scan, cancelling, and the fulfilment
by any event that brings a spare to the location — is `aftersales.picking`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Exists, Select, and_, exists, func, insert, select, update

from unitrace.core.errors import NotFound
from unitrace.core.lifecycle import Status
from unitrace.db.tables import service_cases, spare_request_units, spare_requests, units

STATUSES = ("open", "fulfilled", "cancelled")


def number(request_id: int) -> str:
    """How a request is named to people and in business transactions: `SR-000012`."""
    return f"SR-{request_id:06d}"


def request_id(text: str) -> int:
    """The id of `SR-000012` (or `12`); anything else is an unknown request."""
    digits = text.strip().upper().removeprefix("SR-")
    if not digits.isdigit() or len(digits) > 12:
        raise NotFound(f"no spare-part request {text!r}")
    return int(digits)


def reserved() -> Exists:
    """Units that already arrived for a request still in use: not cancelled, its case not
    closed. They are in stock at the service location, but no longer free for another case."""
    return exists().where(
        spare_request_units.c.unit_id == units.c.id,
        spare_requests.c.id == spare_request_units.c.request_id,
        spare_requests.c.status != "cancelled",
        service_cases.c.id == spare_requests.c.case_id,
        service_cases.c.state != "closed",
    )


def on_hand_query(product_id: int, location_id: int) -> Select[int]:
    return (
        select(func.count())
        .select_from(units)
        .where(
            and_(
                units.c.product_id == product_id,
                units.c.location_id == location_id,
                units.c.status == int(Status.IN_STOCK),
            ),
            ~reserved(),
        )
    )


def on_hand(conn: Connection, product_id: int, location_id: int) -> int:
    """Units of the product in stock at the location (not installed, not reserved for the
    open case of an earlier request)."""
    return int(conn.execute(on_hand_query(product_id, location_id)).scalar_one())


def request_missing(
    conn: Connection,
    case_id: int,
    location_id: int,
    needs: Sequence[tuple[int, int]],
    at: datetime,
) -> list[int]:
    """One request per needed product (product id, quantity) the location lacks, for the
    shortfall; the ids of the requests made (none: everything is on hand)."""
    made = []
    wanted: dict[int, int] = {}
    for product_id, quantity in needs:  # one product named twice: one request for the sum
        wanted[product_id] = wanted.get(product_id, 0) + quantity
    for product_id, quantity in wanted.items():
        short = quantity - on_hand(conn, product_id, location_id)
        if short <= 0:
            continue
        values = {
            "case_id": case_id,
            "product_id": product_id,
            "quantity": short,
            "fulfilled": 0,
            "location_id": location_id,
            "status": "open",
            "created_at": at,
            "updated_at": at,
        }
        query = insert(spare_requests).values(values).returning(spare_requests.c.id)
        made.append(int(conn.execute(query).scalar_one()))
    return made


def cancel_open(conn: Connection, case_id: int, at: datetime) -> list[str]:
    """Cancel the case's open requests (the case was closed: nobody waits for those parts any
    more); their numbers, for the case's history and the audit trail."""
    ids = conn.execute(
        update(spare_requests)
        .where(spare_requests.c.case_id == case_id, spare_requests.c.status == "open")
        .values(status="cancelled", updated_at=at)
        .returning(spare_requests.c.id)
    ).scalars()
    return [number(i) for i in sorted(ids)]
