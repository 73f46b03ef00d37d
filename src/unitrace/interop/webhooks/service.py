"""Webhook subscriptions, the delivery log and replays: what the API, the page and the CLI
call. Everything needs `webhooks.manage` (administrators)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from urllib.parse import SplitResult, urlsplit

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from unitrace.access import audit
from unitrace.access.principal import Actor
from unitrace.core import clock
from unitrace.core.errors import FieldError, NotFound, ValidationError, report
from unitrace.core.lifecycle import EVENT_TYPES
from unitrace.core.signals import KINDS
from unitrace.db.engine import Database
from unitrace.db.tables import (
    products,
    webhook_attempts,
    webhook_deliveries,
    webhook_subscriptions,
)

from .schemas import ReplayRange, SubscriptionIn, SubscriptionPatch

PERMISSION = "webhooks.manage"
STATUSES = ("pending", "delivered", "dead")
_S, _D, _A = webhook_subscriptions, webhook_deliveries, webhook_attempts


def _port_ok(parts: SplitResult) -> bool:
    try:
        return parts.port is None or parts.port > 0
    except ValueError:  # not a number, or past 65535
        return False


def _problems(conn: Connection, values: dict[str, Any]) -> list[FieldError]:
    found: list[FieldError] = []
    if "name" in values:
        name = values["name"].strip()
        if not name or len(name) > 80:
            found.append(FieldError("name", "must be 1 to 80 characters", values["name"]))
    if "url" in values:
        url = values["url"].strip()
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            found.append(FieldError("url", "must be an http or https URL with a host", url))
        elif len(url) > 500:
            found.append(FieldError("url", "must be at most 500 characters", url))
        elif any(c <= " " or c == "\x7f" for c in url):  # no request could be sent to it
            found.append(FieldError("url", "must not contain spaces or control characters", url))
        elif not _port_ok(parts):
            found.append(FieldError("url", "must have a port from 1 to 65535", url))
    for index, kind in enumerate(values.get("event_types") or []):
        if kind not in EVENT_TYPES:
            said = f"unknown event type; one of {', '.join(EVENT_TYPES)}"
            found.append(FieldError(f"event_types.{index}", said, kind))
    for index, kind in enumerate(values.get("alert_kinds") or []):
        if kind not in KINDS:
            said = f"unknown alert kind; one of {', '.join(KINDS)}"
            found.append(FieldError(f"alert_kinds.{index}", said, kind))
    wanted = values.get("products") or []
    if wanted:
        known = set(
            conn.execute(
                select(products.c.code).where(products.c.code.in_(bindparam("c", expanding=True))),
                {"c": list(set(wanted))},
            ).scalars()
        )
        found.extend(
            FieldError(f"products.{i}", "unknown product", code)
            for i, code in enumerate(wanted)
            if code not in known
        )
    secret = values.get("secret")
    if secret is not None and not 16 <= len(secret) <= 128:
        found.append(FieldError("secret", "must be 16 to 128 characters", None))
    return found


def _check_aware(**moments: datetime | None) -> None:
    """Each given time has its UTC offset: a time without one names no instant."""
    said = "needs a UTC offset, e.g. 2026-11-24T08:00:00+08:00"
    naive = [
        FieldError(name, said, value.isoformat())
        for name, value in moments.items()
        if value is not None and value.tzinfo is None
    ]
    if naive:
        first = naive[0].field
        raise report(f"{first}: {said}", naive)


def _check(conn: Connection, values: dict[str, Any]) -> None:
    found = _problems(conn, values)
    if found:
        raise report(f"invalid subscription: {found[0].field} {found[0].message}", found)


def _shown(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "url": row.url,
        "event_types": list(row.event_types),
        "products": list(row.products),
        "alert_kinds": list(row.alert_kinds),
        "active": bool(row.active),
        "created_at": clock.as_moment(row.created_at).isoformat(),
        "created_by": row.created_by,
    }


def _lists_once(values: dict[str, Any]) -> dict[str, Any]:
    """The event types, products and alert kinds each named once, in the order given."""
    for key in ("event_types", "products", "alert_kinds"):
        if values.get(key) is not None:
            values[key] = list(dict.fromkeys(values[key]))
    return values


def _hears_something(event_types: list[str], alert_kinds: list[str]) -> None:
    """A subscription hears at least one event type or alert kind (made or changed)."""
    if not (event_types or alert_kinds):
        said = "name at least one event type or alert kind"
        raise ValidationError(said, [FieldError("event_types", said, None)])


def create_subscription(db: Database, actor: Actor, data: SubscriptionIn) -> dict[str, Any]:
    """A new active subscription; the answer holds its secret, shown this once."""
    actor.require(PERMISSION)
    values = _lists_once(data.model_dump())
    _hears_something(values["event_types"], values["alert_kinds"])
    secret = values.pop("secret") or f"whsec_{secrets.token_urlsafe(24)}"
    with db.write() as conn:
        _check(conn, {**values, "secret": secret})
        row = {
            **values,
            "name": values["name"].strip(),
            "url": values["url"].strip(),
            "secret": secret,
            "active": True,
            "created_at": clock.now(),
            "created_by": actor.username,
        }
        new = conn.execute(insert(_S).values(**row).returning(_S.c.id)).scalar_one()
        shown = _shown(conn.execute(select(_S).where(_S.c.id == new)).one())
        audit.append(conn, actor, "create", "webhook_subscription", str(new), None, shown)
    return {**shown, "secret": secret}


def _id(value: int) -> int:
    """An id as the database can hold it (another is no row's: 0 finds nothing)."""
    return value if 0 < value < 2**62 else 0


def _one(conn: Connection, subscription_id: int) -> Any:
    row = conn.execute(select(_S).where(_S.c.id == _id(subscription_id))).first()
    if row is None:
        raise NotFound(
            f"no webhook subscription {subscription_id}",
            [FieldError("id", "unknown", subscription_id)],
        )
    return row


def list_subscriptions(db: Database, actor: Actor) -> list[dict[str, Any]]:
    actor.require(PERMISSION)
    with db.read() as conn:
        return [_shown(r) for r in conn.execute(select(_S).order_by(_S.c.id))]


def get_subscription(db: Database, actor: Actor, subscription_id: int) -> dict[str, Any]:
    actor.require(PERMISSION)
    with db.read() as conn:
        return _shown(_one(conn, subscription_id))


def update_subscription(
    db: Database, actor: Actor, subscription_id: int, data: SubscriptionPatch
) -> dict[str, Any]:
    """Change what a subscription hears or where it sends; `active: false` pauses it."""
    actor.require(PERMISSION)
    values = _lists_once(data.model_dump(exclude_none=True))
    with db.write() as conn:
        before = _shown(_one(conn, subscription_id))
        _hears_something(
            values.get("event_types", before["event_types"]),
            values.get("alert_kinds", before["alert_kinds"]),
        )
        _check(conn, values)
        for key in ("name", "url"):
            if key in values:
                values[key] = values[key].strip()
        if values:
            conn.execute(update(_S).where(_S.c.id == subscription_id).values(**values))
        after = _shown(_one(conn, subscription_id))
        audit.append(
            conn, actor, "update", "webhook_subscription", str(subscription_id), before, after
        )
    return after


def delete_subscription(db: Database, actor: Actor, subscription_id: int) -> None:
    """Remove a subscription with its deliveries and their attempts."""
    actor.require(PERMISSION)
    with db.write() as conn:
        before = _shown(_one(conn, subscription_id))
        mine = select(_D.c.id).where(_D.c.subscription_id == subscription_id)
        conn.execute(delete(_A).where(_A.c.delivery_id.in_(mine)))
        conn.execute(delete(_D).where(_D.c.subscription_id == subscription_id))
        conn.execute(delete(_S).where(_S.c.id == subscription_id))
        audit.append(conn, actor, "delete", "webhook_subscription", str(subscription_id), before)


# --- the delivery log --------------------------------------------------------------------


def _delivery(row: Any, attempts: list[dict[str, Any]]) -> dict[str, Any]:
    def at(value: Any) -> str | None:
        return clock.as_moment(value).isoformat() if value is not None else None

    return {
        "id": row.id,
        "subscription_id": row.subscription_id,
        "source": row.source,
        "kind": row.kind,
        "status": row.status,
        "attempts": row.attempts,
        "created_at": at(row.created_at),
        "next_at": at(row.next_at) if row.status == "pending" else None,
        "done_at": at(row.done_at),
        "payload": row.payload,
        "log": attempts,
    }


def _attempts(conn: Connection, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = conn.execute(
        select(_A)
        .where(_A.c.delivery_id.in_(bindparam("ids", expanding=True)))
        .order_by(_A.c.delivery_id, _A.c.id),
        {"ids": ids},
    )
    for r in rows:
        out[r.delivery_id].append(
            {
                "at": clock.as_moment(r.at).isoformat(),
                "http_status": r.http_status,
                "error": r.error,
                "ms": r.ms,
            }
        )
    return out


def deliveries(
    db: Database,
    actor: Actor,
    *,
    status: str | None = None,
    subscription: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """The delivery log, newest first, each delivery with its attempts."""
    actor.require(PERMISSION)
    _check_aware(since=since, until=until)
    if status is not None and status not in STATUSES:
        raise ValidationError(
            f"status: one of {', '.join(STATUSES)}", [FieldError("status", "unknown", status)]
        )
    where = []
    if status is not None:
        where.append(_D.c.status == status)
    if subscription is not None:
        where.append(_D.c.subscription_id == _id(subscription))
    if since is not None:
        where.append(_D.c.created_at >= since)
    if until is not None:
        where.append(_D.c.created_at < until)
    with db.read() as conn:
        total = conn.execute(select(func.count()).select_from(_D).where(*where)).scalar_one()
        rows = conn.execute(
            select(_D).where(*where).order_by(_D.c.id.desc()).limit(limit).offset(offset)
        ).all()
        log = _attempts(conn, [r.id for r in rows])
    return {"total": total, "items": [_delivery(r, log[r.id]) for r in rows]}


def delivery(db: Database, actor: Actor, delivery_id: int) -> dict[str, Any]:
    actor.require(PERMISSION)
    with db.read() as conn:
        row = _delivery_row(conn, delivery_id)
        return _delivery(row, _attempts(conn, [row.id])[row.id])


def _delivery_row(conn: Connection, delivery_id: int) -> Any:
    row = conn.execute(select(_D).where(_D.c.id == _id(delivery_id))).first()
    if row is None:
        raise NotFound(
            f"no webhook delivery {delivery_id}", [FieldError("id", "unknown", delivery_id)]
        )
    return row


def _requeue(conn: Connection, *where: Any) -> int:
    moment = clock.now()
    done = conn.execute(
        update(_D)
        .where(*where)
        .values(
            status="pending", attempts=0, queued_at=moment, next_at=moment, claim=None, done_at=None
        )
    )
    return int(done.rowcount)


def replay(db: Database, actor: Actor, delivery_id: int) -> dict[str, Any]:
    """Send one delivery again (delivered, dead or pending): due now, a day of tries again."""
    actor.require(PERMISSION)
    with db.write() as conn:
        _delivery_row(conn, delivery_id)
        _requeue(conn, _D.c.id == delivery_id)
        audit.append(conn, actor, "replay", "webhook_delivery", str(delivery_id))
        row = _delivery_row(conn, delivery_id)
        return _delivery(row, _attempts(conn, [delivery_id])[delivery_id])


def replay_range(
    db: Database, actor: Actor, subscription_id: int, span: ReplayRange
) -> dict[str, Any]:
    """Send again every delivery of a subscription made in [from, to)."""
    actor.require(PERMISSION)
    _check_aware(**{"from": span.from_, "to": span.to})
    if span.to <= span.from_:
        said = "must be after from"
        raise ValidationError(f"to: {said}", [FieldError("to", said, span.to.isoformat())])
    with db.write() as conn:
        _one(conn, subscription_id)
        count = _requeue(
            conn,
            _D.c.subscription_id == subscription_id,
            _D.c.created_at >= span.from_,
            _D.c.created_at < span.to,
        )
        summary = {"from": span.from_.isoformat(), "to": span.to.isoformat(), "count": count}
        key = str(subscription_id)
        audit.append(conn, actor, "replay", "webhook_subscription", key, None, summary)
    return {"subscription_id": subscription_id, "replayed": count}
