"""The outbox: one delivery row per (event or alert, matching subscription), written in the
transaction that writes the event or raises the alert — a rolled-back event has no delivery,
a committed one never lacks it. Delivery happens later, in the worker.

`Outbox` is a write-pipeline `Step` (interop/steps.py): in `apply` it reads the active
subscriptions once per batch and inserts the rows of the whole wave in one statement. An event
of a million units is one delivery whose payload names the event, its products, the unit
count and the first `SERIALS_SHOWN` serials. With no subscription the step costs one query of
a small table per batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from unitrace.core import clock
from unitrace.db.tables import products, units, webhook_deliveries, webhook_subscriptions
from unitrace.ledger.bulk import chunks
from unitrace.ledger.pipeline import Batch, Item, Step

SERIALS_SHOWN = 100  # the units a payload lists; the rest are counted


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    event_types: frozenset[str]
    products: frozenset[str]  # empty: every product
    alert_kinds: frozenset[str]

    def wants_event(self, type_: str, products: Iterable[str]) -> bool:
        if type_ not in self.event_types:
            return False
        return not self.products or not self.products.isdisjoint(products)

    def wants_alert(self, kind: str, products: Iterable[str]) -> bool:
        if kind not in self.alert_kinds:
            return False
        return not self.products or not self.products.isdisjoint(products)


def active(conn: Connection) -> list[Subscription]:
    rows = conn.execute(
        select(
            webhook_subscriptions.c.id,
            webhook_subscriptions.c.event_types,
            webhook_subscriptions.c.products,
            webhook_subscriptions.c.alert_kinds,
        ).where(webhook_subscriptions.c.active.is_(True))
    ).all()
    return [
        Subscription(
            r.id, frozenset(r.event_types), frozenset(r.products), frozenset(r.alert_kinds)
        )
        for r in rows
    ]


def _row(subscription: int, source: str, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    moment = clock.now()
    return {
        "subscription_id": subscription,
        "source": source,
        "kind": kind,
        "payload": payload,
        "status": "pending",
        "attempts": 0,
        "created_at": moment,
        "queued_at": moment,
        "next_at": moment,
    }


def _units(item: Item) -> tuple[list[str], list[dict[str, str]]]:
    """The event's products and its first units (product, serial)."""
    if item.type == "commission":
        product = item.event.product or ""
        shown = [{"product": product, "serial": s} for s in item.event.serials[:SERIALS_SHOWN]]
        return [product], shown
    products = sorted({u.product for u in item.subjects} | {u.product for u in item.removed})
    shown = [{"product": u.product, "serial": u.serial} for u in item.subjects[:SERIALS_SHOWN]]
    return products, shown


def event_payload(item: Item, products: list[str], shown: list[dict[str, str]]) -> dict[str, Any]:
    count = len(item.event.serials) if item.type == "commission" else item.unit_count
    return {
        "type": "event",
        "event": {
            "id": item.event_id,
            "type": item.type,
            "event_time": item.event_time.isoformat() if item.event_time else None,
            "location": item.event.location,
            "party": item.event.party,
            "products": products,
            "unit_count": count,
            "units": shown,
            "units_not_shown": max(0, count - len(shown)),
        },
    }


class Outbox(Step):
    """The webhook deliveries of the events written, in their transaction."""

    name = "webhook outbox"
    order = 1000  # after every other step: the event is complete

    def apply(self, batch: Batch, items: list[Item]) -> None:
        subscriptions: list[Subscription] = batch.cached("webhooks", lambda: active(batch.conn))
        wanting = [s for s in subscriptions if s.event_types]
        if not wanting:
            return
        rows: list[dict[str, Any]] = []
        for item in items:
            if not any(item.type in s.event_types for s in wanting):
                continue
            products, shown = _units(item)
            payload: dict[str, Any] | None = None
            for s in wanting:
                if s.wants_event(item.type, products):
                    payload = payload or event_payload(item, products, shown)
                    rows.append(_row(s.id, f"event:{item.pk}", item.type, payload))
        if rows:
            batch.conn.execute(insert(webhook_deliveries), rows)


def enqueue(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert outbox rows, keeping the one there is for a (subscription, source)."""
    if not rows:
        return
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(dialect_insert(webhook_deliveries).on_conflict_do_nothing(), list(rows))


def listen(conn: Connection, kind: str, payloads: Sequence[Mapping[str, Any]]) -> None:
    """The `unitrace.listeners` entry point: alerts, recalls or claims raised in this
    transaction get a delivery for every subscription to their kind (and product)."""
    wanting = [s for s in active(conn) if kind in s.alert_kinds]
    if not wanting:
        return
    named = _units_named(conn, [p["unit_id"] for p in payloads if p.get("unit_id")])
    rows: list[dict[str, Any]] = []
    for payload in payloads:
        alert = dict(payload)
        unit = named.get(alert.get("unit_id") or 0)
        if unit is not None:
            alert.setdefault("product", unit[0])
            alert.setdefault("serial", unit[1])
        body = {"type": "alert", "kind": kind, "alert": alert}
        products = [str(p) for p in alert.get("products") or [alert.get("product")] if p]
        rows.extend(
            _row(s.id, f"{kind}:{alert['id']}", kind, body)
            for s in wanting
            if s.wants_alert(kind, products)
        )
    enqueue(conn, rows)


def _units_named(conn: Connection, ids: list[int]) -> dict[int, tuple[str, str]]:
    """The product code and serial of each unit."""
    found: dict[int, tuple[str, str]] = {}
    for chunk in chunks(sorted(set(ids))):
        rows = conn.execute(
            select(units.c.id, products.c.code, units.c.serial)
            .join(products, products.c.id == units.c.product_id)
            .where(units.c.id.in_(bindparam("ids", expanding=True))),
            {"ids": list(chunk)},
        )
        found.update((int(i), (str(c), str(s))) for i, c, s in rows)
    return found
