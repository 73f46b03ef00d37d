"""`unitrace ship`, `unitrace inventory`, `unitrace diversion` and `unitrace stocktake`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from unitrace.access.principal import SYSTEM
from unitrace.channel import service as channel
from unitrace.channel import stocktake
from unitrace.channel.service import ShipmentIn
from unitrace.cli.common import console, database, handle_errors, scanned_lines, validated

if TYPE_CHECKING:
    from unitrace.ledger.write import Recorded

diversion_app = typer.Typer(help="Diversion (窜货) alerts.", no_args_is_help=True)
stocktake_app = typer.Typer(help="Stocktakes.", no_args_is_help=True)


@handle_errors
def ship_command(
    party: str,
    serials: Annotated[list[str] | None, typer.Argument(help="serials or FROM..TO ranges")] = None,
    product: Annotated[str | None, typer.Option()] = None,
    number: Annotated[str | None, typer.Option(help="delivery note number")] = None,
    from_file: Annotated[Path | None, typer.Option(help="serials or ranges, one a line")] = None,
    carton: Annotated[
        list[str] | None, typer.Option(help="a carton or pallet shipped whole")
    ] = None,
) -> None:
    """Ship serials, ranges (SN000100..SN000299) and cartons to a party: all or none."""
    items = list(serials or [])
    if from_file is not None:
        items += [line.strip() for line in scanned_lines(from_file) if line.strip()]
    singles = [i for i in items if ".." not in i]
    ranges = [{"from": i.split("..")[0], "to": i.split("..")[-1]} for i in items if ".." in i]
    data = validated(
        ShipmentIn,
        party=party,
        product=product,
        number=number,
        serials=singles,
        ranges=ranges,
        containers=list(carton or []),
    )
    made = channel.create_shipment(database(), SYSTEM, data)
    console.print(
        escape(f"{made['number']}: {made['unit_count']} units shipped to {party}"), highlight=False
    )


@handle_errors
def pack_command(
    container: Annotated[str, typer.Argument(help="the carton or pallet (label or SSCC)")],
    serials: Annotated[list[str] | None, typer.Argument(help="units to pack")] = None,
    product: Annotated[str | None, typer.Option()] = None,
    carton: Annotated[list[str] | None, typer.Option(help="a carton to put on the pallet")] = None,
    pallet: Annotated[bool, typer.Option(help="a new container is a pallet")] = False,
) -> None:
    """Pack units into a carton, or cartons onto a pallet (made on its first pack)."""
    done = _record(
        type="pack",
        container=container,
        product=product,
        serials=serials or [],
        containers=carton or [],
        container_kind="pallet" if pallet else None,
    )
    console.print(escape(f"packed into {container}: {done.unit_count} units"), highlight=False)


@handle_errors
def unpack_command(
    container: Annotated[str, typer.Argument(help="the carton or pallet")],
    serials: Annotated[
        list[str] | None,
        typer.Argument(help="units to take out (default all)"),
    ] = None,
    product: Annotated[str | None, typer.Option()] = None,
    carton: Annotated[
        list[str] | None, typer.Option(help="a carton to take off the pallet")
    ] = None,
) -> None:
    """Take units out of a carton or cartons off a pallet; everything when none is named."""
    done = _record(
        type="unpack",
        container=container,
        product=product,
        serials=serials or [],
        containers=carton or [],
    )
    console.print(escape(f"unpacked {container}: {done.unit_count} units out"), highlight=False)


def _record(**values: Any) -> Recorded:
    from unitrace.ledger import service as ledger
    from unitrace.ledger.schemas import EventIn

    return ledger.record_events(database(), SYSTEM, [validated(EventIn, **values)])[0]


@handle_errors
def container_command(
    code: Annotated[str, typer.Argument(help="label or SSCC")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A carton or pallet: where it is, what is in it, its events."""
    found = channel.container(database(), SYSTEM, code)
    assert found is not None
    if as_json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return
    where = found["location"] or found["holder"] or "-"
    on_pallet = f", on pallet {found['pallet']}" if found["pallet"] else ""
    summary = f"{found['kind']} {found['code']} at {where}: {found['unit_count']} units"
    console.print(escape(summary + on_pallet), highlight=False)
    for child in found["containers"]:
        console.print(escape(f"  {child['kind']} {child['code']}"), highlight=False)
    for unit in found["units"]:
        console.print(
            escape(f"  {unit['product']}/{unit['serial']} {unit['status']}"), highlight=False
        )


@handle_errors
def inventory_command(
    by: Annotated[
        str,
        typer.Option(help="product, lot, location, status (comma separated)"),
    ] = "product,location",
    product: Annotated[str | None, typer.Option()] = None,
    location: Annotated[str | None, typer.Option()] = None,
    status: Annotated[str | None, typer.Option(help="default in_stock")] = None,
) -> None:
    """Units on hand counted from the ledger's projection."""
    groups = [b.strip() for b in by.split(",") if b.strip()]
    found = channel.inventory(
        database(), SYSTEM, groups, product=product, location=location, status=status
    )
    table = Table(*groups, "units")
    for item in found["items"]:
        table.add_row(*[escape(str(item[g] or "-")) for g in groups], str(item["units"]))
    console.print(table)


@diversion_app.command("list")
@handle_errors
def diversion_list(
    status: Annotated[str, typer.Option(help="open, acknowledged, closed or all")] = "open",
    party: Annotated[str | None, typer.Option()] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Diversion alerts: unit, distributor, shipment, expected and seen region."""
    wanted = None if status == "all" else status
    found = channel.list_alerts(database(), SYSTEM, status=wanted, party=party)
    if as_json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return
    table = Table("id", "serial", "distributor", "shipment", "expected", "seen", "source", "status")
    for a in found:
        row = (
            a["id"],
            a["serial"],
            a["distributor"],
            a["shipment"] or "",
            ",".join(a["expected_regions"]),
            a["seen_region"],
            a["source"],
            a["status"],
        )
        table.add_row(*[escape(str(v)) for v in row])
    console.print(table)


@diversion_app.command("close")
@handle_errors
def diversion_close(alert_id: int, note: Annotated[str, typer.Option()]) -> None:
    """Close an alert with a note saying how it was settled."""
    channel.settle_alert(database(), SYSTEM, alert_id, "closed", note)
    console.print(f"alert {alert_id} closed")


@stocktake_app.command("open")
@handle_errors
def stocktake_open(code: str, locations: list[str]) -> None:
    """Open a count for locations."""
    found = stocktake.open_count(database(), SYSTEM, code, locations)
    console.print(escape(f"{code}: {found['expected']} units expected"), highlight=False)


@stocktake_app.command("scan")
@handle_errors
def stocktake_scan(code: str, location: str, from_file: Path) -> None:
    """Record the serials of a file (one a line) as scanned at a location."""
    counted = 0
    for line in scanned_lines(from_file):
        if line.strip():
            counted += stocktake.scan(database(), SYSTEM, code, line, location)["counted"]
    console.print(f"{counted} serials counted", highlight=False)


@stocktake_app.command("close")
@handle_errors
def stocktake_close(code: str) -> None:
    """Close the count and print the report."""
    report = stocktake.close_count(database(), SYSTEM, code)
    for kind in ("missing", "unexpected", "misplaced"):
        console.print(f"{kind}: {len(report[kind])}", highlight=False)
        for item in report[kind]:
            console.print(
                escape(f"  {item['serial']} {json.dumps(item, ensure_ascii=False)}"),
                highlight=False,
            )
