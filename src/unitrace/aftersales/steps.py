"""After-sales' steps in the ledger's write pipeline (`ledger.pipeline`), registered through the
`unitrace.steps` entry point.

`CaseLink`: an event that names a service case as its business transaction (`rma` = the case
number), from any edge — a case's own steps, the scan station, the API, a spare shipped for the
case — gets a row in the case's history naming the event, so the case's timeline shows every
physical thing done for it. A partner's events link only to the cases its party opened.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, insert, select

from unitrace.aftersales import picking
from unitrace.core.lifecycle import Status
from unitrace.db.tables import case_history, service_cases
from unitrace.ledger.pipeline import Batch, Item, Step

BIZ_TYPE = "rma"  # aftersales.cases.BIZ_TYPE


def _numbers(item: Item) -> list[str]:
    return [b.id for b in item.event.biz_transactions if b.type == BIZ_TYPE]


def _text(item: Item) -> str:
    """What the person typed with the event (its note, or the reason of a part replacement);
    the event's type and action are shown from the event itself, in the page's language."""
    data: dict[str, Any] = item.event.data
    for key in ("note", "reason"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


class CaseLink(Step):
    name = "case link"
    order = 95

    def wants(self, item: Item) -> bool:
        return any(b.type == BIZ_TYPE for b in item.event.biz_transactions)

    def apply(self, batch: Batch, items: list[Item]) -> None:
        numbers = sorted({n for item in items for n in _numbers(item)})
        cases = {
            row.number: row
            for row in batch.conn.execute(
                select(service_cases.c.id, service_cases.c.number, service_cases.c.party_id).where(
                    service_cases.c.number.in_(bindparam("numbers", expanding=True))
                ),
                {"numbers": numbers},
            )
        }
        rows = []
        for item in items:
            for number in dict.fromkeys(_numbers(item)):
                case = cases.get(number)
                if case is None:  # an RMA of another system: not ours to link
                    continue
                if item.actor.is_partner and case.party_id != item.actor.party_id:
                    continue
                at = item.event_time or datetime.now(UTC)
                rows.append(
                    {
                        "case_id": case.id,
                        "at": at,
                        "by": item.actor.username,
                        "kind": "event",
                        "text": _text(item),
                        "event_id": item.pk,
                    }
                )
        if rows:
            batch.conn.execute(insert(case_history), rows)


class SparesArrive(Step):
    """Spares that arrive in stock at a service location fulfil its open spare-part requests
    (`aftersales.picking`), whatever edge recorded the event: a pick on the spares page, a move
    or receive at the scan station, the API, the CLI. The event is never refused for it."""

    name = "spare-part requests"
    order = 95  # after every check that may refuse the event
    types = frozenset({"move", "receive"})  # what brings units into stock at a location

    def wants(self, item: Item) -> bool:
        return item.location_id is not None and bool(item.subjects) and super().wants(item)

    def check(self, batch: Batch, items: list[Item]) -> None:
        # read before the projection changes: where each unit was, and whether it was in stock
        coming = []
        for item in items:
            assert item.location_id is not None
            named = picking.named_requests(item.event.biz_transactions)
            to = item.rule.to
            coming.append(
                [
                    picking.Arrival(
                        u.id, u.serial, u.product_id, u.product, item.location_id, named
                    )
                    for u in item.subjects
                    if to == Status.IN_STOCK or (to is None and u.status == Status.IN_STOCK)
                ]
            )
        for item, found in zip(items, picking.arrivals(batch.conn, coming), strict=True):
            if found:
                item.state["spares"] = found

    def apply(self, batch: Batch, items: list[Item]) -> None:
        wanted = [i for i in items if i.state.get("spares")]
        if not wanted:
            return
        plans = picking.plan_arrivals(batch.conn, [i.state["spares"] for i in wanted])
        for item, plan in zip(wanted, plans, strict=True):
            if not plan:
                continue
            where = item.event.location or ""
            done = picking.fulfil(batch.conn, plan, item.pk, where, item.actor.username)
            if done:
                item.answer["spare_requests"] = done


STEPS: list[Step] = [CaseLink(), SparesArrive()]
