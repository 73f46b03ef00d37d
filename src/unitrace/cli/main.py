"""`unitrace` command line. Every command calls one use case and prints its result."""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from unitrace.access import audit
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM
from unitrace.catalog import service as catalog
from unitrace.catalog.schemas import ProductCreate
from unitrace.cli.cases import case_app
from unitrace.cli.casework import codes_app
from unitrace.cli.catalog import location_app, party_app
from unitrace.cli.channel import (
    container_command,
    diversion_app,
    inventory_command,
    pack_command,
    ship_command,
    stocktake_app,
    unpack_command,
)
from unitrace.cli.claims import claims_app
from unitrace.cli.clones import clones_app
from unitrace.cli.common import console, database, err_console, fail, handle_errors, validated
from unitrace.cli.epcis import epcis_app
from unitrace.cli.gs1 import gs1_app
from unitrace.cli.imports import import_command
from unitrace.cli.label_runs import register as register_label_runs
from unitrace.cli.labels import labels_app
from unitrace.cli.owners import owners_command
from unitrace.cli.production import (
    bom_command,
    quality_app,
    recall_app,
    route_command,
    trace_app,
)
from unitrace.cli.spares import spares_app
from unitrace.cli.verify import verify_app
from unitrace.cli.warranty import describe, policy_command, warranty_command
from unitrace.cli.webhooks import webhooks_app, worker_command
from unitrace.config import Settings, partner_limits, site_timezone
from unitrace.core import clock
from unitrace.core.errors import ValidationError
from unitrace.db import migrate
from unitrace.ledger import queries, replay
from unitrace.ledger import service as ledger
from unitrace.ledger.schemas import CommissionIn

app = typer.Typer(
    help="unitrace: serial numbers and unit-level traceability (一物一码).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="Users.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
product_app = typer.Typer(help="Products.", no_args_is_help=True)
serials_app = typer.Typer(help="Serial numbers.", no_args_is_help=True)
unit_app = typer.Typer(help="Units.", no_args_is_help=True)
ledger_app = typer.Typer(help="The event ledger.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
for sub, name in (
    (db_app, "db"),
    (user_app, "user"),
    (token_app, "token"),
    (product_app, "product"),
    (serials_app, "serials"),
    (unit_app, "unit"),
    (ledger_app, "ledger"),
    (audit_app, "audit"),
    (trace_app, "trace"),
    (recall_app, "recall"),
    (quality_app, "quality"),
    (diversion_app, "diversion"),
    (stocktake_app, "stocktake"),
    (party_app, "party"),
    (location_app, "location"),
    (case_app, "case"),
    (codes_app, "service-codes"),
    (claims_app, "claims"),
    (spares_app, "spares"),
    (gs1_app, "gs1"),
    (labels_app, "labels"),
    (verify_app, "verify"),
    (clones_app, "clones"),
    (epcis_app, "epcis"),
    (webhooks_app, "webhooks"),
):
    app.add_typer(sub, name=name)
register_label_runs(labels_app)
app.command("ship")(ship_command)
app.command("inventory")(inventory_command)
app.command("pack")(pack_command)
app.command("unpack")(unpack_command)
app.command("container")(container_command)
app.command("warranty")(warranty_command)
app.command("warranty-policy")(policy_command)
app.command("owners")(owners_command)
app.command("worker")(worker_command)
app.command("import")(import_command)
product_app.command("bom")(handle_errors(bom_command))
product_app.command("route")(handle_errors(route_command))


@db_app.command("upgrade")
@handle_errors
def db_upgrade() -> None:
    """Create or migrate the schema to the newest version."""
    db = database()
    migrate.upgrade(db)
    console.print(f"database at revision {migrate.current_revision(db)}")


# below the 10 s that `docker stop` and systemd give before they kill
SHUTDOWN_GRACE_SECONDS = 5


@app.command()
@handle_errors
def serve(
    host: Annotated[str | None, typer.Option(help="listen address")] = None,
    port: Annotated[int | None, typer.Option(help="listen port")] = None,
    demo: Annotated[bool, typer.Option(help="load demo data into an empty database")] = True,
    workers: Annotated[int, typer.Option(min=1, max=32, help="server processes")] = 1,
) -> None:
    """Start the server. On an empty database: migrate, create the first admin, load demo data."""
    import uvicorn

    from unitrace.api.app import create_app
    from unitrace.api.serving import uvicorn_options
    from unitrace.db.engine import Database
    from unitrace.interop.webhooks import worker as webhooks_worker

    settings = Settings.from_env()
    partner_limits()  # a wrong limit stops the start, not a partner's request
    db = database()
    migrate.upgrade(db)
    if access.count_users(db) == 0:
        password = secrets.token_urlsafe(12)
        access.create_user(db, SYSTEM, "admin", password, "admin")
        token = access.create_token(db, SYSTEM, "admin", "first-start")["token"]
        if demo and catalog.list_products(db, SYSTEM, limit=1)["total"] == 0:
            from unitrace.demo import load_demo

            load_demo(db, console=console)
        console.print(
            "\n[bold green]First start.[/] Administrator created — keep these, they are shown "
            f"once:\n  user: [bold]admin[/]  password: [bold]{password}[/]\n"
            f"  API token: [bold]{token}[/]\n"
            f"  try: curl -H 'Authorization: Bearer {token}' "
            f"http://{host or settings.host}:{port or settings.port}/api/v1/units\n",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        f"unitrace on http://{host or settings.host}:{port or settings.port}  "
        f"(API docs /api/docs, database {db.dialect})",
        highlight=False,
        soft_wrap=True,
    )
    # no access log: at the warning level it is never written, yet uvicorn formats its
    # arguments for every request; time-outs and no X-Forwarded-* from uvicorn (api.serving)
    where: dict[str, Any] = {
        "host": host or settings.host,
        "port": port or settings.port,
        "access_log": False,
        **uvicorn_options(settings.limits),
    }
    # SIGTERM waits this long for requests in flight, then cancels them and stops; without it a
    # stalled upload or a busy request keeps the server running for ever
    where["timeout_graceful_shutdown"] = SHUTDOWN_GRACE_SECONDS
    if workers > 1:  # each worker process opens the database itself
        if webhooks_worker.enabled_in_server():  # one delivery thread, in this process
            webhooks_worker.start_thread(Database(settings.database_url))
        db.dispose()
        uvicorn.run(
            "unitrace.api.app:create_app_from_env",
            factory=True,
            workers=workers,
            log_level="warning",
            **where,
        )
        return
    if webhooks_worker.enabled_in_server():  # UNITRACE_WEBHOOKS_WORKER
        webhooks_worker.start_thread(db)
    db.checkpoint_in_background()
    uvicorn.run(create_app(db), log_level="warning", **where)


@app.command("demo")
@handle_errors
def demo_command(
    units: Annotated[int, typer.Option(min=200, max=1_000_000, help="finished units")] = 10_000,
) -> None:
    """Load realistic demo data (products, parties, units with a history)."""
    from unitrace.demo import load_demo

    db = database()
    migrate.upgrade(db)
    load_demo(db, units=units, console=console)


def _read_password() -> str:
    if sys.stdin.isatty():
        return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))
    return sys.stdin.readline().rstrip("\r\n")


@user_app.command("create")
@handle_errors
def user_create(
    name: str,
    role: Annotated[
        str,
        typer.Option(
            help="admin, production, warehouse, sales, service, "
            "quality, auditor, readonly or partner"
        ),
    ] = "readonly",
    party: Annotated[str | None, typer.Option(help="partner users: their party")] = None,
) -> None:
    """Create a user; the password is read from standard input (asked twice on a terminal)."""
    password = _read_password()
    created = access.create_user(database(), SYSTEM, name, password, role, party)
    console.print(
        f"user {created['username']} created with role {created['role']}", highlight=False
    )


@user_app.command("list")
@handle_errors
def user_list() -> None:
    """List users with their role, party and state."""
    table = Table("user", "role", "party", "active", "logins refused until")
    for u in access.list_users(database(), SYSTEM):
        table.add_row(
            u["username"],
            u["role"],
            u["party"] or "",
            "yes" if u["active"] else "no",
            u["refused_until"] or "",
        )
    console.print(table)


@user_app.command("set")
@handle_errors
def user_set(
    name: str,
    role: Annotated[str | None, typer.Option()] = None,
    party: Annotated[str | None, typer.Option()] = None,
    active: Annotated[bool | None, typer.Option("--active/--disabled")] = None,
    password: Annotated[
        bool,
        typer.Option(
            "--password",
            help="read a new password from stdin; ends the login "
            "back-off and revokes the user's API tokens",
        ),
    ] = False,
) -> None:
    """Change a user's role or party, enable/disable them, or reset their password (an
    administrator's reset: the user's API tokens are revoked)."""
    new_password = _read_password() if password else None
    changed = access.update_user(
        database(), SYSTEM, name, role=role, party=party, active=active, password=new_password
    )
    console.print(
        f"user {changed['username']}: role {changed['role']}, "
        f"{'active' if changed['active'] else 'disabled'}",
        highlight=False,
    )
    if "tokens_revoked" in changed:
        console.print(f"password changed; {changed['tokens_revoked']} API tokens revoked")


@user_app.command("unlock")
@handle_errors
def user_unlock(
    name: Annotated[str | None, typer.Argument(help="the user to let in again")] = None,
    address: Annotated[
        str | None,
        typer.Option("--address", help="also (or only) end the back-off of this address"),
    ] = None,
) -> None:
    """End the login back-off of a user (and/or of an address) after failed logins. Audited."""
    if not name and not address:
        raise fail("name a user or give --address", 2)
    cleared = access.clear_backoff(database(), SYSTEM, name, address)
    for key, failures in cleared.items():
        what = f"{failures} failed logins forgotten" if failures else "no back-off"
        console.print(f"{key}: {what}", highlight=False)


@token_app.command("create")
@handle_errors
def token_create(
    user: Annotated[str, typer.Argument(help="the user the token acts as")],
    name: Annotated[str, typer.Option(help="what the token is for")] = "cli",
    days: Annotated[int | None, typer.Option(help="expires after days")] = None,
    trusted: Annotated[bool, typer.Option(help="no API rate limit (an integration)")] = False,
) -> None:
    """Print a new API token for USER (only its hash is stored: copy it now)."""
    created = access.create_token(database(), SYSTEM, user, name, days, trusted)
    print(created["token"])


@token_app.command("list")
@handle_errors
def token_list(user: Annotated[str | None, typer.Argument()] = None) -> None:
    """List API tokens (never their secret), of one user or of everyone."""
    table = Table("id", "user", "name", "created", "expires", "revoked", "last used", "trusted")
    for t in access.list_tokens(database(), SYSTEM, user):
        table.add_row(
            str(t["id"]),
            t["user"],
            t["name"],
            _shown(t["created_at"]),
            _shown(t["expires_at"]),
            _shown(t["revoked_at"]),
            _shown(t["last_used_at"]),
            "yes" if t["trusted"] else "",
        )
    console.print(table)


@token_app.command("revoke")
@handle_errors
def token_revoke(
    token_id: Annotated[int | None, typer.Argument(help="from `token list`")] = None,
    user: Annotated[
        str | None,
        typer.Option("--user", help="instead: revoke every token of this user"),
    ] = None,
) -> None:
    """Revoke a token by its id, or all tokens of a user (`--user`)."""
    if (token_id is None) == (user is None):
        raise fail("give a token id or --user", 2)
    if user is not None:
        revoked = access.revoke_user_tokens(database(), SYSTEM, user)
        console.print(f"{len(revoked)} tokens of {user} revoked", highlight=False)
        return
    assert token_id is not None
    access.revoke_token(database(), SYSTEM, token_id)
    console.print(f"token {token_id} revoked")


@audit_app.command("verify")
@handle_errors
def audit_verify(
    anchor: Annotated[
        Path | None,
        typer.Option(
            "--anchor",
            help="an anchor file (`audit anchor --file`): every head "
            "in it must still be in the chain",
        ),
    ] = None,
) -> None:
    """Check the hash chain of the audit trail; name the first broken record (exit 1). With
    --anchor, also that no anchored record was removed or rewritten."""
    anchors: list[audit.Anchor] = []
    if anchor is not None:
        try:
            text = anchor.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"cannot read {anchor}: {exc}", 2) from None
        anchors = audit.parse_anchors(text, "anchor")
    report = audit.verify_chain(database(), SYSTEM, anchors)
    if report.ok:
        held = f"; {report.anchors} anchors hold" if anchor is not None else ""
        console.print(f"audit trail intact: {report.records} records{held}", highlight=False)
        return
    console.print(
        f"AUDIT TRAIL BROKEN at record {report.broken_at}: {report.problem}", highlight=False
    )
    raise typer.Exit(1)


@audit_app.command("anchor")
@handle_errors
def audit_anchor(
    file: Annotated[
        Path | None,
        typer.Option("--file", help="also append the anchor to this file"),
    ] = None,
) -> None:
    """Print the head of the audit chain (sequence number, hash, time) as one JSON line, and
    with --file append it there. Keep anchors where the database's writers cannot change
    them; `audit verify --anchor` then finds the removal of the newest records."""
    line = audit.current_head(database(), SYSTEM).line()
    if file is not None:
        try:
            with file.open("a", encoding="utf-8") as sink:
                sink.write(line + "\n")
        except OSError as exc:
            raise fail(f"cannot write {file}: {exc.strerror}", 2) from None
    print(line)


@audit_app.command("list")
@handle_errors
def audit_list(
    entity: Annotated[str | None, typer.Option()] = None,
    key: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
) -> None:
    """Show the newest audit records."""
    page = audit.list_records(database(), SYSTEM, entity=entity, entity_key=key, limit=limit)
    table = Table("id", "at", "actor", "action", "entity", "key")
    for r in page["items"]:
        table.add_row(
            str(r["id"]),
            _shown(r["at"], seconds=True),
            r["actor"],
            r["action"],
            r["entity"],
            r["entity_key"],
        )
    console.print(table)


@product_app.command("add")
@handle_errors
def product_add(
    code: str,
    name: str,
    gtin: Annotated[str | None, typer.Option()] = None,
    tracking: Annotated[str, typer.Option(help="serial, lot or none")] = "serial",
    serial_rule: Annotated[str | None, typer.Option(help="e.g. SN{yy}{mm}-{seq:6}")] = None,
    warranty_months: Annotated[int, typer.Option()] = 0,
    warranty_start: Annotated[
        str, typer.Option(help="manufacture, shipment, sale or activation")
    ] = "sale",
    warranty_fallback: Annotated[
        str | None, typer.Option(help="when a unit has no start event: e.g. shipment")
    ] = None,
    warranty_fallback_days: Annotated[
        int, typer.Option(help="days after the fallback event the warranty starts")
    ] = 0,
    gs1_company_prefix_length: Annotated[
        int | None,
        typer.Option(help="digits of the GTIN (GTIN-13 form) that are the GS1 company prefix"),
    ] = None,
) -> None:
    """Add a product (SKU)."""
    data = validated(
        ProductCreate,
        code=code,
        name=name,
        gtin=gtin,
        tracking=tracking,
        serial_rule=serial_rule,
        warranty_months=warranty_months,
        warranty_start=warranty_start,
        warranty_fallback=warranty_fallback,
        warranty_fallback_days=warranty_fallback_days,
        gs1_company_prefix_length=gs1_company_prefix_length,
    )
    created = catalog.create_product(database(), SYSTEM, data)
    console.print(f"product {created['code']} added", highlight=False)


@serials_app.command("generate")
@handle_errors
def serials_generate(
    product: str,
    count: Annotated[int | None, typer.Option(min=1, help="how many to generate")] = None,
    from_file: Annotated[
        Path | None,
        typer.Option("--from-file", help="register the serials in this file, one a line"),
    ] = None,
    lot: Annotated[str | None, typer.Option()] = None,
    location: Annotated[str | None, typer.Option()] = None,
    plant: Annotated[str | None, typer.Option()] = None,
    line: Annotated[str | None, typer.Option()] = None,
    out: Annotated[Path | None, typer.Option(help="write the serials to this file")] = None,
) -> None:
    """Commission units: generate COUNT serials from the product's rule, or register a file's."""
    serials = None
    if from_file is not None:
        try:
            text = from_file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"cannot read {from_file}: {exc}", 2) from None
        serials = [s.strip() for s in text.splitlines() if s.strip()]
        if not serials:
            raise fail(f"{from_file} holds no serials", 2)
    if (count is None) == (serials is None):
        raise fail("give either --count or --from-file", 2)
    request = validated(
        CommissionIn,
        product=product,
        count=count,
        serials=serials,
        lot=lot,
        location=location,
        plant=plant,
        line=line,
    )
    sink = None
    if out is not None:  # open it first: a bad path must fail before units are made
        try:
            sink = out.open("w", encoding="utf-8")
        except OSError as exc:
            raise fail(f"cannot write {out}: {exc.strerror}", 2) from None
    try:
        with err_console.status(
            f"commissioning {count or len(serials or [])} units of {product} …"
        ):
            result = ledger.commission_units(database(), SYSTEM, request)
        (sink or sys.stdout).write("\n".join(result.serials) + "\n")
    finally:
        if sink is not None:
            sink.close()
    if out is not None:
        err_console.print(f"{result.unit_count} serials written to {out}", highlight=False)
    err_console.print(
        f"commissioned {result.unit_count} units ({result.event_id})", highlight=False
    )


@unit_app.command("show")
@handle_errors
def unit_show(
    serial: str,
    product: Annotated[str | None, typer.Option(help="when the serial is ambiguous")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Show a unit's dossier: identity, state, components and the event timeline."""
    found = queries.dossier(database(), SYSTEM, serial, product)
    if as_json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return
    p = found["product"]
    console.print(
        f"[bold]{escape(found['serial'])}[/]  {escape(p['code'] + ' ' + p['name'])}",
        highlight=False,
    )
    lot = found["lot"]["number"] if found["lot"] else "-"
    w = found["warranty"]
    for label, value in (
        ("status", found["status"]),
        ("lot", lot),
        ("produced", found["production_date"]),
        ("location", found["location"]),
        ("holder", found["holder"]),
        ("parent", found["parent"]["serial"] if found["parent"] else None),
        ("warranty", describe(w)),
    ):
        console.print(escape(f"  {label:<9} {value or '-'}"), highlight=False)
    ids = found["identifiers"]
    if ids is not None:
        for label, value in (
            ("link", ids["digital_link"]),
            ("gs1", (ids["element_string"] or "").replace("\x1d", "<GS>")),
            ("gs1 text", ids["bracketed"]),
            ("epc", ids["epc"] or ids["note"]),
        ):
            console.print(escape(f"  {label:<9} {value or '-'}"), highlight=False)
    if found["components"]:
        console.print("  components:")
        for c in found["components"]:
            line = f"    {c['product']} {c['serial']} ({c['status']})"
            console.print(escape(line), highlight=False)
    table = Table("time", "event", "role", "where", "party", "details")
    for e in found["events"]:
        details = json.dumps(e["data"], ensure_ascii=False) if e["data"] else ""
        where, party = e["location"] or "", e["party"] or ""
        cells = (_shown(e["event_time"]), e["type"], e["role"], where, party, details)
        table.add_row(*[escape(v) for v in cells])
    console.print(table)


def _shown(value: str | None, seconds: bool = False) -> str:
    """A time as the pages show it: in the site's zone (`UNITRACE_TIMEZONE`), with the offset."""
    return clock.shown_in(value, site_timezone(), seconds) if value else ""


@ledger_app.command("verify")
@handle_errors
def ledger_verify() -> None:
    """Replay every event and report each unit whose stored state differs (exit 1 if any)."""
    with err_console.status("replaying the ledger …"):
        result = replay.verify_ledger(database(), SYSTEM)
    for m in result.mismatches[:100]:
        console.print(f"MISMATCH {m.product}/{m.serial}: {m.problem}", highlight=False)
    if len(result.mismatches) > 100:
        console.print(f"… and {len(result.mismatches) - 100} more", highlight=False)
    console.print(
        f"{result.events} events replayed over {result.units} units: "
        f"{len(result.mismatches)} mismatches",
        highlight=False,
    )
    if not result.ok:
        raise typer.Exit(1)


def main() -> None:
    from unitrace.ledger import pipeline

    try:
        pipeline.require("production", "channel", "aftersales")  # what its commands use
    except RuntimeError as exc:
        err_console.print(f"error: {exc}")
        raise SystemExit(1) from None
    try:
        app()
    except ValidationError as exc:  # raised outside a handled command (should not happen)
        err_console.print(f"error: {exc}")
        raise SystemExit(2) from None
