"""What a scanner sends, as the unit it names: one place for every edge.

A scan is a plain serial, or a GS1 code — an element string (FNC1 as ASCII GS, or with a
symbology identifier such as `]d2`), the bracketed form `(01)…(21)…`, or a Digital Link URI.
`read_scan` tells them apart (`is_gs1`: a test of a character or two, then
`core.gs1.looks_like_gs1`; a plain serial pays no more), parses a GS1 code with
`core.gs1.parse` and names the unit the way a typed serial does — by product and serial: the
GTIN (AI 01) is the product's (compared as 14 digits: a product may keep its GTIN as GTIN-8,
-12, -13 or -14) and AI 21 is the serial. A lot (AI 10) and an expiry date (AI 17) in the code
are checked against the unit found (`Scan.mismatches`, `check_unit`), and a unit whose lot is
another is refused with both values named.

`queries.find_unit` (the dossier, the service desk, every read of one unit) and `write.Lookup`
(every event: the scan station, the API, the CLI), the unit search and the stocktake call it;
nothing else parses a scan.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, bindparam, select

from unitrace.core import gs1
from unitrace.core.errors import FieldError, NotFound, invalid, report
from unitrace.core.serials import MAX_SERIAL_LENGTH
from unitrace.db.tables import lots, products, units

# a Digital Link with a lot, an expiry and its resolver's domain is longer than a serial
MAX_SCANNED_LENGTH = 512


@dataclass(frozen=True, slots=True)
class Scan:
    """A scan read: the unit's serial and product (given, or the GTIN's), and the lot and
    expiry date the code carries (None when it carries none, as a plain serial)."""

    text: str
    serial: str
    product: str | None
    lot: str | None = None
    expiry: date | None = None

    @property
    def checked(self) -> bool:
        """Whether the unit found must be checked against the code (`mismatches`)."""
        return self.lot is not None or self.expiry is not None

    def mismatches(self, field: str, lot: str | None, expiry: date | None) -> list[FieldError]:
        """What the code says about the unit that the unit's lot (`lot`, its `expiry`) denies."""
        found = []
        if self.lot is not None and self.lot != lot:
            said = (
                f"lot in the code is {self.lot}, the unit has no lot"
                if lot is None
                else f"lot in the code is {self.lot}, the unit's lot is {lot}"
            )
            found.append(FieldError(field, said, self.text))
        if self.expiry is not None and self.expiry != expiry:
            code_expiry = self.expiry.isoformat()
            said = (
                f"expiry in the code is {code_expiry}, the unit's lot has no expiry date"
                if expiry is None
                else f"expiry in the code is {code_expiry}, the unit's lot expires {expiry}"
            )
            found.append(FieldError(field, said, self.text))
        return found


# every GS1 form begins so (a symbology identifier, a bracketed AI, an http(s) URI) or holds a
# GS: a test of a character that spares the plain serials of a million-unit event the full one
_GS1_BEGINS = frozenset("](hH")


def is_gs1(text: str) -> bool:
    """Whether a scan is a GS1 code rather than a plain serial (`core.gs1.looks_like_gs1`)."""
    return (text[:1] in _GS1_BEGINS or gs1.GS in text) and gs1.looks_like_gs1(text)


def read_scan(
    conn: Connection,
    text: str,
    product: str | None = None,
    field: str = "serial",
    gtins: dict[str, str] | None = None,
) -> Scan:
    """The unit a scan names: a plain serial as it is, a GS1 code by its GTIN and serial.
    ValidationError (naming `field`) for a GS1 code that is malformed or names no unit,
    NotFound for a GTIN no product has. `gtins`: GTIN-14 → product code found before (a
    batch of events looks each GTIN up once)."""
    if not is_gs1(text):
        return Scan(text, text, product)
    data = gs1.parse(text, field)
    gtin, serial = data.gtin, data.serial
    if gtin is None or serial is None:
        raise invalid(field, "the GS1 code names no unit: it needs a GTIN (01) and a serial (21)")
    gtin = gs1.gtin14(gtin)
    code = gtins.get(gtin) if gtins is not None else None
    if code is None:
        code = product_of_gtin(conn, gtin, field)
        if gtins is not None:
            gtins[gtin] = code
    if product is not None and product != code:
        message = f"the code's GTIN {gtin} is product {code}'s, not {product}'s"
        raise invalid("product", message, product)
    return Scan(text, serial, code, data.lot, data.expiry)


_BY_GTIN = select(products.c.code, products.c.gtin).where(
    products.c.gtin.in_(bindparam("gtins", expanding=True))
)


def gtin_forms(gtin14: str) -> list[str]:
    """The forms a product may keep a GTIN-14 in: itself and, where its leading digits are
    zeros, the GTIN-13, -12 and -8 it pads (an index look-up each, no function on the column)."""
    return [gtin14[cut:] for cut in (0, 1, 2, 6) if gtin14[:cut] == "0" * cut]


def product_of_gtin(conn: Connection, gtin14: str, field: str = "serial") -> str:
    """The code of the product with this GTIN (in any of its lengths); NotFound naming it."""
    rows = conn.execute(_BY_GTIN, {"gtins": gtin_forms(gtin14)}).all()
    if not rows:
        raise NotFound(f"no product has GTIN {gtin14}", [FieldError(field, "unknown GTIN", gtin14)])
    if len(rows) > 1:  # a catalog from before GTINs were compared as 14 digits
        codes = ", ".join(sorted(r.code for r in rows))
        raise invalid(field, f"GTIN {gtin14} is kept by products {codes}", gtin14)
    return str(rows[0].code)


_LOTS_OF = (
    select(units.c.id, lots.c.number, lots.c.expiry_date)
    .select_from(units.outerjoin(lots, lots.c.id == units.c.lot_id))
    .where(units.c.id.in_(bindparam("ids", expanding=True)))
)


def lots_of(conn: Connection, unit_ids: Iterable[int]) -> dict[int, tuple[str | None, Any]]:
    """Unit id → (its lot's number, the lot's expiry date), None for a unit without a lot."""
    wanted = sorted(set(unit_ids))
    if not wanted:
        return {}
    return {int(r.id): (r.number, r.expiry_date) for r in conn.execute(_LOTS_OF, {"ids": wanted})}


def check_unit(conn: Connection, scan: Scan, unit_id: int, field: str = "serial") -> None:
    """Refuse the unit found for a scan whose lot or expiry date is not the unit's."""
    if scan.checked:
        wrong = scan.mismatches(field, *lots_of(conn, [unit_id])[unit_id])
        if wrong:
            raise report(wrong[0].message, wrong)


def length_exceeded(text: str) -> int | None:
    """The length limit a scan is over, or None: MAX_SERIAL_LENGTH characters for a plain
    serial, MAX_SCANNED_LENGTH for a GS1 code (a Digital Link is longer than a serial)."""
    if len(text) <= MAX_SERIAL_LENGTH:
        return None
    if len(text) > MAX_SCANNED_LENGTH:
        return MAX_SCANNED_LENGTH
    return None if is_gs1(text) else MAX_SERIAL_LENGTH
