"""The write side of a verification, a step of the ledger's write pipeline: a `verify` event
recorded from the public page (`check.verify`, as `check.PUBLIC`) keeps one `verifications`
row, counts on its code (checks, distinct devices, first and last time and region) and is
shown to the clone rules (`clones.observe`) — in the transaction of the event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, func, insert, select, update

from unitrace.core.clock import as_moment
from unitrace.db.fast import Fast
from unitrace.db.tables import verifications, verify_codes
from unitrace.ledger.pipeline import Batch, Item, Step

from . import clones

PUBLIC_USER = "public"

_CODE = Fast(
    select(
        verify_codes.c.checks,
        verify_codes.c.devices,
        verify_codes.c.last_at,
        verify_codes.c.last_region,
    ).where(verify_codes.c.id == bindparam("id"))
)
_SEEN = Fast(
    select(verifications.c.id)
    .where(verifications.c.code_id == bindparam("id"), verifications.c.device == bindparam("dev"))
    .limit(1)
)
_INSERT = insert(verifications).returning(verifications.c.id)
_COUNT = Fast(
    update(verify_codes)
    .where(verify_codes.c.id == bindparam("id"))
    .values(
        checks=bindparam("checks"),
        devices=bindparam("devices"),
        first_at=func.coalesce(verify_codes.c.first_at, bindparam("at")),
        first_region=case(
            (verify_codes.c.first_at.is_(None), bindparam("region")),
            else_=verify_codes.c.first_region,
        ),
        last_at=bindparam("at"),
        last_region=bindparam("region"),
    )
)


def _verification(item: Item) -> dict[str, Any] | None:
    found = item.event.data.get("verification") if item.actor.username == PUBLIC_USER else None
    return found if isinstance(found, dict) and item.subjects else None


class Verifications(Step):
    name = "verifications"
    order = 92
    types = frozenset({"verify"})

    def wants(self, item: Item) -> bool:
        return _verification(item) is not None

    def apply(self, batch: Batch, items: list[Item]) -> None:
        conn = batch.conn
        observed = []
        for item in items:
            v = _verification(item)
            if v is None:
                continue
            code_id = int(v["code_id"])
            at: datetime = item.event_time or as_moment(str(item.event.event_time))
            checks, devices, last_at, last_region = _CODE.run(conn, {"id": code_id}).fetchone()
            new_device = _SEEN.scalar(conn, {"id": code_id, "dev": v["device"]}) is None
            unit = item.subjects[0]
            row_id = conn.execute(
                _INSERT,
                {
                    "code_id": code_id,
                    "unit_id": unit.id,
                    "event_id": item.pk,
                    "at": at,
                    "region": item.event.region,
                    "region_source": v.get("region_source"),
                    "device": v["device"],
                    "address_hash": v["address"],
                    "pin_ok": v.get("pin_ok"),
                },
            ).scalar_one()
            _COUNT.run(
                conn,
                {
                    "id": code_id,
                    "checks": checks + 1,
                    "devices": devices + int(new_device),
                    "at": at,
                    "region": item.event.region,
                },
            )
            observed.append(
                clones.Observation(
                    code_id,
                    unit.id,
                    unit.product_id,
                    int(row_id),
                    at,
                    item.event.region,
                    v["device"],
                    checks + 1,
                    devices + int(new_device),
                    None if last_at is None else as_moment(last_at),
                    last_region,
                )
            )
        if observed:
            clones.observe(conn, observed)
