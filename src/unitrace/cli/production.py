"""`unitrace trace`, `unitrace recall`, `unitrace quality` and the product's BOM and route."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from unitrace.access.principal import SYSTEM
from unitrace.cli.common import console, database, handle_errors, validated
from unitrace.production import quality, recall, service, trace
from unitrace.production.schemas import BomIn, RecallIn, RouteIn, TraceQuery

trace_app = typer.Typer(help="Genealogy trace, backward and forward.", no_args_is_help=True)
recall_app = typer.Typer(help="Recall campaigns.", no_args_is_help=True)
quality_app = typer.Typer(help="Quality figures.", no_args_is_help=True)


def _json_file(path: Path) -> Any:
    from unitrace.core.errors import invalid

    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise invalid("file", f"cannot read JSON from {path}: {exc}", str(path)) from None
    if not isinstance(found, dict):
        raise invalid("file", f"{path} must hold one JSON object", str(path))
    return found


def bom_command(code: str, file: Path) -> None:
    """Set a product's bill of materials from a JSON file ({"policy": ..., "lines": [...]})."""
    bom = service.set_bom(database(), SYSTEM, code, validated(BomIn, **_json_file(file)))
    console.print(f"{code}: {len(bom['lines'])} BOM lines, policy {bom['policy']}", highlight=False)


def route_command(code: str, file: Path) -> None:
    """Set a product's route from a JSON file ({"steps": [{"code", "name", "required"}]})."""
    route = service.set_route(database(), SYSTEM, code, validated(RouteIn, **_json_file(file)))
    console.print(
        f"{code}: route " + " → ".join(s["code"] for s in route["steps"]), highlight=False
    )


def _branch(node: Any, parent: Tree) -> None:
    lot = f" lot {node['lot']}" if node["lot"] else ""
    supplier = f" from {node['supplier']}" if node["supplier"] else ""
    branch = parent.add(
        escape(f"{node['product']} {node['serial']} ({node['status']}){lot}{supplier}")
    )
    for used in node["consumed"]:
        branch.add(escape(f"uses {used['quantity']} × {used['product']} lot {used['lot']}"))
    for child in node["components"]:
        _branch(child, branch)


@trace_app.command("back")
@handle_errors
def trace_back(
    serial: str,
    product: Annotated[str | None, typer.Option(help="when the serial is ambiguous")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """A unit's whole component tree with lots and suppliers."""
    found = trace.backward(database(), SYSTEM, serial, product)
    if as_json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return
    root = Tree(f"[bold]{escape(found['product'] + ' ' + found['serial'])}[/] ({found['status']})")
    for used in found["consumed"]:
        root.add(escape(f"uses {used['quantity']} × {used['product']} lot {used['lot']}"))
    for child in found["components"]:
        _branch(child, root)
    console.print(root)


@trace_app.command("forward")
@handle_errors
def trace_forward(
    serial: Annotated[str | None, typer.Option()] = None,
    product: Annotated[str | None, typer.Option(help="product of the serial or lot")] = None,
    lot: Annotated[str | None, typer.Option()] = None,
    supplier: Annotated[str | None, typer.Option()] = None,
    station: Annotated[str | None, typer.Option()] = None,
    equipment: Annotated[str | None, typer.Option()] = None,
    operator: Annotated[str | None, typer.Option()] = None,
    since: Annotated[datetime | None, typer.Option(help="with UTC offset")] = None,
    until: Annotated[datetime | None, typer.Option(help="with UTC offset")] = None,
    out: Annotated[Path | None, typer.Option(help="write all affected units as CSV")] = None,
) -> None:
    """Every finished unit holding a component serial, lot, supplier's parts, or parts that
    passed a station, equipment or operator in a time window."""
    query = validated(
        TraceQuery,
        serial=serial,
        product=product,
        lot=lot,
        supplier=supplier,
        station=station,
        equipment=equipment,
        operator=operator,
        since=since,
        until=until,
    )
    if out is not None:
        out.open("w").close()  # fail on a bad path before the work
    found = trace.forward(database(), SYSTEM, query, trace.MAX_ITEMS)
    console.print(escape(f"{found['start']}: {found['total']} affected units"), highlight=False)
    console.print(
        "  by status: " + ", ".join(f"{k} {v}" for k, v in found["by_status"].items()),
        highlight=False,
    )
    if out is not None:
        from unitrace.production.routes import AFFECTED

        # with a byte order mark: Excel (in Chinese too) reads the file as UTF-8
        out.write_text(quality.to_csv(AFFECTED, found["items"]), encoding="utf-8-sig")
        console.print(f"  written to {out}", highlight=False)
        return
    table = Table("serial", "product", "status", "holder", "region", "sold")
    for u in found["items"][:50]:
        where = u["holder"] or u["location"] or ""
        sold = (u["sold_at"] or "")[:10]
        cells = (u["serial"], u["product"], u["status"], where, u["region"] or "", sold)
        table.add_row(*[escape(v) for v in cells])
    console.print(table)


@recall_app.command("create")
@handle_errors
def recall_create(
    code: str,
    title: Annotated[str, typer.Option()],
    reason: Annotated[str, typer.Option()] = "",
    serial: Annotated[str | None, typer.Option()] = None,
    product: Annotated[str | None, typer.Option()] = None,
    lot: Annotated[str | None, typer.Option()] = None,
    supplier: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Open a recall campaign from a forward trace (serial, lot or supplier)."""
    query = validated(TraceQuery, serial=serial, product=product, lot=lot, supplier=supplier)
    request = validated(RecallIn, code=code, title=title, reason=reason, trace=query)
    created = recall.create_recall(database(), SYSTEM, request)
    console.print(
        f"recall {code} opened: {created['units']} units ({created['start']})", highlight=False
    )


@recall_app.command("show")
@handle_errors
def recall_show(code: str) -> None:
    """A campaign's progress by outcome and per holder."""
    found = recall.progress(database(), SYSTEM, code)
    console.print(
        f"[bold]{escape(found['code'])}[/] {escape(found['title'])} "
        f"({found['status']}), {found['units']} units",
        highlight=False,
    )
    table = Table("holder", *recall.OUTCOMES)
    for holder, counts in found["by_holder"].items():
        table.add_row(escape(holder or "(ours)"), *[str(counts[o]) for o in recall.OUTCOMES])
    table.add_row("[bold]all[/]", *[str(found["outcomes"][o]) for o in recall.OUTCOMES])
    console.print(table)


@recall_app.command("mark")
@handle_errors
def recall_mark(code: str) -> None:
    """Record a recall event for every unit of the campaign not yet marked."""
    console.print(f"{recall.mark_recalled(database(), SYSTEM, code)['marked']} units marked")


@recall_app.command("close")
@handle_errors
def recall_close(code: str) -> None:
    recall.close_recall(database(), SYSTEM, code)
    console.print(f"recall {code} closed", highlight=False)


@recall_app.command("notices")
@handle_errors
def recall_notices(code: str, out: Annotated[Path, typer.Option()]) -> None:
    """Write the notices (one row per unit, grouped by holder) as CSV."""
    out.write_text(recall.notices_csv(database(), SYSTEM, code), encoding="utf-8-sig")
    console.print(f"notices written to {out}", highlight=False)


@quality_app.command("yield")
@handle_errors
def quality_yield(
    by: Annotated[str, typer.Option(help=", ".join(quality.DIMENSIONS))] = "product",
    product: Annotated[str | None, typer.Option()] = None,
    step: Annotated[str | None, typer.Option()] = None,
) -> None:
    """First-pass yield and failure rate grouped by one dimension."""
    found = quality.yield_report(database(), SYSTEM, by, product=product, step=step)
    table = Table(*quality.COLUMNS)
    for item in found["items"]:
        table.add_row(*[escape("" if item[c] is None else str(item[c])) for c in quality.COLUMNS])
    console.print(table)
