"""`unitrace gs1`: read what a scanner sends (GS1 element strings, bracketed strings, Digital
Link URIs) and write a Digital Link URI. A GS typed on a command line is `\\x1d` or `<GS>`."""

from __future__ import annotations

import json
import re
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from unitrace.cli.common import console, handle_errors
from unitrace.config import public_url
from unitrace.core import gs1

gs1_app = typer.Typer(
    help="GS1 barcodes: element strings, bracketed strings, Digital Link URIs.",
    no_args_is_help=True,
)

_TYPED_GS = re.compile(r"\\x1d|<GS>", re.IGNORECASE)


def typed(text: str) -> str:
    """The text with each GS typed as `\\x1d` or `<GS>` (any case) made the GS character."""
    return _TYPED_GS.sub(gs1.GS, text)


@gs1_app.command("parse")
@handle_errors
def gs1_parse(
    text: Annotated[
        str, typer.Argument(help="]d2…, (01)…(21)…, https://…/01/… ; GS as \\x1d or <GS>")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help='{"elements": [{"ai", "value"}]}')
    ] = False,
) -> None:
    """The AIs and values of a GS1 element string, bracketed string or Digital Link URI —
    strictly, as GS1's reference parser reads them; a plain serial is refused (exit 2)."""
    data = gs1.parse(typed(text), "text")
    if as_json:
        elements = [{"ai": e.ai, "value": e.value} for e in data.elements]
        print(json.dumps({"elements": elements}, ensure_ascii=False))
        return
    table = Table("AI", "title", "value", title=f"GS1 {data.form.replace('_', ' ')}")
    for element in data.elements:
        table.add_row(element.ai, gs1.ai_title(element.ai) or "", escape(element.value))
    console.print(table)


@gs1_app.command("dl")
@handle_errors
def gs1_dl(
    text: Annotated[str, typer.Argument(help='"(01)…(21)…", an element string or a Digital Link')],
    stem: Annotated[
        str | None,
        typer.Option(help="resolver address (default: UNITRACE_PUBLIC_URL, else id.gs1.org)"),
    ] = None,
) -> None:
    """The GS1 Digital Link URI of the AIs given in any GS1 form."""
    data = gs1.parse(typed(text), "text")
    print(gs1.digital_link(data.elements, stem or public_url() or gs1.DEFAULT_STEM))
