"""`unitrace import FILE --kind KIND`: an import of a CSV or .xlsx file in the foreground, with
a progress bar; bad rows are printed (row, column, reason) and the exit code is not zero."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from unitrace.access.principal import SYSTEM
from unitrace.cli.common import console, database, err_console, handle_errors
from unitrace.core.errors import FieldError, ValidationError
from unitrace.interop.imports import service

SHOWN = 50  # bad rows printed; the report has them all


def _pairs(items: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    bad = []
    for item in items:
        header, sep, field = item.partition("=")
        if not sep or not header.strip():
            bad.append(FieldError("map", "write HEADER=FIELD (FIELD empty leaves it out)", item))
        found[header.strip()] = field.strip()
    if bad:
        raise ValidationError("--map: not HEADER=FIELD", bad)
    return found


@handle_errors
def import_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV or .xlsx")],
    kind: Annotated[
        str,
        typer.Option(
            help="units, products, lots, parties, locations, "
            "shipments, sellthrough, repairs, bindings"
        ),
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="check only; write nothing")] = False,
    good_rows: Annotated[
        bool, typer.Option("--good-rows", help="write the good rows, report the bad ones")
    ] = False,
    mapping: Annotated[str | None, typer.Option(help="a saved column mapping's name")] = None,
    map_: Annotated[
        list[str] | None, typer.Option("--map", help="HEADER=FIELD (repeatable)")
    ] = None,
    save_mapping: Annotated[
        str | None, typer.Option(help="save the --map pairs under this name first")
    ] = None,
    ignore_unknown: Annotated[
        bool, typer.Option("--ignore-unknown", help="unknown columns are left out")
    ] = False,
    repeat: Annotated[bool, typer.Option(help="import a file imported before again")] = False,
    report: Annotated[
        Path | None, typer.Option(help="write the .xlsx report of bad rows here")
    ] = None,
) -> None:
    """Import a spreadsheet: rows checked, then written all or nothing (or --good-rows)."""
    db = database()
    pairs = _pairs(map_ or [])
    if save_mapping:
        service.save_mapping(db, SYSTEM, save_mapping, kind, pairs)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[rows]:,} rows read, {task.fields[written]:,} written"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task(file.name, total=None, rows=0, written=0)

        def listener(live: dict[str, Any]) -> None:
            bar.update(task, rows=live["rows_done"], written=live["written"])

        job = service.start(
            db,
            SYSTEM,
            kind=kind,
            filename=file.name,
            content=file,
            mapping=pairs or None,
            mapping_name=mapping if not pairs else None,
            unknown="ignore" if ignore_unknown else "attributes",
            mode="good" if good_rows else "all",
            dry_run=dry_run,
            repeat=repeat,
            wait=True,
            listener=listener,
        )
    if job["status"] == "repeat":
        err_console.print(f"{file.name} was imported before: add --repeat to import it again")
        raise typer.Exit(4)
    if job["status"] == "refused" or (job["status"] == "failed" and not job["errors"]):
        err_console.print(f"[bold red]error:[/] {job['message']}", highlight=False)
        raise typer.Exit(2)
    verb = "checked" if dry_run else "imported"
    console.print(
        f"{verb} {job['rows_total']:,} rows of {file.name}: {job['written']:,} written, "
        f"{job['error_count']:,} problems (job {job['id']})",
        highlight=False,
    )
    if job["errors"]:
        table = Table("row", "column", "reason", title="bad rows")
        for problem in job["errors"][:SHOWN]:
            table.add_row(str(problem["row"]), problem["column"], problem["reason"])
        err_console.print(table)
        if job["error_count"] > SHOWN:
            err_console.print(f"… and {job['error_count'] - SHOWN:,} more (see --report)")
        if report is not None:
            report.write_bytes(service.report_xlsx(db, SYSTEM, job["id"]).read_bytes())
            err_console.print(f"report: {report}")
        raise typer.Exit(1)
