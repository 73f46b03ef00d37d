"""`unitrace claims`: the claim checks' rules, a dry run of the checks, stolen reports."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from unitrace.access.principal import SYSTEM
from unitrace.aftersales import claims
from unitrace.aftersales.schemas import ClaimCheckIn, ClaimRuleIn, StolenIn
from unitrace.cli.common import console, database, fail, handle_errors, validated

claims_app = typer.Typer(help="Warranty claim checks.", no_args_is_help=True)

_STYLE = {"pass": "green", "flag": "yellow", "refuse": "bold red"}


def _print_json(found: Any) -> None:
    print(json.dumps(found, ensure_ascii=False, indent=2))


def _rules_table(found: dict[str, Any]) -> None:
    console.print(escape(f"claim rules for {found['product'] or 'all products'}"), highlight=False)
    table = Table("check", "mode", "params", "set for")
    for rule in found["checks"]:
        params = ", ".join(f"{k}={v}" for k, v in rule["params"].items())
        table.add_row(rule["check"], rule["mode"], params, rule["set_for"])
    console.print(table)


@claims_app.command("rules")
@handle_errors
def rules_command(
    product: Annotated[str | None, typer.Option(help="a product (default: for all)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """What each check does (refuse, flag, off) for a product or for all, and where it is set."""
    found = claims.rules(database(), SYSTEM, product)
    if as_json:
        _print_json(found)
        return
    _rules_table(found)


def _params(given: list[str]) -> dict[str, int]:
    params: dict[str, int] = {}
    for item in given:
        key, sep, value = item.partition("=")
        if not sep or not value.strip().lstrip("-").isdigit():
            raise fail(f"--param {item!r}: give NAME=NUMBER, e.g. claims=3", 2)
        params[key.strip()] = int(value)
    return params


@claims_app.command("set")
@handle_errors
def set_command(
    check: Annotated[str, typer.Argument(help=", ".join(claims.DEFAULTS))],
    mode: Annotated[str, typer.Argument(help="refuse, flag, off, or inherit (remove the rule)")],
    product: Annotated[str | None, typer.Option(help="for this product (default: for all)")] = None,
    param: Annotated[
        list[str] | None, typer.Option(help="NAME=NUMBER, e.g. --param claims=3 --param days=90")
    ] = None,
) -> None:
    """Set what a check does, for one product or for all. Audited."""
    data = validated(
        ClaimRuleIn, product=product, check=check, mode=mode, params=_params(param or [])
    )
    _rules_table(claims.set_rule(database(), SYSTEM, data))


@claims_app.command("check")
@handle_errors
def check_command(
    serial: str,
    product: Annotated[str | None, typer.Option()] = None,
    region: Annotated[str | None, typer.Option(help="where the claim comes from")] = None,
    found: Annotated[
        list[str] | None, typer.Option(help="a component serial found in the unit")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every check a warranty claim for the unit would meet now (nothing is written)."""
    data = validated(
        ClaimCheckIn, serial=serial, product=product, region=region, found_components=found
    )
    answer = claims.dry_run(database(), SYSTEM, data)
    if as_json:
        _print_json(answer)
        return
    result = answer["result"]
    console.print(
        escape(f"{answer['product'] or '-'}/{answer['serial']}: ")
        + f"[{_STYLE[result]}]{result}[/]",
        highlight=False,
    )
    table = Table("check", "result", "reason")
    for c in answer["checks"]:
        table.add_row(c["name"], f"[{_STYLE[c['result']]}]{c['result']}[/]", escape(c["reason"]))
    console.print(table)


@claims_app.command("stolen")
@handle_errors
def stolen_command(
    serial: str,
    product: Annotated[str | None, typer.Option()] = None,
    note: Annotated[str, typer.Option(help="e.g. the police report's number")] = "",
    clear: Annotated[bool, typer.Option("--clear", help="clear the report instead")] = False,
) -> None:
    """Report a unit stolen (claims for it are refused), or clear the report. Audited."""
    data = validated(StolenIn, product=product, note=note)
    if clear:
        done = claims.clear_stolen(database(), SYSTEM, serial, data)
        console.print(escape(f"{done['product']}/{done['serial']}: stolen report cleared"))
    else:
        done = claims.report_stolen(database(), SYSTEM, serial, data)
        console.print(escape(f"{done['product']}/{done['serial']}: reported stolen"))
