"""`unitrace trace`, `unitrace recall`, `unitrace quality` and the product's BOM and route."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from unitrace.access.principal import SYSTEM
from unitrace.cli.common import console, database, handle_errors
from unitrace.production import quality, recall, service, trace
from unitrace.production.schemas import BomIn, RecallIn, RouteIn, TraceQuery

trace_app = typer.Typer(help="Genealogy trace, backward and forward.", no_args_is_help=True)
recall_app = typer.Typer(help="Recall campaigns.", no_args_is_help=True)
quality_app = typer.Typer(help="Quality figures.", no_args_is_help=True)
Opt = Optional  # noqa: UP045 — Typer needs Optional[...] spelled out for options


def _validated(model: Any, **values: Any) -> Any:
    from unitrace.cli.main import _validated as validated

    return validated(model, **values)


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
    bom = service.set_bom(database(), SYSTEM, code, _validated(BomIn, **_json_file(file)))
    console.print(f"{code}: {len(bom['lines'])} BOM lines, policy {bom['policy']}",
                  highlight=False)  # fmt: skip


def route_command(code: str, file: Path) -> None:
    """Set a product's route from a JSON file ({"steps": [{"code", "name", "required"}]})."""
    route = service.set_route(database(), SYSTEM, code, _validated(RouteIn, **_json_file(file)))
    console.print(f"{code}: route " + " → ".join(s["code"] for s in route["steps"]),
                  highlight=False)  # fmt: skip


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
    product: Annotated[Opt[str], typer.Option(help="when the serial is ambiguous")] = None,
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
    serial: Annotated[Opt[str], typer.Option()] = None,
    product: Annotated[Opt[str], typer.Option(help="product of the serial or lot")] = None,
    lot: Annotated[Opt[str], typer.Option()] = None,
    supplier: Annotated[Opt[str], typer.Option()] = None,
    station: Annotated[Opt[str], typer.Option()] = None,
    equipment: Annotated[Opt[str], typer.Option()] = None,
    operator: Annotated[Opt[str], typer.Option()] = None,
    since: Annotated[Opt[datetime], typer.Option(help="with UTC offset")] = None,
    until: Annotated[Opt[datetime], typer.Option(help="with UTC offset")] = None,
    out: Annotated[Opt[Path], typer.Option(help="write all affected units as CSV")] = None,
) -> None:
    """Every finished unit holding a component serial, lot, supplier's parts, or parts that
    passed a station, equipment or operator in a time window."""
    query = _validated(TraceQuery, serial=serial, product=product, lot=lot, supplier=supplier,
                       station=station, equipment=equipment, operator=operator, since=since,
                       until=until)  # fmt: skip
    if out is not None:
        out.open("w").close()  # fail on a bad path before the work
    found = trace.forward(database(), SYSTEM, query, trace.MAX_ITEMS)
    console.print(escape(f"{found['start']}: {found['total']} affected units"), highlight=False)
    console.print("  by status: " + ", ".join(f"{k} {v}" for k, v in found["by_status"].items()),
                  highlight=False)  # fmt: skip
    if out is not None:
        from unitrace.production.routes import AFFECTED

        out.write_text(quality.to_csv(AFFECTED, found["items"]), encoding="utf-8")
        console.print(f"  written to {out}", highlight=False)
        return
    table = Table("serial", "product", "status", "holder", "region", "sold")
    for u in found["items"][:50]:
        table.add_row(*[escape(v) for v in (u["serial"], u["product"], u["status"],
                      u["holder"] or u["location"] or "", u["region"] or "",
                      (u["sold_at"] or "")[:10])])  # fmt: skip
    console.print(table)


@recall_app.command("create")
@handle_errors
def recall_create(
    code: str,
    title: Annotated[str, typer.Option()],
    reason: Annotated[str, typer.Option()] = "",
    serial: Annotated[Opt[str], typer.Option()] = None,
    product: Annotated[Opt[str], typer.Option()] = None,
    lot: Annotated[Opt[str], typer.Option()] = None,
    supplier: Annotated[Opt[str], typer.Option()] = None,
) -> None:
    """Open a recall campaign from a forward trace (serial, lot or supplier)."""
    query = _validated(TraceQuery, serial=serial, product=product, lot=lot, supplier=supplier)
    created = recall.create_recall(database(), SYSTEM, _validated(
        RecallIn, code=code, title=title, reason=reason, trace=query))  # fmt: skip
    console.print(f"recall {code} opened: {created['units']} units ({created['start']})",
                  highlight=False)  # fmt: skip


@recall_app.command("show")
@handle_errors
def recall_show(code: str) -> None:
    """A campaign's progress by outcome and per holder."""
    found = recall.progress(database(), SYSTEM, code)
    console.print(f"[bold]{escape(found['code'])}[/] {escape(found['title'])} "
                  f"({found['status']}), {found['units']} units", highlight=False)  # fmt: skip
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
    out.write_text(recall.notices_csv(database(), SYSTEM, code), encoding="utf-8")
    console.print(f"notices written to {out}", highlight=False)


@quality_app.command("yield")
@handle_errors
def quality_yield(
    by: Annotated[str, typer.Option(help=", ".join(quality.DIMENSIONS))] = "product",
    product: Annotated[Opt[str], typer.Option()] = None,
    step: Annotated[Opt[str], typer.Option()] = None,
) -> None:
    """First-pass yield and failure rate grouped by one dimension."""
    found = quality.yield_report(database(), SYSTEM, by, product=product, step=step)
    table = Table(*quality.COLUMNS)
    for item in found["items"]:
        table.add_row(*[escape("" if item[c] is None else str(item[c])) for c in quality.COLUMNS])
    console.print(table)
