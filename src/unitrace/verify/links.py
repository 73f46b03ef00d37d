"""Verification codes in links (issue 16): what a label's QR code carries and what the GS1
Digital Link resolver makes of a code in a Digital Link.

A label points to `UNITRACE_PUBLIC_URL/v/{code}` (`codes.verify_url`) or, for a product with a
GTIN, to the unit's Digital Link URI with the code as a non-GS1 query parameter
(`…/01/{gtin}/10/{lot}/21/{serial}?17=…&vc=CODE`). A Digital Link with only the GTIN and the
serial is guessable, so it never gets a verdict: only the code does.
"""

from __future__ import annotations

import hmac

from sqlalchemy import Connection, select

from unitrace.db.engine import Database
from unitrace.db.tables import products, units, verify_codes
from unitrace.verify import codes

PARAMETER = "vc"  # the code in a GS1 Digital Link's query: …/01/{gtin}/21/{serial}?vc=CODE


def with_code(link: str, code: str) -> str:
    """A unit's GS1 Digital Link URI carrying its code (`?vc=CODE`, or `&vc=CODE` after its
    data attributes): GS1 Digital Link allows key=value pairs that are not AIs in the query."""
    joiner = "&" if "?" in link else "?"
    return f"{link}{joiner}{PARAMETER}={code}"


def code_of_unit(conn: Connection, gtin14: str, serial: str) -> str | None:
    """The code of the unit with this GTIN (14 digits) and serial, or None."""
    return conn.execute(
        select(verify_codes.c.code)
        .join(units, units.c.id == verify_codes.c.unit_id)
        .join(products, products.c.id == units.c.product_id)
        .where(products.c.gtin14 == gtin14, units.c.serial == serial)
    ).scalar()


def belongs(db: Database, text: str, gtin14: str, serial: str) -> str | None:
    """The code (as stored) when `text` is the code of THAT unit (GTIN and serial), else None.
    The unit's own code is read and compared in constant time: another unit's code and a code
    that exists nowhere take the same way and give the same answer."""
    code = codes.normalise(text)
    with db.read() as conn:
        own = code_of_unit(conn, gtin14, serial)
    if own is None or code is None:
        return None
    return code if hmac.compare_digest(own, code) else None
