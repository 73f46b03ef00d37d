"""What after-sales adds to the ledger's reads of a unit (`ledger.reads`), registered through the
`unitrace.reads` entry point: the unit's warranty verdict in its dossier."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from unitrace.aftersales import warranty
from unitrace.ledger.reads import NodePart, Section


class Warranty(Section):
    """The unit's warranty verdict (`aftersales.warranty.verdict`); a partner's is read from
    the events it may see, and names no user."""

    key = "warranty"

    def read(
        self, conn: Connection, unit_id: int, events: frozenset[int] | None, holds: bool
    ) -> dict[str, Any]:
        found = warranty.verdict(conn, unit_id, seen=events)
        return found if events is None else warranty.without_names(found)


READS: list[Section | NodePart] = [Warranty()]
