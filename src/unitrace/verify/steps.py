"""verify's steps in the ledger's write pipeline (`ledger.pipeline`), registered through the
`unitrace.steps` entry point.

`Verifications` (verify/record.py): a verification from the public page counts on its code and
is shown to the clone rules. `Codes`: a commission event of a product with verification
enabled gives each of its new units a verification code, set-based (one bulk insert per chunk
of units).
"""

from __future__ import annotations

from sqlalchemy import bindparam, select

from unitrace.db.tables import event_units, verify_settings
from unitrace.ledger.pipeline import Batch, Item, Step
from unitrace.verify import codes

from .record import Verifications


class Codes(Step):
    name = "verification codes"
    order = 90
    types = frozenset({"commission"})

    def apply(self, batch: Batch, items: list[Item]) -> None:
        products = {i.state["commission"].product_id for i in items if "commission" in i.state}
        if not products:
            return
        enabled = set(
            batch.conn.execute(
                select(verify_settings.c.product_id).where(
                    verify_settings.c.product_id.in_(bindparam("ids", expanding=True)),
                    verify_settings.c.enabled.is_(True),
                ),
                {"ids": sorted(products)},
            ).scalars()
        )
        events = [
            i.pk
            for i in items
            if "commission" in i.state and i.state["commission"].product_id in enabled
        ]
        if not events:
            return
        made = batch.conn.execute(
            select(event_units.c.unit_id)
            .where(event_units.c.event_id.in_(bindparam("ids", expanding=True)))
            .order_by(event_units.c.unit_id),
            {"ids": events},
        ).scalars()
        codes.issue(batch.conn, list(made))


STEPS: list[Step] = [Codes(), Verifications()]
