"""`unitrace case …`: open a service case, move it on, record its steps and replaced parts;
show one case and list them (the reads are `aftersales.casework`'s)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from unitrace.access.principal import SYSTEM
from unitrace.aftersales import cases, casework
from unitrace.aftersales.schemas import CaseIn, CaseStepIn, ConsumedIn, PartIn, StateIn
from unitrace.cli.common import console, database, handle_errors, validated
from unitrace.core.errors import invalid

case_app = typer.Typer(help="Service cases (售后工单).", no_args_is_help=True)
AsJson = Annotated[bool, typer.Option("--json", help="print JSON")]


def _print(found: dict[str, Any], as_json: bool, line: str) -> None:
    if as_json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
    else:
        console.print(escape(line), highlight=False)


@case_app.command("open")
@handle_errors
def case_open(
    serial: str,
    product: Annotated[str | None, typer.Option(help="when the serial is ambiguous")] = None,
    kind: Annotated[str, typer.Option(help=", ".join(cases.KINDS))] = "repair",
    claim: Annotated[bool, typer.Option("--claim/--no-claim", help="a warranty claim")] = True,
    reporter: Annotated[str | None, typer.Option(help="the reporter party's code")] = None,
    contact: Annotated[str, typer.Option(help="the reporter's name, phone …")] = "",
    symptom: Annotated[str | None, typer.Option(help="symptom code")] = None,
    description: Annotated[str, typer.Option()] = "",
    region: Annotated[str | None, typer.Option(help="where the claim comes from")] = None,
    location: Annotated[str | None, typer.Option(help="the service location's code")] = None,
    override: Annotated[str | None, typer.Option(help="reason to open a refused claim")] = None,
    as_json: AsJson = False,
) -> None:
    """Open a case for a unit; a warranty claim meets the claim checks (all shown when one
    refuses, exit 4)."""
    data = validated(
        CaseIn,
        serial=serial,
        product=product,
        kind=kind,
        warranty_claim=claim,
        reporter_party=reporter,
        reporter_contact=contact,
        symptom_code=symptom,
        description=description,
        region=region,
        location=location,
        override_reason=override,
    )
    opened = cases.open_case(database(), SYSTEM, data)
    _print(opened, as_json, f"{opened['number']} opened for {opened['product']} {serial}")
    if not as_json:
        for check in opened["checks"]:
            console.print(
                escape(f"  {check['result']:<6} {check['name']}: {check['reason']}"),
                highlight=False,
            )


@case_app.command("state")
@handle_errors
def case_state(
    number: str,
    to: str,
    outcome: Annotated[
        str | None, typer.Option(help="closing: resolved, rejected, no_fault_found")
    ] = None,
    note: Annotated[str, typer.Option()] = "",
    as_json: AsJson = False,
) -> None:
    """Move a case on to state TO (closing names its outcome)."""
    data = validated(StateIn, to=to, outcome=outcome, note=note)
    moved = cases.change_state(database(), SYSTEM, number, data)
    shown = moved["state"] + (f" ({moved['outcome']})" if moved["outcome"] else "")
    _print(moved, as_json, f"{number}: {shown}")


@case_app.command("step")
@handle_errors
def case_step(
    number: str,
    action: Annotated[str, typer.Argument(help="receive_return, repair, inspect, ship_back")],
    location: Annotated[str | None, typer.Option(help="receive_return: where it comes")] = None,
    party: Annotated[str | None, typer.Option(help="ship_back: to whom")] = None,
    result: Annotated[str | None, typer.Option(help="inspect: pass or fail")] = None,
    note: Annotated[str, typer.Option()] = "",
    as_json: AsJson = False,
) -> None:
    """Record a physical step of the case on the unit's ledger (linked to the case)."""
    data = validated(
        CaseStepIn, action=action, location=location, party=party, result=result, note=note
    )
    done = cases.record_step(database(), SYSTEM, number, data)
    events = ", ".join(e["type"] for e in done["events"])
    _print(done, as_json, f"{number}: {action} recorded ({events})")


def _consumed(text: str, index: int) -> ConsumedIn:
    """PRODUCT:LOT:QUANTITY"""
    parts = text.split(":")
    if len(parts) != 3 or not parts[2].isdigit():
        raise invalid(f"consumed.{index}", "write PRODUCT:LOT:QUANTITY", text)
    return validated(ConsumedIn, product=parts[0], lot=parts[1], quantity=int(parts[2]))


@case_app.command("part")
@handle_errors
def case_part(
    number: str,
    removed: Annotated[str | None, typer.Option(help="serial of the part taken out")] = None,
    installed: Annotated[str | None, typer.Option(help="serial of the part put in")] = None,
    reason: Annotated[str, typer.Option()] = "",
    returns: Annotated[str | None, typer.Option(help="returns location of the old part")] = None,
    consumed: Annotated[
        list[str] | None, typer.Option(help="a consumable used: PRODUCT:LOT:QUANTITY")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Replace a part in the case's unit (the old one goes to a returns location) and record
    the lot-tracked consumables used."""
    used = [_consumed(text, i) for i, text in enumerate(consumed or [])]
    data = validated(
        PartIn,
        removed=removed,
        installed=installed,
        reason=reason,
        returns_location=returns,
        consumed=used,
    )
    done = cases.replace_part(database(), SYSTEM, number, data)
    what = f"{removed} → {installed}" if removed else f"{len(used)} consumables"
    where = f", old part to {done['returns_location']}" if done["returns_location"] else ""
    _print(done, as_json, f"{number}: {what}{where}")


@case_app.command("show")
@handle_errors
def case_show(number: str, as_json: AsJson = False) -> None:
    """One case: its unit, state, checks, timeline, parts and costs."""
    found = casework.get_case(database(), SYSTEM, number)
    if as_json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return
    unit = found["unit"]
    state = found["state"] + (f" ({found['outcome']})" if found["outcome"] else "")
    console.print(
        escape(f"{found['number']}  {found['kind']}  {state}  {unit['product']} {unit['serial']}"),
        highlight=False,
    )
    reporter = found["reporter_party"]["code"] if found["reporter_party"] else ""
    for label, value in (
        ("opened", f"{found['opened_at']} by {found['opened_by']}"),
        ("reporter", " ".join(v for v in (reporter, found["reporter_contact"]) if v)),
        ("claim", "yes" if found["warranty_claim"] else "no"),
        ("closed", found["closed_at"]),
    ):
        console.print(escape(f"  {label:<9} {value or '-'}"), highlight=False)
    for check in found["checks"]:
        console.print(
            escape(f"  check {check['result']:<6} {check['name']}: {check['reason']}"),
            highlight=False,
        )
    table = Table("at", "by", "what", "text")
    for item in found["timeline"]:
        if item["event"]:
            what = item["event"]["type"]
        elif item["kind"] == "state":
            what = f"{item['from_state'] or ''}→{item['to_state']}"
        else:
            what = item["kind"]
        table.add_row(*[escape(v or "") for v in (item["at"], item["by"], what, item["text"])])
    console.print(table)
    for part in found["parts"]:
        what = (
            f"{part['removed']} → {part['installed']}"
            if part["removed"]
            else f"{part['quantity']} × {part['product']} lot {part['lot']}"
        )
        console.print(escape(f"  part {what} {part['reason']}"), highlight=False)
    for total in found["totals"]:
        console.print(escape(f"  total {json.dumps(total, ensure_ascii=False)}"), highlight=False)


@case_app.command("list")
@handle_errors
def case_list(
    state: Annotated[list[str] | None, typer.Option(help="a state; open = every open one")] = None,
    kind: Annotated[str | None, typer.Option()] = None,
    product: Annotated[str | None, typer.Option()] = None,
    party: Annotated[str | None, typer.Option(help="reporter or partner party")] = None,
    q: Annotated[str | None, typer.Option(help="a case number or serial")] = None,
    limit: Annotated[int, typer.Option()] = 50,
    as_json: AsJson = False,
) -> None:
    """Service cases, newest first."""
    wanted = casework.CaseFilter(
        states=tuple(state or ()), kind=kind, product=product, party=party, q=q
    )
    found = casework.list_cases(database(), SYSTEM, wanted, limit=limit)
    if as_json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return
    table = Table("number", "kind", "state", "unit", "opened")
    for c in found["items"]:
        state_text = c["state"] + (f" ({c['outcome']})" if c["outcome"] else "")
        cells = (
            c["number"],
            c["kind"],
            state_text,
            f"{c['product']} {c['serial']}",
            c["opened_at"],
        )
        table.add_row(*[escape(v) for v in cells])
    console.print(table)
    console.print(f"{found['total']} cases", highlight=False)
