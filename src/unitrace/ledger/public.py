"""What anyone who scans a unit's GS1 Digital Link may learn (issue 15): the product's name,
description and GTIN, the lot and its expiry. No login, so nothing of the unit's journey —
holder, location, events — and one answer for everything unknown, so that a stranger cannot
tell an unknown GTIN from an unknown serial or lot. (The authenticity verdict: issue 16.)"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from unitrace.catalog.service import product_by_gtin
from unitrace.core import gs1
from unitrace.core.errors import NotFound
from unitrace.db.engine import Database
from unitrace.db.tables import lots, units

UNKNOWN = "nothing is known under this GS1 Digital Link"


def public_item(
    db: Database,
    gtin: str,
    serial: str | None = None,
    lot: str | None = None,
    expiry: date | None = None,
) -> dict[str, Any]:
    """The public facts of a product (a GTIN), one of its lots or one of its units. A lot or
    expiry that the link names and the unit's lot contradicts is unknown too."""
    with db.read() as conn:
        product = product_by_gtin(conn, gtin)
        if product is None:
            raise NotFound(UNKNOWN)
        lot_id = None
        if serial is not None:
            found = conn.execute(
                select(units.c.lot_id).where(
                    units.c.product_id == product.id, units.c.serial == serial
                )
            ).first()
            if found is None:
                raise NotFound(UNKNOWN)
            lot_id = found.lot_id
        lot_row = None
        if lot_id is not None:
            lot_row = conn.execute(select(lots).where(lots.c.id == lot_id)).one()
        elif lot is not None and serial is None:
            lot_row = conn.execute(
                select(lots).where(lots.c.product_id == product.id, lots.c.number == lot)
            ).first()
    if lot is not None and (lot_row is None or lot_row.number != lot):
        raise NotFound(UNKNOWN)
    lot_expiry = lot_row.expiry_date if lot_row is not None else None
    if expiry is not None and lot_expiry is not None and expiry != lot_expiry:
        raise NotFound(UNKNOWN)
    shown_expiry = lot_expiry or expiry
    return {
        "gtin": gs1.gtin14(gtin),
        "serial": serial,
        "product": {"name": product.name, "description": product.description},
        "lot": lot_row.number if lot_row is not None else None,
        "expiry": shown_expiry.isoformat() if shown_expiry is not None else None,
    }
