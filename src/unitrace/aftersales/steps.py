"""After-sales' steps in the ledger's write pipeline (`ledger.pipeline`), registered through the
`unitrace.steps` entry point."""

from __future__ import annotations

from unitrace.aftersales import picking
from unitrace.core.lifecycle import Status
from unitrace.ledger.pipeline import Batch, Item, Step


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


STEPS: list[Step] = [SparesArrive()]
