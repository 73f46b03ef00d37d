"""The webhooks API: subscriptions, the delivery log with every attempt, replays
(`webhooks.manage`: administrators)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Response

from unitrace.api.deps import CurrentActor, DatabaseDep

from . import service
from .schemas import ReplayRange, SubscriptionIn, SubscriptionPatch

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.get("/subscriptions")
def list_subscriptions(db: DatabaseDep, actor: CurrentActor) -> list[dict[str, Any]]:
    """Every subscription (without its secret)."""
    return service.list_subscriptions(db, actor)


@router.post("/subscriptions", status_code=201)
def create_subscription(
    data: SubscriptionIn, db: DatabaseDep, actor: CurrentActor
) -> dict[str, Any]:
    """A new subscription; the answer holds its signing secret, shown this once."""
    return service.create_subscription(db, actor, data)


@router.get("/subscriptions/{subscription_id}")
def get_subscription(subscription_id: int, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    return service.get_subscription(db, actor, subscription_id)


@router.patch("/subscriptions/{subscription_id}")
def update_subscription(
    subscription_id: int, data: SubscriptionPatch, db: DatabaseDep, actor: CurrentActor
) -> dict[str, Any]:
    """Change what it hears or where it sends; `{"active": false}` pauses it."""
    return service.update_subscription(db, actor, subscription_id, data)


@router.delete("/subscriptions/{subscription_id}", status_code=204)
def delete_subscription(subscription_id: int, db: DatabaseDep, actor: CurrentActor) -> Response:
    """Remove it with its deliveries and their attempts."""
    service.delete_subscription(db, actor, subscription_id)
    return Response(status_code=204)


@router.post("/subscriptions/{subscription_id}/replay")
def replay_range(
    subscription_id: int, span: ReplayRange, db: DatabaseDep, actor: CurrentActor
) -> dict[str, Any]:
    """Send again every delivery of the subscription made in [from, to)."""
    return service.replay_range(db, actor, subscription_id, span)


@router.get("/deliveries")
def list_deliveries(
    db: DatabaseDep,
    actor: CurrentActor,
    status: Literal["pending", "delivered", "dead"] | None = None,
    subscription: int | None = None,
    since: datetime | None = Query(default=None, description="made at or after"),
    until: datetime | None = Query(default=None, description="made before"),
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=10**9),
) -> dict[str, Any]:
    """The delivery log, newest first, each delivery with its attempts (time, HTTP status or
    error, response time)."""
    return service.deliveries(
        db,
        actor,
        status=status,
        subscription=subscription,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )


@router.get("/deliveries/{delivery_id}")
def get_delivery(delivery_id: int, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    return service.delivery(db, actor, delivery_id)


@router.post("/deliveries/{delivery_id}/replay")
def replay_delivery(delivery_id: int, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """Send the delivery again: due now, with a day of attempts."""
    return service.replay(db, actor, delivery_id)
