"""`unitrace owners SERIAL`: a unit's registration by its buyer (with the buyer's contact:
personal data) and its owner history. Audited like every read of it (actor `system`)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape

from unitrace.access.principal import SYSTEM
from unitrace.cli.common import console, database, handle_errors
from unitrace.verify import owners


@handle_errors
def owners_command(
    serial: str,
    product: Annotated[str | None, typer.Option(help="when the serial is ambiguous")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Show the unit's buyer registration (purchase date, region, name, phone, email) and its
    owners (since, until). Personal data: the read is recorded in the audit trail."""
    found = owners.history(database(), SYSTEM, serial, product)
    if as_json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return
    lines = [f"{found['product']} {found['serial']}"]
    reg = found["registration"]
    if reg is None:
        lines.append("registration  none")
    else:
        contact = ", ".join(x for x in (reg["name"], reg["phone"], reg["email"]) if x)
        lines.append(f"registration  bought {reg['purchase_date']} in {reg['region']}")
        lines.append(f"              registered {reg['registered_at']}")
        lines.append(f"buyer         {contact}")
    for owner in found["owners"]:
        until = "current" if owner["current"] else f"until {owner['until']}"
        lines.append(f"owner         since {owner['since']}, {until}")
    for line in lines:
        console.print(escape(line), highlight=False)
