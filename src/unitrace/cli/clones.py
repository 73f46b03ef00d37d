"""`unitrace clones …`: clone alerts (克隆码) — list, show, acknowledge, close."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from unitrace.access.principal import SYSTEM
from unitrace.cli.common import console, database, handle_errors
from unitrace.verify import clone_alerts

clones_app = typer.Typer(help="Clone alerts of verification codes.", no_args_is_help=True)


@clones_app.command("list")
@handle_errors
def list_command(
    status: Annotated[str, typer.Option(help="open, acknowledged, closed or all")] = "open",
    rule: Annotated[str | None, typer.Option(help="checks, devices or travel")] = None,
    product: Annotated[str | None, typer.Option()] = None,
    region: Annotated[str | None, typer.Option()] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Clone alerts, last breached first."""
    found = clone_alerts.list_alerts(
        database(),
        SYSTEM,
        status=None if status == "all" else status,
        rule=rule,
        product=product,
        region=region,
    )
    if as_json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return
    for a in found:
        console.print(
            f"{a['id']}\t{a['status']}\t{a['rule']}\t{a['product']}\t{a['serial']}\t"
            f"{a['code']}\t{a['count']}\t{a['region'] or '-'}\t{a['last_at']}",
            highlight=False,
        )
    console.print(f"{len(found)} alerts", highlight=False)


@clones_app.command("show")
@handle_errors
def show_command(alert_id: int) -> None:
    """One alert with its code's verifications."""
    print(json.dumps(clone_alerts.show(database(), SYSTEM, alert_id), ensure_ascii=False, indent=2))


@clones_app.command("ack")
@handle_errors
def ack_command(alert_id: int, note: Annotated[str, typer.Option()] = "") -> None:
    """Acknowledge an alert."""
    clone_alerts.settle(database(), SYSTEM, alert_id, "acknowledged", note)
    console.print(f"alert {alert_id} acknowledged", highlight=False)


@clones_app.command("close")
@handle_errors
def close_command(alert_id: int, note: Annotated[str, typer.Option()]) -> None:
    """Close an alert with a note saying how it was settled."""
    clone_alerts.settle(database(), SYSTEM, alert_id, "closed", note)
    console.print(f"alert {alert_id} closed", highlight=False)
