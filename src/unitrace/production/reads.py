"""What production adds to the ledger's reads of a unit (`ledger.reads`), registered through the
`unitrace.reads` entry point: the unit's process step results in its dossier, and the lots each
assembly in its component tree consumed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, select

from unitrace.db.tables import events, locations, lot_uses, lots, parties, products, unit_steps
from unitrace.ledger.bulk import chunks
from unitrace.ledger.queries import local_time
from unitrace.ledger.reads import NodePart, Section

_STEPS = (
    select(
        unit_steps,
        events.c.event_tz,
        events.c.operator,
        events.c.equipment,
        events.c.data,
        locations.c.code.label("station"),
    )
    .join(events, events.c.id == unit_steps.c.event_id)
    .outerjoin(locations, locations.c.id == events.c.location_id)
)


class Steps(Section):
    """The unit's process step results, oldest first, with where, by whom and measurements; a
    partner sees those of the events it may see, without station, operator or equipment."""

    key = "steps"

    def read(
        self, conn: Connection, unit_id: int, events: frozenset[int] | None, holds: bool
    ) -> list[dict[str, Any]]:
        query = _STEPS.where(unit_steps.c.unit_id == unit_id).order_by(unit_steps.c.id)
        found = []
        for r in conn.execute(query):
            if events is not None and r.event_id not in events:
                continue
            partner = events is not None
            found.append(
                {
                    "step": r.step,
                    "attempt": r.attempt,
                    "result": "pass" if r.passed else "fail",
                    "defect_code": r.defect_code,
                    "station": None if partner else r.station,
                    "operator": None if partner else r.operator,
                    "equipment": None if partner else r.equipment,
                    "started_at": local_time(r.started_at, r.event_tz) if r.started_at else None,
                    "ended_at": local_time(r.ended_at, r.event_tz),
                    "data": r.data,
                }
            )
        return found


_SUPPLIER = parties.alias("supplier")
_CONSUMED = (
    select(
        lot_uses.c.unit_id,
        products.c.code,
        lots.c.number,
        _SUPPLIER.c.code,
        func.sum(lot_uses.c.quantity),
    )
    .join(lots, lots.c.id == lot_uses.c.lot_id)
    .join(products, products.c.id == lots.c.product_id)
    .outerjoin(_SUPPLIER, _SUPPLIER.c.id == lots.c.supplier_id)
    .group_by(lot_uses.c.unit_id, products.c.code, lots.c.number, _SUPPLIER.c.code)
    .order_by(products.c.code, lots.c.number)
)


class Consumed(NodePart):
    """The lot-tracked parts each assembly consumed, by lot; a partner sees no suppliers."""

    key = "consumed"

    def read(
        self, conn: Connection, unit_ids: Sequence[int], partner: bool
    ) -> dict[int, list[dict[str, Any]]]:
        out: dict[int, list[dict[str, Any]]] = {}
        for chunk in chunks(list(unit_ids)):
            for r in conn.execute(_CONSUMED.where(lot_uses.c.unit_id.in_(list(chunk)))):
                out.setdefault(r[0], []).append(
                    {
                        "product": r[1],
                        "lot": r[2],
                        "supplier": None if partner else r[3],
                        "quantity": int(r[4]),
                    }
                )
        return out


READS: list[Section | NodePart] = [Steps(), Consumed()]
