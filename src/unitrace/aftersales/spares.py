"""Spare-part requests (备件申请): a diagnosis names the parts a repair needs; what the case's
service location does not have in stock is requested from the warehouse, shows in its pick
list, and is fulfilled when the serialised spares arrive at the service location by scan."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, func, insert, select

from unitrace.core.lifecycle import Status
from unitrace.db.tables import spare_requests, units


def on_hand(conn: Connection, product_id: int, location_id: int) -> int:
    """Units of the product in stock at the location (not installed, not reserved)."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(units)
            .where(
                units.c.product_id == product_id,
                units.c.location_id == location_id,
                units.c.status == int(Status.IN_STOCK),
            )
        ).scalar_one()
    )


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
    for product_id, quantity in needs:
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
