"""`unitrace spares`: the warehouse's pick list of spare-part requests (备件申请), picking
serialised spares for a request by their serials, and cancelling a request."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from unitrace.access.principal import SYSTEM
from unitrace.aftersales import picking
from unitrace.aftersales.schemas import CancelIn, PickIn
from unitrace.cli.common import console, database, handle_errors, validated

spares_app = typer.Typer(help="Spare-part requests (备件申请).", no_args_is_help=True)


@spares_app.command("list")
@handle_errors
def spares_list(
    status: Annotated[
        list[str] | None, typer.Option(help="open, fulfilled, cancelled or all (repeatable)")
    ] = None,
    location: Annotated[str | None, typer.Option(help="where the spares must go")] = None,
    product: Annotated[str | None, typer.Option()] = None,
    case: Annotated[str | None, typer.Option(help="a service case number")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The pick list, oldest first: request, case, product, quantity, arrived, where to."""
    found = picking.pick_list(
        database(), SYSTEM, status or ["open"], location, product, case, limit=limit
    )
    if as_json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return
    table = Table("request", "case", "product", "quantity", "arrived", "to", "status", "in stock")
    for r in found["items"]:
        stock = ", ".join(f"{s['location']} {s['units']}" for s in r.get("stock", []))
        row = (
            r["number"],
            r["case"],
            r["product"],
            r["quantity"],
            r["fulfilled"],
            r["location"],
            r["status"],
            stock,
        )
        table.add_row(*[escape(str(v)) for v in row])
    console.print(table)
    console.print(f"{found['total']} in all")


@spares_app.command("pick")
@handle_errors
def spares_pick(request: str, serials: list[str]) -> None:
    """Send the spares with these serials to the request's service location (one move event);
    all or none."""
    data = validated(PickIn, serials=serials)
    done = picking.pick(database(), SYSTEM, request, data.serials)
    console.print(
        f"{done['number']}: {len(done['serials'])} moved to {done['location']}, "
        f"{done['fulfilled']} of {done['quantity']} arrived ({done['status']}); "
        f"case {done['case']} is {done['case_state']}",
        highlight=False,
        markup=False,
    )


@spares_app.command("cancel")
@handle_errors
def spares_cancel(request: str, reason: Annotated[str, typer.Option()]) -> None:
    """Cancel an open request, saying why."""
    data = validated(CancelIn, reason=reason)
    done = picking.cancel(database(), SYSTEM, request, data.reason)
    console.print(f"{done['number']} cancelled; case {done['case']} is {done['case_state']}")
