"""What channel adds to the ledger's reads of a unit (`ledger.reads`), registered through the
`unitrace.reads` entry point: the carton or pallet the unit is in."""

from __future__ import annotations

from sqlalchemy import Connection, select

from unitrace.db.tables import containers, units
from unitrace.ledger.reads import NodePart, Section

_CARTON = select(containers.c.code).join(units, units.c.container_id == containers.c.id)


class Carton(Section):
    """The code of the carton (or pallet) the unit is in; a partner that no longer holds the
    unit sees none."""

    key = "container"

    def read(
        self, conn: Connection, unit_id: int, events: frozenset[int] | None, holds: bool
    ) -> str | None:
        if not holds:
            return None
        code = conn.execute(_CARTON.where(units.c.id == unit_id)).scalar()
        return None if code is None else str(code)


READS: list[Section | NodePart] = [Carton()]
