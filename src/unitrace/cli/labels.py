"""`unitrace labels`: label templates (`labels template list|show|set|preview`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from unitrace.access.principal import SYSTEM
from unitrace.cli.common import console, database, fail, handle_errors, validated
from unitrace.labels import templates
from unitrace.labels.schemas import PreviewIn, Template, TemplateIn

labels_app = typer.Typer(help="Labels: templates, and what prints them.", no_args_is_help=True)
template_app = typer.Typer(
    help="Label templates: one a product, or the default.", no_args_is_help=True
)
labels_app.add_typer(template_app, name="template")


def _print_json(found: Any) -> None:
    print(json.dumps(found, ensure_ascii=False, indent=2))


@template_app.command("list")
@handle_errors
def list_command(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The templates set: the default first, then by product."""
    found = templates.list_templates(database(), SYSTEM)
    if as_json:
        _print_json(found)
        return
    table = Table("id", "product", "name", "size (mm)", "elements", "updated")
    for item in found:
        body = item["template"]
        table.add_row(
            str(item["id"]),
            escape(item["product"] or "(default)"),
            escape(item["name"]),
            f"{body['width_mm']:g} × {body['height_mm']:g}",
            str(len(body["elements"])),
            f"{item['updated_at'][:16]} {escape(item['updated_by'])}",
        )
    console.print(table)


@template_app.command("show")
@handle_errors
def show_command(
    product: Annotated[
        str | None, typer.Option(help="a product's code (default: the default)")
    ] = None,
) -> None:
    """The template a product's labels print with (its own, else the default), as JSON."""
    _print_json(templates.template_for(database(), product).model_dump(mode="json"))


@template_app.command("set")
@handle_errors
def set_command(
    file: Annotated[Path, typer.Argument(help="the template as JSON (as `show` prints it)")],
    product: Annotated[
        str | None, typer.Option(help="a product's code (default: the default)")
    ] = None,
) -> None:
    """Set a product's template (or the default) from a JSON file; replaces the one it has."""
    try:
        body = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise fail(f"{file}: not a readable JSON file ({exc})", 2) from None
    template = validated(Template, **body) if isinstance(body, dict) else None
    if template is None:
        raise fail(f"{file}: a template is a JSON object", 2)
    saved = templates.set_template(
        database(), SYSTEM, TemplateIn(product=product, template=template)
    )
    which = saved["product"] or "the default"
    console.print(escape(f"label template {saved['id']} set for {which}"), highlight=False)


@template_app.command("preview")
@handle_errors
def preview_command(
    out: Annotated[Path, typer.Argument(help="the file to write: .png or .svg")],
    product: Annotated[
        str | None, typer.Option(help="a product's code (default: the default)")
    ] = None,
    dpi: Annotated[int, typer.Option(min=72, max=600)] = 300,
) -> None:
    """Draw a product's template for a sample unit into a PNG or SVG file."""
    kind = out.suffix.lower().lstrip(".")
    if kind not in ("png", "svg"):
        raise fail(f"{out}: give a .png or .svg file", 2)
    db = database()
    template = templates.template_for(db, product)
    data = PreviewIn(template=template, product=product, format=kind, dpi=dpi)  # type: ignore[arg-type]
    content, _ = templates.preview(db, SYSTEM, None, data)
    out.write_bytes(content)
    console.print(escape(f"wrote {out}"), highlight=False)
