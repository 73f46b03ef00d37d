"""Production's steps in the ledger's write pipeline (`ledger.pipeline`), registered through the
`unitrace.steps` entry point: open recalls block shipping and selling, the bill of materials
and the lots an assembly consumes, the route's gate before finished stock, and step results.
The rules themselves are in `production.rules`."""

from __future__ import annotations

from unitrace.core.errors import invalid
from unitrace.ledger.pipeline import Batch, Item, Step
from unitrace.production import rules


class RecallBlock(Step):
    """Units under an open recall are not shipped, sold or built into others."""

    name = "open recalls"
    order = 40
    types = rules.BLOCKED_BY_RECALL

    def check(self, batch: Batch, items: list[Item]) -> None:
        blocked = rules.open_recalls(batch.conn, [u.id for i in items for u in i.subjects])
        if not blocked:
            return
        for item in items:
            error = rules.recall_refusal(item.type, item.subjects, blocked)
            if error is not None:
                batch.refuse(item, error)


class BillOfMaterials(Step):
    """What goes into a parent against its bill of materials; the lots an assembly consumes."""

    name = "bill of materials"
    order = 60
    types = frozenset({"assemble", "replace_part"})

    def check(self, batch: Batch, items: list[Item]) -> None:
        def lookup(product: str, number: str) -> tuple[int, int, str] | None:
            found: tuple[int, int, str] | None = batch.cached(
                ("lot", product, number), lambda: rules.lot_of(batch.conn, product, number)
            )
            return found

        def uses(item: Item) -> None:
            item.state["lots"] = rules.consumed_lots(item.event.consumed, lookup)

        batch.each(items, uses)
        live = [i for i in items if i.error is None and i.parent is not None]
        assemblies = [
            rules.Assembly(i.parent, i.subjects, i.removed, i.state["lots"])
            for i in live
            if i.parent is not None
        ]
        for item, verdict in zip(live, rules.check_bom(batch.conn, assemblies), strict=True):
            if verdict.error is not None:
                batch.refuse(item, verdict.error)
            else:
                item.warnings += verdict.warnings

    def apply(self, batch: Batch, items: list[Item]) -> None:
        rules.record_lot_uses_many(
            batch.conn,
            (
                (item.pk, item.parent.id, use)
                for item in items
                if item.parent is not None
                for use in item.state.get("lots", ())
            ),
        )


class CompletionGate(Step):
    """Units first entering stock passed their route's required steps and have their required
    components."""

    name = "completion gate"
    order = 70
    types = frozenset({"receive", "disassemble"})

    def check(self, batch: Batch, items: list[Item]) -> None:
        verdicts = rules.check_completion(batch.conn, [i.subjects for i in items])
        for item, verdict in zip(items, verdicts, strict=True):
            if verdict.error is not None:
                batch.refuse(item, verdict.error)
            else:
                item.warnings += verdict.warnings


class StepResults(Step):
    """An inspect event's step result: the step is on the route of each unit's product."""

    name = "step results"
    order = 80
    types = frozenset({"inspect"})

    def wants(self, item: Item) -> bool:
        return item.event.step is not None and super().wants(item)

    def check(self, batch: Batch, items: list[Item]) -> None:
        wanted = []
        for item in items:
            step = item.event.step
            assert step is not None and item.event_time is not None
            if step.started_at and step.started_at > item.event_time:
                message = "is after the event's time (when the step ended)"
                batch.refuse(item, invalid("step.started_at", message))
                continue
            wanted += [(step.code, u.product_id) for u in item.subjects]
        off = rules.steps_off_route(batch.conn, wanted) if wanted else set()
        if not off:
            return
        for item in items:
            step = item.event.step
            assert step is not None
            missing = sorted({u.product for u in item.subjects if (step.code, u.product_id) in off})
            if missing and item.error is None:
                message = f"step {step.code} is not on the route of {', '.join(missing)}"
                batch.refuse(
                    item,
                    invalid("step.code", message, step.code),
                )

    def apply(self, batch: Batch, items: list[Item]) -> None:
        results = []
        for item in items:
            assert item.event.step is not None and item.event_time is not None
            results.append(
                rules.StepResult(item.pk, item.subjects, item.event.step, item.event_time)
            )
        rules.record_steps(batch.conn, results)


STEPS: list[Step] = [RecallBlock(), BillOfMaterials(), CompletionGate(), StepResults()]
