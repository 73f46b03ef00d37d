"""Channel's steps in the ledger's write pipeline (`ledger.pipeline`), registered through the
`unitrace.steps` entry point: cartons and pallets (`channel.packing`) and sightings that raise
diversion alerts (`channel.rules`)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

from sqlalchemy import bindparam, null, select, update

from unitrace.core.errors import FieldError, report
from unitrace.core.lifecycle import Status
from unitrace.db.fast import Fast
from unitrace.db.tables import containers, units
from unitrace.ledger.bulk import chunks
from unitrace.ledger.pipeline import Batch, Item, Step
from unitrace.ledger.schemas import EventIn
from unitrace.ledger.write import UnitRow

from . import packing
from . import rules as diversion


class Containers(Step):
    """An event that names cartons or pallets is about every unit inside them; pack and unpack
    change what is in them; a unit named on its own that goes elsewhere leaves its carton."""

    name = "cartons and pallets"
    order = 10

    def names(self, event: EventIn) -> Iterable[Hashable]:
        codes = [*event.containers, *([event.container] if event.container else [])]
        return [("container", packing.normalise(c)) for c in codes]

    def expand(self, batch: Batch, items: list[Item]) -> None:
        def plan(item: Item) -> None:
            event = item.event
            if not event.containers and event.type not in ("pack", "unpack"):
                return
            found = packing.prepare(batch.conn, item.actor, event, item.direct)
            item.state["containers"] = found
            item.keys.update(("container", c) for c in found.tree)
            item.keys.update(("container", c.id) for c in found.named)
            if found.target is not None and found.target.id:
                item.keys.add(("container", found.target.id))
            named = {u.id: u for u in item.direct}
            twice = [
                FieldError(
                    "serials",
                    "named twice: also inside a carton or pallet the event names",
                    named[r.id].serial,
                )
                for r in found.units
                if r.id in named
            ]
            if twice:
                raise report("the event names a unit more than once", twice)
            item.subjects = item.direct + [
                UnitRow(r.id, r.serial, r.code, Status(r.status), r.parent_id, r.product_id)
                for r in found.units
            ]

        batch.each(items, plan)

    def apply(self, batch: Batch, items: list[Item]) -> None:
        loose: list[int] = []
        for item in items:
            plan = item.state.get("containers")
            direct = [u.id for u in item.direct]
            if plan is not None:
                refs = {"location_id": item.location_id, "party_id": item.party_id}
                packing.apply(batch.conn, item.rule, plan, item.pk, refs, direct)
            elif direct and packing.takes_out(item.rule):
                loose += direct
        if not loose or _ANY_CONTAINER.scalar(batch.conn, {}) is None:
            return  # no carton or pallet anywhere (asked each time: a pack may have made one)
        if len(loose) == 1:
            _LEAVE_ONE.run(batch.conn, {"id": loose[0]})
        elif loose:
            for chunk in chunks(loose):
                batch.conn.execute(_LEAVE, {"ids": list(chunk)})


_ANY_CONTAINER = Fast(select(containers.c.id).limit(1))


_LEAVE = (
    update(units)
    .where(units.c.id.in_(bindparam("ids", expanding=True)), units.c.container_id.is_not(None))
    .values(container_id=None)
)
_LEAVE_ONE = Fast(
    update(units)
    .where(units.c.id == bindparam("id"), units.c.container_id.is_not(None))
    .values(container_id=null())
)


class Sightings(Step):
    """An event that names the region its units were seen in is checked for diversion."""

    name = "sightings"
    order = 90

    def wants(self, item: Item) -> bool:
        return item.event.region is not None and bool(item.subjects)

    def apply(self, batch: Batch, items: list[Item]) -> None:
        sightings = [
            diversion.Sighting(i.pk, i.type, i.event.region or "", [u.id for u in i.subjects])
            for i in items
        ]
        raised = diversion.check_sightings(batch.conn, sightings)
        if not raised:
            return
        by_event: dict[int, list[diversion.Raised]] = {}
        for alert in raised:
            by_event.setdefault(alert.event_pk, []).append(alert)
        for item in items:
            mine = by_event.get(item.pk)
            if mine:
                item.answer["diversion_alerts"] = _answer(item, mine)


ANSWERED_ALERTS = 100  # an event that raises more lists the first ones and counts them all


def _answer(item: Item, raised: list[diversion.Raised]) -> dict[str, Any]:
    """The diversion alerts an event raised, as its answer says them."""
    units = {u.id: u for u in item.subjects}
    return {
        "count": len(raised),
        "alerts": [
            {
                "id": a.id,
                "product": units[a.unit_id].product,
                "serial": units[a.unit_id].serial,
                "distributor": a.distributor,
                "expected_regions": a.expected,
                "seen_region": a.seen_region,
            }
            for a in raised[:ANSWERED_ALERTS]
        ],
    }


STEPS: list[Step] = [Containers(), Sightings()]
