"""`unitrace warranty SERIAL`: a unit's warranty verdict, and its extensions, voids and un-voids;
`unitrace warranty-policy PRODUCT`: a product's policy and its overrides by region or party."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape

from unitrace.access.principal import SYSTEM
from unitrace.aftersales import warranty
from unitrace.aftersales.schemas import ExtensionIn, OverrideIn, OverridesIn, UnvoidIn, VoidIn
from unitrace.cli.common import console, database, handle_errors, validated
from unitrace.core.errors import invalid


def describe(found: dict[str, Any]) -> str:
    """The verdict in one line: `in_warranty until 2027-03-11`, `expired since …`."""
    status, end = found["status"], found["end_date"]
    if status == "in_warranty":
        return f"in_warranty until {end}"
    if status == "expired":
        return f"expired since {end}"
    if status == "void":
        return f"void: {found['void']['reason']}"
    if status == "not_started" and found["start_date"]:
        return f"not_started (starts {found['start_date']})"
    return str(status)


def _print(found: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return
    policy = found["policy"]
    console.print(
        escape(f"{found['product']} {found['serial']}: {describe(found)}"), highlight=False
    )
    rule = f"{policy['months']} months from {policy['start']}"
    if policy["fallback"]:
        rule += f", else {policy['fallback']} + {policy['fallback_days']} days"
    if policy["override"]:
        ((kind, value),) = policy["override"].items()
        rule += f" ({kind} {value}; the product's own: {policy['product_months']})"
    lines = [("policy", rule)]
    if found["start_date"]:
        lines.append(("period", f"{found['start_date']} → {found['end_date']}"))
    started = found["started_by"]
    if started:
        lines.append(
            (
                "started",
                f"{started['type']} {started['event_time']} ({started['serial']}, "
                f"{started['event_id']})",
            )
        )
    for e in found["extensions"]:
        lines.append(
            (
                "extended",
                f"+{e['months']} months, {e['paid']}: {e['reason']} ({e['by']}, {e['at'][:10]})",
            )
        )
    if found["void"]:
        v = found["void"]
        lines.append(("void", f"{v['reason']} ({v['by']}, {v['at'][:10]})"))
    for label, value in lines:
        console.print(escape(f"  {label:<9} {value}"), highlight=False)


@handle_errors
def warranty_command(
    serial: str,
    product: Annotated[str | None, typer.Option(help="when the serial is ambiguous")] = None,
    extend: Annotated[
        int | None, typer.Option(help="add MONTHS to the warranty (with --paid, --reason)")
    ] = None,
    paid: Annotated[str, typer.Option(help="an extension: bought or goodwill")] = "goodwill",
    void: Annotated[bool, typer.Option("--void", help="void the warranty (--reason)")] = False,
    unvoid: Annotated[bool, typer.Option("--unvoid", help="lift the void (--reason)")] = False,
    reason: Annotated[str | None, typer.Option(help="why: required to change it")] = None,
    case: Annotated[str | None, typer.Option(help="the service case it is for")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Show a unit's warranty (status, dates, policy, the event that started it), or change it:
    --extend MONTHS, --void, --unvoid (each with --reason; audited)."""
    actions = [
        a
        for a, on in (("--extend", extend is not None), ("--void", void), ("--unvoid", unvoid))
        if on
    ]
    if len(actions) > 1:
        raise invalid("action", f"one change at a time, not {' and '.join(actions)}")
    db = database()
    if extend is not None:
        data = validated(
            ExtensionIn, product=product, months=extend, paid=paid, reason=reason or "", case=case
        )
        found = warranty.extend(db, SYSTEM, serial, data)
    elif void:
        found = warranty.void(
            db, SYSTEM, serial, validated(VoidIn, product=product, reason=reason or "", case=case)
        )
    elif unvoid:
        found = warranty.unvoid(
            db, SYSTEM, serial, validated(UnvoidIn, product=product, reason=reason or "")
        )
    else:
        found = warranty.unit_warranty(db, SYSTEM, serial, product)
    _print(found, as_json)


def _override(text: str, index: int) -> OverrideIn:
    """`CN-31=36` (a region) or `party:D-EAST=48` → an override."""
    scope, _, months = text.partition("=")
    if not months.strip().isdigit():
        raise invalid(f"overrides.{index}", "write REGION=MONTHS or party:CODE=MONTHS", text)
    if scope.startswith("party:"):
        return validated(OverrideIn, party=scope.removeprefix("party:"), months=int(months))
    return validated(OverrideIn, region=scope, months=int(months))


@handle_errors
def policy_command(
    product: str,
    override: Annotated[
        list[str] | None,
        typer.Option("--set", help="REGION=MONTHS or party:CODE=MONTHS; replaces all overrides"),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="remove every override")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Show a product's warranty policy and its overrides, or replace them (--set, --clear)."""
    db = database()
    if override and clear:
        raise invalid("clear", "--clear or --set, not both")
    if override:
        items = [_override(text, i) for i, text in enumerate(override)]
        found = warranty.set_overrides(db, SYSTEM, product, OverridesIn(overrides=items))
    elif clear:
        found = warranty.delete_override(db, SYSTEM, product)
    else:
        found = warranty.policy(db, SYSTEM, product)
    if as_json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return
    rule = f"{found['months']} months from {found['start']}"
    if found["fallback"]:
        rule += f", else {found['fallback']} + {found['fallback_days']} days"
    console.print(escape(f"{found['product']}: {rule}"), highlight=False)
    for o in found["overrides"]:
        scope = f"region {o['region']}" if o["region"] else f"party {o['party']}"
        console.print(escape(f"  {scope:<20} {o['months']} months"), highlight=False)
