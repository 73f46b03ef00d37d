"""`unitrace party …` and `unitrace location …`: add, list, show and change parties and
locations. Each command calls one catalog use case."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from unitrace.access.principal import SYSTEM
from unitrace.catalog import service as catalog
from unitrace.catalog.regions import region_label
from unitrace.catalog.schemas import LocationCreate, LocationUpdate, PartyCreate, PartyUpdate
from unitrace.cli.common import console, database, handle_errors, validated

party_app = typer.Typer(help="Parties: suppliers, distributors, retailers, customers.",
                        no_args_is_help=True)  # fmt: skip
location_app = typer.Typer(help="Locations: sites, warehouses, bins, stations.",
                           no_args_is_help=True)  # fmt: skip

AsJson = Annotated[bool, typer.Option("--json", help="print JSON")]


def _print(found: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return
    table = Table(show_header=False)
    for key, value in found.items():
        if key in ("region", "authorised_regions"):
            regions = value if isinstance(value, list) else [value]
            value = ", ".join(region_label(r) for r in regions if r)
        table.add_row(key, "" if value is None else str(value))
    console.print(table)


def _regions(text: str) -> list[str]:
    return [r.strip() for r in text.replace(";", ",").split(",") if r.strip()]


@party_app.command("add")
@handle_errors
def party_add(
    code: str,
    name: str,
    kind: Annotated[str, typer.Option(help="supplier, distributor, retailer or customer")],
    region: Annotated[str | None, typer.Option(help="e.g. CN-31")] = None,
    authorised_regions: Annotated[
        str, typer.Option(help="distributors, retailers: codes separated by commas")
    ] = "",
    contact: Annotated[str, typer.Option(help="person, telephone, e-mail")] = "",
) -> None:
    """Add a party."""
    data = validated(PartyCreate, code=code, name=name, kind=kind, region=region,
                     authorised_regions=_regions(authorised_regions), contact=contact)  # fmt: skip
    created = catalog.create_party(database(), SYSTEM, data)
    console.print(f"party {created['code']} added", highlight=False)


@party_app.command("list")
@handle_errors
def party_list(
    q: Annotated[str | None, typer.Option(help="code or name")] = None,
    kind: Annotated[str | None, typer.Option()] = None,
    as_json: AsJson = False,
) -> None:
    """List parties with their kind and regions."""
    found = catalog.list_parties(database(), SYSTEM, q, kind, limit=None)
    if as_json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return
    table = Table("code", "name", "kind", "region", "authorised regions", "contact")
    for p in found["items"]:
        table.add_row(p["code"], p["name"], p["kind"], p["region"] or "",
                      ", ".join(p["authorised_regions"]), p["contact"])  # fmt: skip
    console.print(table)


@party_app.command("show")
@handle_errors
def party_show(code: str, as_json: AsJson = False) -> None:
    """One party."""
    _print(catalog.get_party(database(), SYSTEM, code), as_json)


@party_app.command("set")
@handle_errors
def party_set(
    code: str,
    name: Annotated[str | None, typer.Option()] = None,
    kind: Annotated[str | None, typer.Option()] = None,
    region: Annotated[str | None, typer.Option(help='"" clears it')] = None,
    authorised_regions: Annotated[
        str | None, typer.Option(help='the whole list, separated by commas; "" clears it')
    ] = None,
    contact: Annotated[str | None, typer.Option()] = None,
    as_json: AsJson = False,
) -> None:
    """Change a party: only the options given change."""
    values: dict[str, Any] = {"name": name, "kind": kind, "contact": contact}
    values = {k: v for k, v in values.items() if v is not None}
    if region is not None:
        values["region"] = region or None
    if authorised_regions is not None:
        values["authorised_regions"] = _regions(authorised_regions)
    changed = catalog.update_party(database(), SYSTEM, code, validated(PartyUpdate, **values))
    _print(changed, as_json)


@location_app.command("add")
@handle_errors
def location_add(
    code: str,
    name: str,
    kind: Annotated[str, typer.Option(help="site, warehouse, bin or station")],
    parent: Annotated[str | None, typer.Option(help="the code of the location it is in")] = None,
    region: Annotated[str | None, typer.Option(help="e.g. CN-44")] = None,
) -> None:
    """Add a location."""
    data = validated(LocationCreate, code=code, name=name, kind=kind, parent=parent,
                     region=region)  # fmt: skip
    created = catalog.create_location(database(), SYSTEM, data)
    console.print(f"location {created['code']} added", highlight=False)


@location_app.command("list")
@handle_errors
def location_list(as_json: AsJson = False) -> None:
    """All locations as a tree: site → warehouse → bin."""
    found = catalog.list_locations(database(), SYSTEM, limit=None)
    if as_json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return
    table = Table("code", "name", "kind", "region")
    for depth, loc in catalog.location_tree(found["items"]):
        table.add_row("  " * depth + loc["code"], loc["name"], loc["kind"], loc["region"] or "")
    console.print(table)


@location_app.command("show")
@handle_errors
def location_show(code: str, as_json: AsJson = False) -> None:
    """One location."""
    _print(catalog.get_location(database(), SYSTEM, code), as_json)


@location_app.command("set")
@handle_errors
def location_set(
    code: str,
    name: Annotated[str | None, typer.Option()] = None,
    kind: Annotated[str | None, typer.Option()] = None,
    parent: Annotated[
        str | None, typer.Option(help='a location\'s code; "" puts it at the top')
    ] = None,
    region: Annotated[str | None, typer.Option(help='"" clears it')] = None,
    as_json: AsJson = False,
) -> None:
    """Change a location: only the options given change."""
    values: dict[str, Any] = {
        k: v for k, v in {"name": name, "kind": kind}.items() if v is not None
    }
    if parent is not None:
        values["parent"] = parent or None
    if region is not None:
        values["region"] = region or None
    changed = catalog.update_location(database(), SYSTEM, code, validated(LocationUpdate, **values))
    _print(changed, as_json)
