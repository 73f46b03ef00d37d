"""`unitrace labels print|reprint|runs`: print runs — the labels of a lot, a list of serials,
a carton or pallet, or of one commission event, as PDF or ZPL, with a progress bar; reprints
with a reason."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from unitrace.access.principal import SYSTEM
from unitrace.cli.common import console, database, err_console, fail, handle_errors, validated
from unitrace.db.engine import Database
from unitrace.labels import runs
from unitrace.labels.run_schemas import ReprintIn, RunIn


def register(labels_app: typer.Typer) -> None:
    """Add the print-run commands to `unitrace labels` (cli/labels.py: the templates)."""
    labels_app.command("print")(labels_print)
    labels_app.command("reprint")(labels_reprint)
    labels_app.command("runs")(labels_runs)


def _print(db: Database, made: dict[str, Any], out: Path | None, quiet: bool) -> None:
    """Print a queued run in the foreground with a progress bar, then copy its file to `out`."""
    if quiet:
        done = runs.execute(db, made["id"])
    else:
        columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=err_console, transient=False) as bar:
            task = bar.add_task(f"{made['number']} labels", total=made["total"])
            done = runs.execute(
                db, made["id"], lambda n, total: bar.update(task, completed=n, total=total)
            )
    path, _media, _name = runs.run_file(db, SYSTEM, made["number"])
    if out is not None:
        shutil.copyfile(path, out)
        path = out
    console.print(f"{done['number']}: {done['done']} labels in {path}", highlight=False)


def _serials_file(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}", 2) from None
    return [line.strip() for line in lines if line.strip()]


@handle_errors
def labels_print(
    lot: Annotated[str | None, typer.Option(help="a lot number (with --product)")] = None,
    serials: Annotated[
        Path | None, typer.Option(help="a file with one serial a line (with --product)")
    ] = None,
    carton: Annotated[
        str | None,
        typer.Option(help="a carton or pallet (SSCC or label): its SSCC labels"),
    ] = None,
    commissioned_run: Annotated[
        str | None, typer.Option(help="the event id of a commission: every unit it made")
    ] = None,
    product: Annotated[str | None, typer.Option(help="the product of --lot or --serials")] = None,
    template: Annotated[str, typer.Option(help="the label template")] = "default",
    fmt: Annotated[Literal["pdf", "zpl"], typer.Option("--format")] = "pdf",
    dpi: Annotated[int, typer.Option(help="ZPL printer resolution: 203 or 300")] = 203,
    out: Annotated[Path | None, typer.Option(help="also write the file here")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar")] = False,
) -> None:
    """Print the labels of one source (one of --lot, --serials, --carton, --commissioned-run)
    into a PDF or ZPL file; the run is kept (see `labels runs`) and can be reprinted."""
    data = validated(
        RunIn,
        product=product,
        lot=lot,
        serials=_serials_file(serials) if serials is not None else None,
        container=carton,
        commission=commissioned_run,
        template=template,
        format=fmt,
        dpi=dpi,
    )
    db = database()
    _print(db, runs.create_run(db, SYSTEM, data), out, quiet)


@handle_errors
def labels_reprint(
    run: Annotated[str, typer.Argument(help="the run to print again, e.g. LR-000012")],
    reason: Annotated[str, typer.Option(help="why the labels are printed again")],
    out: Annotated[Path | None, typer.Option(help="also write the file here")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="no progress bar")] = False,
) -> None:
    """Print a run's labels again, with a reason (in the run and the audit trail)."""
    data = validated(ReprintIn, reason=reason)
    db = database()
    _print(db, runs.reprint(db, SYSTEM, run, data.reason), out, quiet)


@handle_errors
def labels_runs(
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The latest print runs, newest first."""
    found = runs.list_runs(database(), SYSTEM, limit)
    if as_json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return
    table = Table("run", "when", "by", "source", "format", "labels", "status", "reprint of")
    for r in found:
        source = " ".join(f"{k}={v}" for k, v in r["source"].items() if v is not None)
        fmt = f"{r['format']} {r['dpi']} dpi" if r["dpi"] else r["format"]
        row = (
            r["number"],
            r["created_at"][:19],
            r["created_by"],
            source,
            fmt,
            f"{r['done']}/{r['total']}",
            r["status"],
            r["reprint_of"] or "",
        )
        table.add_row(*[escape(str(v)) for v in row])
    console.print(table)
