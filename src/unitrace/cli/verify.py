"""`unitrace verify …`: a product's verification settings, codes for its existing units, the
codes as CSV, and PINs (written once)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from unitrace.access.principal import SYSTEM
from unitrace.cli.common import console, database, handle_errors
from unitrace.verify import clone_alerts, regions, settings

verify_app = typer.Typer(
    help="Verification codes of products (authenticity).", no_args_is_help=True
)
OutFile = Annotated[Path, typer.Option("--out", help="the CSV file to write")]


@verify_app.command("settings")
@handle_errors
def settings_command(
    product: str,
    enable: Annotated[bool | None, typer.Option("--enable/--disable")] = None,
    pin: Annotated[bool | None, typer.Option("--pin/--no-pin")] = None,
    ownership: Annotated[bool | None, typer.Option("--ownership/--no-ownership")] = None,
    max_checks: Annotated[int | None, typer.Option()] = None,
    max_devices: Annotated[int | None, typer.Option()] = None,
    max_speed_kmh: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Show a product's verification settings, or change the ones given."""
    given: dict[str, Any] = {
        "enabled": enable,
        "pin": pin,
        "ownership": ownership,
        "max_checks": max_checks,
        "max_devices": max_devices,
        "max_speed_kmh": max_speed_kmh,
    }
    changes = {k: v for k, v in given.items() if v is not None}
    db = database()
    found = (
        settings.put(db, SYSTEM, product, changes) if changes else settings.get(db, SYSTEM, product)
    )
    print(json.dumps(found, ensure_ascii=False, indent=2))


@verify_app.command("issue")
@handle_errors
def issue_command(product: str) -> None:
    """Codes for the product's units without one (running it again makes none)."""
    result = settings.issue(database(), SYSTEM, product)
    console.print(f"{result.made} codes made, {result.existing} units had one", highlight=False)


@verify_app.command("codes")
@handle_errors
def codes_command(product: str, out: OutFile) -> None:
    """The product's codes as CSV: serial, code, url."""
    count = settings.export(database(), SYSTEM, product, out)
    console.print(f"{count} codes written to {out}", highlight=False)


@verify_app.command("pins")
@handle_errors
def pins_command(product: str, out: OutFile) -> None:
    """A PIN for every code without one, written once to the CSV (serial, code, pin): keep the
    file safe, the PINs are not shown again."""
    if out.exists():
        # a second run must never overwrite the only copy of the PINs of the first
        raise typer.BadParameter(f"{out} exists: PINs go to a new file", param_hint="--out")
    result = settings.pins(database(), SYSTEM, product, out)
    console.print(
        f"{result.made} PINs written to {out}; {result.skipped} codes had a PIN", highlight=False
    )


@verify_app.command("regions")
@handle_errors
def regions_command(
    file: Annotated[
        Path | None, typer.Argument(help="CSV: cidr,region or start,end,region")
    ] = None,
    sample: Annotated[bool, typer.Option(help="load the shipped sample (not real data)")] = False,
) -> None:
    """Load the table of address ranges → region that places a verification when the user
    does not choose a region (replaces the table; all or nothing)."""
    if (file is None) == (not sample):
        raise typer.BadParameter("give a CSV file or --sample (one of the two)", param_hint="FILE")
    path = regions.SAMPLE if sample else file
    assert path is not None
    count = regions.load(database(), path)
    console.print(f"{count} address ranges loaded from {path.name}", highlight=False)


@verify_app.command("compromise")
@handle_errors
def compromise_command(code: str, reason: Annotated[str, typer.Option()]) -> None:
    """Mark a code compromised: later verifications answer a warning (audited)."""
    found = clone_alerts.compromise(database(), SYSTEM, code, reason)
    console.print(f"code {found['code']} marked compromised", highlight=False)


@verify_app.command("restore")
@handle_errors
def restore_command(code: str) -> None:
    """Take a code's compromised mark away (audited)."""
    found = clone_alerts.restore(database(), SYSTEM, code)
    console.print(f"code {found['code']} restored", highlight=False)
