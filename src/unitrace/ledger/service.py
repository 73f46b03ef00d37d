"""Ledger use cases: record events, commission units. Each opens its transaction; every event
is written by the pipeline (`ledger.pipeline`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from unitrace.access import audit
from unitrace.access.principal import Actor
from unitrace.catalog.service import product_row, serial_template
from unitrace.core.errors import Conflict, FieldError, NotFound, invalid
from unitrace.core.serials import GenerationContext, SerialTemplate
from unitrace.db.engine import Database
from unitrace.db.retry import retried
from unitrace.db.tables import serial_counters
from unitrace.ledger.bulk import allocate
from unitrace.ledger.limits import check_request
from unitrace.ledger.pipeline import Job, record, record_in
from unitrace.ledger.schemas import CommissionIn, EventIn
from unitrace.ledger.write import (
    Recorded,
    commissioned,
    existing_serials,
    find_replay,
    payload_hash,
)

COLLISION_RETRIES = 5


def record_events(db: Database, actor: Actor, batch: Sequence[EventIn]) -> list[Recorded]:
    """Write a batch of events in one transaction through the pipeline: all of them, or none."""
    check_request(actor, batch)  # before the batch takes the writer
    jobs = [Job(actor, event) for event in batch]

    def write(conn: Connection) -> list[Recorded]:
        with audit.deferred(conn):
            outcomes = record(conn, jobs)
        return [o for o in outcomes if isinstance(o, Recorded)]

    return retried(db, write, "the events collided with a concurrent write; nothing was written")


def commissioned_serials(db: Database, actor: Actor, event_id: str) -> dict[str, Any]:
    """Every serial one commission event made (for labels, a spreadsheet): who may commission
    may read them back."""
    actor.require("event:commission")
    with db.read() as conn:
        found = commissioned(conn, event_id)
    if found is None:
        raise NotFound(
            f"no commission event {event_id!r}",
            [FieldError("event", "no commission event with this id", event_id)],
        )
    product, serials = found
    return {"event_id": event_id, "product": product, "serials": serials}


def commission_units(db: Database, actor: Actor, request: CommissionIn) -> Recorded:
    """Make new units: generate `count` serials from the product's rule, or register
    `serials` made elsewhere. One commission event, one transaction."""
    actor.require("event:commission")
    digest = payload_hash(request.model_dump(mode="json", exclude={"event_id"}, exclude_none=True))
    base: dict[str, Any] = {
        "event_id": request.event_id,
        "type": "commission",
        "event_time": request.event_time,
        "product": request.product,
        "lot": request.lot,
        "location": request.location,
        "attributes": request.attributes,
        "data": {k: v for k, v in (("plant", request.plant), ("line", request.line)) if v},
    }
    if request.serials is not None:
        event = EventIn(**base, serials=request.serials)
        return retried(
            db,
            lambda conn: record_in(conn, actor, event, digest),
            "serials were registered meanwhile; nothing was written",
        )
    assert request.count is not None

    def generate(conn: Connection) -> Recorded:
        replay = find_replay(conn, request.event_id, digest)
        if replay is not None:
            return replay
        return _generate(conn, actor, request, base, digest)

    return retried(db, generate, "serials collided with a concurrent write; try again")


def _generate(
    conn: Connection, actor: Actor, request: CommissionIn, base: dict[str, Any], digest: str
) -> Recorded:
    assert request.count is not None
    product = product_row(conn, request.product)
    template = serial_template(product)
    if template is None:
        raise invalid(
            "count",
            f"{product.code} has no serial rule to generate from: give `serials` instead, "
            "or set the product's serial_rule",
        )
    day = (request.event_time or datetime.now().astimezone()).date()
    context = GenerationContext(day, product.code, request.plant or "", request.line or "")
    period = template.period_key(day)
    serials = _render(conn, template, context, product.id, period, request.count)
    for _ in range(COLLISION_RETRIES):
        event = EventIn.model_construct(
            **{**base, "serials": serials},
            units=[],
            removed=[],
            biz_transactions=[],
            parent=None,
            party=None,
            read_point=None,
            operator=None,
            equipment=None,
        )
        try:
            with conn.begin_nested():
                return record_in(conn, actor, event, digest, generated=True)
        except IntegrityError:
            taken = set(existing_serials(conn, product.id, serials))
            if not taken:
                raise
            # Serials registered by hand can match the rule; skip past them, never reuse.
            fresh = iter(_render(conn, template, context, product.id, period, len(taken)))
            serials = [next(fresh) if s in taken else s for s in serials]
    raise Conflict(
        f"could not find {request.count} free serials for {product.code}",
        [FieldError("count", "serial rule keeps colliding with existing serials")],
    )


def _render(
    conn: Connection,
    template: SerialTemplate,
    context: GenerationContext,
    product_id: int,
    period: str,
    count: int,
) -> list[str]:
    first = allocate(
        conn, serial_counters, {"product_id": product_id, "period": period}, "last_value", count
    )
    serials = template.render(context, first, count)
    if template.seq_token is None:  # random-only rules can repeat themselves within a batch
        seen: set[str] = set()
        for i, serial in enumerate(serials):
            while serial in seen:
                serial = template.render(context, first, 1)[0]
            seen.add(serial)
            serials[i] = serial
    return serials
