"""`unitrace service-codes list|add|seed`: the symptom and defect codes of service cases, with
their names in English and Chinese."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from unitrace.access.principal import SYSTEM
from unitrace.aftersales import casework
from unitrace.aftersales.schemas import ServiceCodeIn
from unitrace.cli.common import console, database, handle_errors, validated

codes_app = typer.Typer(help="Symptom and defect codes of service cases.", no_args_is_help=True)


@codes_app.command("list")
@handle_errors
def codes_list(
    kind: Annotated[str | None, typer.Option(help="symptom or defect")] = None,
    all_codes: Annotated[bool, typer.Option("--all", help="inactive ones too")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List the codes (active ones unless --all)."""
    found = casework.list_codes(database(), SYSTEM, kind, None if all_codes else True)
    if as_json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return
    table = Table("code", "kind", "English", "中文", "active")
    for c in found:
        table.add_row(
            c["code"], c["kind"], c["name_en"], c["name_zh"], "yes" if c["active"] else "no"
        )
    console.print(table)


@codes_app.command("add")
@handle_errors
def codes_add(
    code: str,
    kind: Annotated[str, typer.Option(help="symptom or defect")],
    name_en: Annotated[str, typer.Option("--en", help="the name in English")],
    name_zh: Annotated[str, typer.Option("--zh", help="the name in Chinese")],
) -> None:
    """Add a code."""
    data = validated(ServiceCodeIn, code=code, kind=kind, name_en=name_en, name_zh=name_zh)
    casework.add_code(database(), SYSTEM, data)
    console.print(f"service code {data.code} added", highlight=False)


@codes_app.command("seed")
@handle_errors
def codes_seed() -> None:
    """Add the default codes that are not there yet (none twice)."""
    added = casework.seed_codes(database(), SYSTEM)
    console.print(f"{added} service codes added", highlight=False)
