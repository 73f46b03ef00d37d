"""The webhooks page (administrators): subscriptions — add, pause, resume — and the delivery
log with every attempt and a replay button for each delivery."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError as PydanticValidationError

from unitrace.api.problems import status_of
from unitrace.config import site_timezone
from unitrace.core.errors import Forbidden, UnitraceError, invalid
from unitrace.core.lifecycle import EVENT_TYPES
from unitrace.core.signals import KINDS
from unitrace.interop.webhooks import service
from unitrace.interop.webhooks.schemas import ReplayRange, SubscriptionIn, SubscriptionPatch
from unitrace.web.common import (
    csrf_ok,
    database,
    expired_form,
    form_errors,
    page_forbidden,
    read_form,
    render,
    require_login,
)

router = APIRouter(include_in_schema=False)
STATUSES = ("", *service.STATUSES)


def _page(
    request: Request, actor: Any, csrf: str, status: int = 200, shown: str = "", **extra: Any
) -> Response:
    db = database(request)
    wanted = shown if shown in STATUSES else ""
    try:
        subscriptions = service.list_subscriptions(db, actor)
        log = service.deliveries(db, actor, status=wanted or None, limit=50)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    names = {s["id"]: s["name"] for s in subscriptions}
    return render(
        request,
        "webhooks.html",
        status,
        user=actor,
        csrf=csrf,
        subscriptions=subscriptions,
        deliveries=log["items"],
        total=log["total"],
        names=names,
        wanted=wanted,
        statuses=STATUSES,
        event_types=EVENT_TYPES,
        alert_kinds=KINDS,
        form=extra.pop("form", {}),
        queued=extra.pop("queued", None),
        **extra,
    )


@router.get("/webhooks")
def webhooks_page(request: Request, status: str = "", queued: str = "") -> Response:
    """Subscriptions and the latest deliveries (with `status`: only those); `queued`: how many
    a range replay queued again."""
    actor, csrf = require_login(request)
    count = int(queued) if queued.isdigit() and len(queued) < 10 else None
    return _page(request, actor, csrf, shown=status, queued=count)


@router.post("/webhooks")
async def add_subscription(request: Request) -> Response:
    """Add a subscription; the page shows its secret this once."""
    actor, csrf = require_login(request)
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    if not csrf_ok(csrf, values, request):
        return _page(request, actor, csrf, 400, errors=expired_form(), form=values)
    products = [p.strip() for p in values.get("products", "").split(",") if p.strip()]
    try:
        data = SubscriptionIn(
            name=values.get("name", ""),
            url=values.get("url", ""),
            event_types=[str(v) for v in form.getlist("event_types")],
            products=products,
            alert_kinds=[str(v) for v in form.getlist("alert_kinds")],
        )
        made = service.create_subscription(database(request), actor, data)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except (UnitraceError, PydanticValidationError) as error:
        status = status_of(error) if isinstance(error, UnitraceError) else 400
        return _page(request, actor, csrf, status, errors=form_errors(error), form=values)
    return _page(request, actor, csrf, 201, made=made)


def _moment(text: str, name: str) -> datetime:
    """A `datetime-local` field's value, in the site's time zone."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise invalid(name, "not a date and time", text) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=site_timezone())


@router.post("/webhooks/replay-range")
async def replay_range(request: Request) -> Response:
    """Send again a subscription's deliveries made in [from, to) (times in the site's zone)."""
    actor, csrf = require_login(request)
    values = await read_form(request)
    if not csrf_ok(csrf, values, request):
        return _page(request, actor, csrf, 400, errors=expired_form())
    subscription = values.get("subscription", "")
    try:
        if not subscription.isdigit() or len(subscription) > 12:
            raise invalid("subscription", "unknown", subscription)
        span = ReplayRange.model_validate(
            {
                "from": _moment(values.get("from", ""), "from"),
                "to": _moment(values.get("to", ""), "to"),
            }
        )
        done = service.replay_range(database(request), actor, int(subscription), span)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as error:
        return _page(request, actor, csrf, status_of(error), errors=form_errors(error))
    return RedirectResponse(f"/webhooks?queued={done['replayed']}", status_code=303)


@router.post("/webhooks/subscriptions/{subscription_id}/{action}")
async def subscription_action(request: Request, subscription_id: int, action: str) -> Response:
    """Pause or resume a subscription."""
    actor, csrf = require_login(request)
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    if action not in ("pause", "resume"):
        return RedirectResponse("/webhooks", status_code=303)
    if not csrf_ok(csrf, values, request):
        return _page(request, actor, csrf, 400, errors=expired_form())
    try:
        change = SubscriptionPatch(active=action == "resume")
        service.update_subscription(database(request), actor, subscription_id, change)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as error:
        return _page(request, actor, csrf, status_of(error), errors=form_errors(error))
    return RedirectResponse("/webhooks", status_code=303)


@router.post("/webhooks/deliveries/{delivery_id}/replay")
async def replay_delivery(request: Request, delivery_id: int) -> Response:
    """Send one delivery again."""
    actor, csrf = require_login(request)
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    if not csrf_ok(csrf, values, request):
        return _page(request, actor, csrf, 400, errors=expired_form())
    try:
        service.replay(database(request), actor, delivery_id)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as error:
        return _page(request, actor, csrf, status_of(error), errors=form_errors(error))
    return RedirectResponse(f"/webhooks?replayed={delivery_id}", status_code=303)
