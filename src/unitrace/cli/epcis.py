"""`unitrace epcis …`: capture an EPCISDocument from a file, and query events (the same use
cases as /epcis/capture and GET /epcis/events)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from unitrace.access.principal import SYSTEM
from unitrace.cli.common import database, handle_errors
from unitrace.core.errors import invalid
from unitrace.interop.epcis import capture, query

epcis_app = typer.Typer(help="GS1 EPCIS 2.0: capture and query events.", no_args_is_help=True)


@epcis_app.command("capture")
@handle_errors
def capture_command(
    file: Annotated[Path, typer.Argument(help="an EPCISDocument (JSON / JSON-LD)")],
    proceed: Annotated[
        bool, typer.Option("--proceed", help="keep the good events, report the others")
    ] = False,
) -> None:
    """Capture a document: all or nothing (or, with --proceed, the good events); the job as
    JSON."""
    try:
        document = json.loads(file.read_bytes())
    except (OSError, ValueError) as error:
        raise invalid("FILE", f"not a JSON file: {error}", str(file)) from None
    behaviour = capture.PROCEED if proceed else capture.ROLLBACK
    job = capture.capture(database(), SYSTEM, document, behaviour=behaviour)
    print(json.dumps(job, ensure_ascii=False, indent=2))
    if job["refused"]:
        raise typer.Exit(1)


@epcis_app.command("events")
@handle_errors
def events_command(
    event_type: Annotated[list[str] | None, typer.Option("--type", help="eventType")] = None,
    since: Annotated[str | None, typer.Option(help="GE_eventTime")] = None,
    until: Annotated[str | None, typer.Option(help="LT_eventTime")] = None,
    biz_step: Annotated[list[str] | None, typer.Option(help="EQ_bizStep")] = None,
    disposition: Annotated[list[str] | None, typer.Option(help="EQ_disposition")] = None,
    epc: Annotated[list[str] | None, typer.Option(help="MATCH_epc (URN or Digital Link)")] = None,
    param: Annotated[
        list[str] | None, typer.Option(help="any other query parameter, NAME=VALUE")
    ] = None,
    per_page: Annotated[int, typer.Option(help="perPage")] = query.PER_PAGE,
    token: Annotated[str | None, typer.Option(help="nextPageToken")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="the EPCISQueryDocument")] = False,
) -> None:
    """Query events (the ledger's and the captured ones) with the standard parameters."""
    raw: dict[str, list[str]] = {"perPage": [str(per_page)]}
    for name, values in (
        ("eventType", event_type),
        ("GE_eventTime", [since] if since else None),
        ("LT_eventTime", [until] if until else None),
        ("EQ_bizStep", biz_step),
        ("EQ_disposition", disposition),
        ("MATCH_epc", epc),
        ("nextPageToken", [token] if token else None),
    ):
        if values:
            raw[name] = list(values)
    for one in param or ():
        name, sep, value = one.partition("=")
        if not sep:
            raise invalid("param", "NAME=VALUE", one)
        raw.setdefault(name, []).append(value)
    answer = query.query_events(database(), SYSTEM, query.parse(raw))
    found: list[dict[str, Any]] = answer["document"]["epcisBody"]["queryResults"]["resultsBody"][
        "eventList"
    ]
    if as_json:
        print(json.dumps(answer["document"], ensure_ascii=False, indent=2))
    else:
        for event in found:
            fields = ("eventTime", "type", "action", "bizStep", "eventID")
            print("\t".join(str(event.get(name, "")) for name in fields))  # one line, unwrapped
    if answer["next_page_token"]:
        typer.echo(f"next page: --token {answer['next_page_token']}", err=True)
