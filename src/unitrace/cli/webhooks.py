"""`unitrace webhooks …`: subscriptions, the delivery log, replays; `unitrace worker`: the
delivery worker on its own (when `serve` runs with `UNITRACE_WEBHOOKS_WORKER=off`)."""

from __future__ import annotations

import json
import signal
import threading
from datetime import datetime
from typing import Annotated, Any

import typer

from unitrace.access.principal import SYSTEM
from unitrace.cli.common import console, database, handle_errors, validated
from unitrace.config import site_timezone
from unitrace.interop.webhooks import service, worker
from unitrace.interop.webhooks.schemas import ReplayRange, SubscriptionIn

webhooks_app = typer.Typer(help="Webhook subscriptions and deliveries.", no_args_is_help=True)


def _listed(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


@webhooks_app.command("add")
@handle_errors
def add_command(
    name: str,
    url: str,
    events: Annotated[str, typer.Option(help="event types, comma-separated")] = "",
    products: Annotated[str, typer.Option(help="product codes; none: every product")] = "",
    alerts: Annotated[str, typer.Option(help="diversion, clone, recall, claim")] = "",
    secret: Annotated[str | None, typer.Option(help="signing secret; unset: made")] = None,
) -> None:
    """Add a subscription; its signing secret is printed this once."""
    data = validated(
        SubscriptionIn,
        name=name,
        url=url,
        event_types=_listed(events),
        products=_listed(products),
        alert_kinds=_listed(alerts),
        secret=secret,
    )
    made = service.create_subscription(database(), SYSTEM, data)
    console.print(
        f"subscription {made['id']} added; secret (shown once): {made['secret']}",
        highlight=False,
        soft_wrap=True,
    )


@webhooks_app.command("list")
@handle_errors
def list_command(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every subscription."""
    found = service.list_subscriptions(database(), SYSTEM)
    if as_json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return
    for s in found:
        what = ",".join([*s["event_types"], *s["alert_kinds"]])
        console.print(
            f"{s['id']}\t{'active' if s['active'] else 'paused'}\t{s['name']}\t{s['url']}\t"
            f"{what}\t{','.join(s['products']) or '*'}",
            highlight=False,
            soft_wrap=True,
        )


@webhooks_app.command("deliveries")
@handle_errors
def deliveries_command(
    status: Annotated[str | None, typer.Option(help="pending, delivered or dead")] = None,
    subscription: Annotated[int | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The delivery log, newest first, with the last attempt of each."""
    found = service.deliveries(
        database(), SYSTEM, status=status, subscription=subscription, limit=limit
    )
    if as_json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return
    for d in found["items"]:
        last: dict[str, Any] = d["log"][-1] if d["log"] else {}
        answer = last.get("http_status") or last.get("error") or "-"
        console.print(
            f"{d['id']}\t{d['status']}\t{d['subscription_id']}\t{d['source']}\t{d['kind']}\t"
            f"{d['attempts']}\t{answer}\t{last.get('ms', '-')} ms\t{d['created_at']}",
            highlight=False,
            soft_wrap=True,
        )
    console.print(f"{found['total']} deliveries", highlight=False)


@webhooks_app.command("replay")
@handle_errors
def replay_command(
    delivery: Annotated[int | None, typer.Argument(help="a delivery's id")] = None,
    subscription: Annotated[int | None, typer.Option(help="replay a time range of it")] = None,
    since: Annotated[datetime | None, typer.Option("--from")] = None,
    until: Annotated[datetime | None, typer.Option("--to")] = None,
) -> None:
    """Send one delivery again, or every delivery of a subscription made in [from, to)."""
    db = database()
    if delivery is not None:
        service.replay(db, SYSTEM, delivery)
        console.print(f"delivery {delivery} queued again", highlight=False)
        return
    if subscription is None or since is None or until is None:
        raise typer.BadParameter("give a delivery id, or --subscription with --from and --to")
    zone = site_timezone()  # a time without its offset is the site's, as on the page
    since = since if since.tzinfo else since.replace(tzinfo=zone)
    until = until if until.tzinfo else until.replace(tzinfo=zone)
    span = validated(ReplayRange, **{"from": since, "to": until})
    done = service.replay_range(db, SYSTEM, subscription, span)
    console.print(f"{done['replayed']} deliveries queued again", highlight=False)


@handle_errors
def worker_command(
    poll: Annotated[float, typer.Option(min=0.1, help="seconds between looks when idle")] = 1.0,
    once: Annotated[bool, typer.Option(help="send what is due now, then stop")] = False,
) -> None:
    """Deliver webhooks until stopped (Ctrl-C or SIGTERM)."""
    db = database()
    if once:
        tried = 0
        while sent := worker.work_once(db):
            tried += sent
        console.print(f"{tried} deliveries tried", highlight=False)
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    console.print("webhook worker running", highlight=False)
    try:
        worker.run(db, stop, poll)
    except KeyboardInterrupt:
        stop.set()
