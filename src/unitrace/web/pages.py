"""Web pages: parse the form, call one use case, render. Login, dashboard, unit search and
dossier, commissioning and the scan station, in English and Simplified Chinese."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError as PydanticValidationError
from starlette.concurrency import run_in_threadpool

from unitrace.access import service as access
from unitrace.access.principal import Actor
from unitrace.catalog import service as catalog
from unitrace.channel import figures as channel_figures
from unitrace.config import site_timezone
from unitrace.core.errors import (
    FieldError,
    NotFound,
    Unauthorized,
    UnitraceError,
    ValidationError,
)
from unitrace.core.lifecycle import TAKES, Effect, rule_for
from unitrace.interop import exports
from unitrace.ledger import figures, group, queries
from unitrace.ledger import service as ledger
from unitrace.ledger.scanned import MAX_SCANNED_LENGTH
from unitrace.ledger.schemas import CommissionIn, EventIn
from unitrace.production import figures as production_figures
from unitrace.production import recall
from unitrace.web import i18n
from unitrace.web import warranty as warranty_pages
from unitrace.web.common import (
    LANG_COOKIE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    csrf_ok,
    database,
    download,
    error_title,
    form_errors,
    read_form,
    render,
    require_login,
    session_of,
    set_locale,
)
from unitrace.web.i18n import _

router = APIRouter(include_in_schema=False)
# what a person records one unit at a time, at a scan station (the role decides which)
SCAN_ACTIONS = (
    "receive", "move", "pack", "unpack", "ship", "deliver", "sell", "activate", "return",
    "repair", "inspect", "verify", "scrap",
)  # fmt: skip
SEEN_IN_REGION = frozenset({"sell", "activate", "return", "repair", "verify"})
WITH_REASON = frozenset({"return", "repair", "scrap"})
REGION_CODE = re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,6}){0,2}")  # as `EventIn.region`


# --- login, logout, language ------------------------------------------------------------


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    set_locale(request, None)
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", csrf=token, next=next if next.startswith("/") else "/")
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict")
    return response


@router.post("/login")
async def login_submit(request: Request) -> Response:
    set_locale(request, None)
    form = await read_form(request)
    target = form.get("next", "/")
    target = target if target.startswith("/") and not target.startswith("//") else "/"
    login_csrf = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not csrf_ok(login_csrf, form, request):
        return render(
            request,
            "login.html",
            400,
            csrf=login_csrf,
            next=target,
            error=_("The form expired; please try again."),
        )
    address = request.client.host if request.client else "unknown"
    try:
        username, password = form.get("username", "")[:80], form.get("password", "")[:200]
        actor, session_id, _csrf = access.login(database(request), username, password, address)
    except access.Throttled as refused:  # the same answer for any user name, known or not
        error = _("Too many failed logins. Try again in %(n)s seconds.") % {
            "n": refused.retry_after
        }
        page = render(request, "login.html", 429, csrf=login_csrf, next=target, error=error)
        page.headers["Retry-After"] = str(refused.retry_after)
        return page
    except Unauthorized:
        return render(
            request,
            "login.html",
            401,
            csrf=login_csrf,
            next=target,
            error=_("Wrong user name or password."),
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=12 * 3600,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    who = session_of(request)
    form = await read_form(request)
    if who is not None:
        set_locale(request, who[2])
        if not csrf_ok(who[1], form, request):  # another site must not log a user out
            return HTMLResponse(_("The form expired; reload the page."), status_code=400)
        access.logout(database(request), request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/lang")
async def choose_language(request: Request) -> Response:
    form = await read_form(request)
    locale = form.get("locale", "")
    back = form.get("back", "/")
    back = back if back.startswith("/") and not back.startswith("//") else "/"
    response = RedirectResponse(back, status_code=303)
    if locale not in i18n.LOCALES:
        return response
    who = session_of(request)
    if who is not None and csrf_ok(who[1], form, request):
        access.set_locale(database(request), who[0], locale)
    response.set_cookie(LANG_COOKIE, locale, samesite="lax", max_age=365 * 24 * 3600)
    return response


# --- pages ------------------------------------------------------------------------------


@router.get("/")
def dashboard(request: Request) -> Response:
    """The figures a manager opens the home page for, those of the role only (a partner: its
    own units and events)."""
    actor, csrf = require_login(request)
    return render(request, "dashboard.html", user=actor, csrf=csrf, **home_figures(request, actor))


def home_figures(request: Request, actor: Actor) -> dict[str, Any]:
    db, zone = database(request), site_timezone()
    today, week = figures.day_start(zone), figures.week_start(zone)
    shown: dict[str, Any] = {
        **figures.unit_statuses(db, actor),
        "sold": figures.units_in_events(db, actor, "sell"),
        "sold_week": figures.units_in_events(db, actor, "sell", week),
        "latest": figures.latest_events(db, actor),
        "by_product": figures.units_by_product(db, actor),
    }
    if not actor.is_partner:  # our production and shipping are not a partner's figures
        shown["output"] = figures.output_since(db, actor, today)
        shown["shipped_today"] = figures.units_in_events(db, actor, "ship", today)
        shown["shipments_today"] = figures.events_count(db, actor, "ship", today)
        shown["shipped_week"] = figures.units_in_events(db, actor, "ship", week)
        shown["shipments_week"] = figures.events_count(db, actor, "ship", week)
    if actor.can("trace"):
        shown["trend"] = production_figures.yield_trend(db, actor, zone)
        shown["recalls"] = [r for r in recall.list_recalls(db, actor) if r["status"] == "open"]
    if actor.can("catalog.read"):
        shown["alerts"] = channel_figures.open_alerts(db, actor)
        shown["warehouses"] = channel_figures.stock_by_warehouse(db, actor)
    return shown


@router.get("/units")
def search(
    request: Request, q: str = "", product: str = "", after: str = "", format: str = ""
) -> Response:
    """A serial, or its beginning: one unit found by its whole serial opens its dossier; else
    the units whose serial begins so, a page at a time; `format=csv|xlsx` downloads them all."""
    actor, csrf = require_login(request)
    q = q.strip()[:MAX_SCANNED_LENGTH]
    if not q:
        return render(request, "search.html", user=actor, csrf=csrf, q="")
    try:
        cursor = int(after) if after.isdigit() and len(after) <= 18 else None
        if format in ("csv", "xlsx"):
            db, chosen = database(request), product.strip() or None
            rows = exports.paged(
                lambda page: queries.search_units(
                    db, actor, q, product=chosen, after=int(page) if page else cursor, limit=1000
                )
            )
            return download("units", exports.UNITS, rows, format)
        found = queries.search_units(
            database(request), actor, q, product=product.strip() or None, after=cursor
        )
    except UnitraceError as error:
        return render(
            request,
            "search.html",
            404 if isinstance(error, NotFound) else 422,
            user=actor,
            csrf=csrf,
            q=q,
            error=error_title(error),
            detail=error.detail,
        )
    items = found["items"]
    whole = [u for u in items if found.get("scanned") or u["serial"] in (q, q.upper())]
    if cursor is None and len(whole) == 1:  # a scanned serial: its dossier
        unit = whole[0]
        target = f"/units/{quote(unit['serial'])}?product={quote(unit['product'])}"
        return RedirectResponse(target, status_code=303)
    if not items:
        return render(
            request,
            "search.html",
            404,
            user=actor,
            csrf=csrf,
            q=q,
            error=_("Not found"),
            detail=_("No unit has a serial that begins with %(q)s.") % {"q": q},
        )
    return render(
        request,
        "search.html",
        user=actor,
        csrf=csrf,
        q=q,
        product=product,
        results=items,
        next=found["next"],
    )


@router.get("/units/{serial:path}")
def dossier_page(
    request: Request,
    serial: str,
    product: str | None = None,
    warranty_saved: str = "",
    format: str = "",
) -> Response:
    actor, csrf = require_login(request)
    if format in ("csv", "xlsx"):  # the unit's events; a unit it may not see: the page says so
        try:
            found = queries.dossier(database(request), actor, serial, product or None)
        except UnitraceError:
            found = None
        if found is not None:
            name = f"events-{found['serial']}"
            return download(name, exports.EVENTS, found["events"], format)
    saved = warranty_saved if warranty_saved in warranty_pages.ACTIONS else None
    return warranty_pages.dossier_page(
        request, actor, csrf, serial, product or None, warranty_saved=saved
    )


def _pickers(request: Request, actor: Actor) -> dict[str, Any]:
    db = database(request)
    if not actor.can("catalog.read"):
        return {"locations": [], "parties": [], "products": []}
    return {
        "locations": catalog.list_table(db, actor, "locations"),
        "parties": catalog.list_table(db, actor, "parties"),
        "products": catalog.list_products(db, actor, limit=500)["items"],
    }


def scan_actions(actor: Actor) -> list[str]:
    """The scan station's actions the actor's role may record, in the station's order."""
    return [a for a in SCAN_ACTIONS if actor.can(f"event:{a}")]


def scan_fields(action: str) -> dict[str, bool]:
    """The fields of the scan station an action takes, each with whether it must be given:
    location and party where the lifecycle rule sets or may set them (`core.lifecycle`)."""
    rule = rule_for(action)
    fields: dict[str, bool] = {}
    if rule.location in (Effect.SET, Effect.OPTIONAL):
        fields["location"] = rule.location is Effect.SET
    if rule.holder in (Effect.SET, Effect.OPTIONAL):
        fields["party"] = rule.holder is Effect.SET
    if action in TAKES["container"]:
        fields["container"] = True
    if action in TAKES["container_kind"]:
        fields["pallet"] = False
    if action == "receive":
        fields["po"] = False
    if action in SEEN_IN_REGION:
        fields["region"] = False
    if action in WITH_REASON:
        fields["reason"] = action in ("return", "scrap")
    return fields


def _field_actions(actions: list[str]) -> dict[str, dict[str, str]]:
    """For the template: each field's actions and the actions it is required for."""
    out: dict[str, dict[str, str]] = {}
    for action in actions:
        for name, required in scan_fields(action).items():
            entry = out.setdefault(name, {"actions": "", "required": ""})
            entry["actions"] = (entry["actions"] + " " + action).strip()
            if required:
                entry["required"] = (entry["required"] + " " + action).strip()
    return out


@router.get("/scan")
def scan_page(request: Request) -> Response:
    actor, csrf = require_login(request)
    actions = scan_actions(actor)
    return render(
        request,
        "scan.html",
        user=actor,
        csrf=csrf,
        actions=actions,
        fields=_field_actions(actions),
        **_pickers(request, actor),
    )


SCAN_WORKER = Path(__file__).resolve().parent / "static" / "scan-worker.js"


@router.get("/scan-worker.js", include_in_schema=False)
def scan_worker() -> Response:
    """The scan station's service worker (static/scan-worker.js: the page and its scripts kept
    for a reload without a network). Served here, not under /static, because a worker controls
    only pages below its own path; scan.js registers it for /scan alone."""
    return FileResponse(
        SCAN_WORKER, media_type="text/javascript", headers={"Cache-Control": "no-cache"}
    )


@router.post("/scan")
async def scan_submit(request: Request) -> Response:
    actor, csrf = require_login(request)
    form = await read_form(request)
    if not csrf_ok(csrf, form, request):
        return HTMLResponse(_("The form expired; reload the page."), status_code=400)
    serial = form.get("serial", "").strip()
    action = form.get("action", "")
    context: dict[str, Any] = {"serial": serial, "action": action}
    try:
        if action not in SCAN_ACTIONS:  # one the role may not record: refused by the ledger
            raise ValidationError(_("Choose an action."), [FieldError("action", "unknown")])
        if not serial:
            raise ValidationError(
                _("Nothing was scanned."), [FieldError("serial", "Nothing was scanned.")]
            )
        event = await run_in_threadpool(_scan_event, request, actor, form, action, serial)
        # group commit, like a scan through the API: written together with the scans that
        # arrive meanwhile, from the pages and the API alike
        done = await group.record(database(request), actor, event)
        context.update(
            ok=True, count=done.unit_count, boxed=bool(event.containers), warnings=done.warnings
        )
    except FormProblems as problems:
        context.update(ok=False, title=_("Invalid input"), detail=problems.said())
    except PydanticValidationError as exc:
        context.update(ok=False, title=_("Invalid input"), detail=_pydantic_detail(exc))
    except UnitraceError as error:
        context.update(ok=False, title=error_title(error), detail=error.detail)
    return render(request, "scan_result.html", **context)


_FIELD_LABELS = {
    "action": lambda: _("Action"),
    "serial": lambda: _("Serial"),
    "location": lambda: _("Location"),
    "party": lambda: _("Party"),
    "container": lambda: _("Carton / pallet"),
    "region": lambda: _("Region"),
    "reason": lambda: _("Reason"),
    "event_id": lambda: _("Scan id"),
    "event_time": lambda: _("Time of the scan"),
}


class FormProblems(Exception):
    """The scan station's own fields missing or wrong, each said with its label in the page's
    language (the messages are the page's: already translated)."""

    def __init__(self, problems: list[FieldError]) -> None:
        super().__init__(problems)
        self.problems = problems

    def said(self) -> str:
        return "; ".join(f"{_FIELD_LABELS[p.field]()}: {p.message}" for p in self.problems)


def _pydantic_detail(exc: PydanticValidationError) -> str:
    """Every problem of the form at once, each naming its field."""
    parts = []
    for problem in exc.errors():
        where = str(problem["loc"][0]) if problem["loc"] else ""
        label = _FIELD_LABELS[where]() if where in _FIELD_LABELS else where
        parts.append(f"{label}: {problem['msg']}" if label else str(problem["msg"]))
    return "; ".join(parts)


def _scan_event(
    request: Request, actor: Actor, form: dict[str, str], action: str, code: str
) -> EventIn:
    """The event one scan makes: a scanned carton or pallet stands for everything in it.
    Only the fields the action takes are read (a field left filled for another action is not
    sent); every missing required field is named at once. Runs in the thread pool (it reads
    the database: is the code a container?)."""
    from unitrace.channel import service as channel

    fields = scan_fields(action)
    given = {name: form.get(name, "").strip() for name in fields}
    missing = [
        FieldError(
            name,
            _("Scan or type the carton or pallet first.")
            if name == "container"
            else _("required for this action"),
        )
        for name, required in fields.items()
        if required and not given[name]
    ]
    region = given.get("region", "").upper()
    if region and not REGION_CODE.fullmatch(region):
        missing.append(FieldError("region", _("write a region code like CN-44"), region))
    if missing:
        raise FormProblems(missing)
    boxed = channel.is_container(database(request), actor, code)
    values: dict[str, Any] = {"type": action, "product": form.get("product") or None}
    # a scan the station queued (offline): its own id, so that sent twice it is written once,
    # and the time it was scanned, not the time it reached the server
    for name in ("event_id", "event_time"):
        if form.get(name, "").strip():
            values[name] = form[name].strip()
    units: dict[str, list[str]] = {"containers": [code]} if boxed else {"serials": [code]}
    target = given.get("container", "")
    if action in ("pack", "unpack"):
        if action == "unpack" and code == target:
            units = {}  # the container itself scanned: empty it
        kind = "pallet" if action == "pack" and form.get("pallet") else None
        return EventIn.model_validate(
            {**values, **units, "container": target, "container_kind": kind}
        )
    for name in ("location", "party"):
        if given.get(name):
            values[name] = given[name]
    if region:
        values["region"] = region
    if given.get("reason"):
        values["data"] = {"reason": given["reason"][:500]}
    if given.get("po"):
        values["biz_transactions"] = [{"type": "po", "id": given["po"]}]
    return EventIn.model_validate({**values, **units})


@router.get("/commission")
def commission_page(request: Request) -> Response:
    actor, csrf = require_login(request)
    return render(
        request, "commission.html", user=actor, csrf=csrf, form={}, **_pickers(request, actor)
    )


@router.post("/commission")
async def commission_submit(request: Request) -> Response:
    actor, csrf = require_login(request)
    form = await read_form(request)
    errors: dict[str, str] = {}
    result = None
    if not csrf_ok(csrf, form, request):
        errors["form"] = _("The form expired; please try again.")
    else:
        pasted = [s.strip() for s in form.get("serials", "").splitlines() if s.strip()]
        count_text = form.get("count", "").strip()
        values: dict[str, Any] = {
            "product": form.get("product", ""),
            "lot": form.get("lot") or None,
            "location": form.get("location") or None,
        }
        if pasted:
            values["serials"] = pasted
        elif count_text.isdigit():
            values["count"] = int(count_text)
        else:
            errors["count"] = _("Give a number of units, or paste serials.")
        if not errors:
            try:
                result = ledger.commission_units(database(request), actor, CommissionIn(**values))
            except (PydanticValidationError, UnitraceError) as error:
                errors = form_errors(error)
                if isinstance(error, UnitraceError) and "serials" in errors:
                    errors["serials"] = _serial_problems(error, pasted)
    status = 422 if errors else 201
    return render(
        request,
        "commission.html",
        status,
        user=actor,
        csrf=csrf,
        form=form,
        errors=errors,
        result=result,
        shown=SHOWN_SERIALS,
        **_pickers(request, actor),
    )


SHOWN_SERIALS = 1_000  # listed in the page; the download has them all
LISTED_PROBLEMS = 20  # pasted serials refused, named one by one next to the field


def _serial_problems(error: UnitraceError, pasted: list[str]) -> str:
    """Every pasted serial refused, with its reason, next to the field (not only the first)."""
    lines = []
    for item in error.errors:
        head, _dot, index = item.field.partition(".")
        if head != "serials":
            continue
        serial = item.value if item.value is not None else ""
        if not serial and index.isdigit() and int(index) < len(pasted):
            serial = pasted[int(index)]
        lines.append(f"{serial}: {_(item.message)}" if serial else _(item.message))
    shown = lines[:LISTED_PROBLEMS]
    if len(lines) > len(shown):
        shown.append(_("and %(n)s more") % {"n": len(lines) - len(shown)})
    return "; ".join(shown)
