"""Web pages: parse the form, call one use case, render. Login, dashboard, unit search and
dossier, commissioning and the scan station, in English and Simplified Chinese."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError as PydanticValidationError

from unitrace.access import service as access
from unitrace.access.principal import Actor
from unitrace.catalog import service as catalog
from unitrace.core.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    Unauthorized,
    UnitraceError,
    ValidationError,
)
from unitrace.core.lifecycle import EVENT_TYPES, Status
from unitrace.db.engine import Database
from unitrace.ledger import queries
from unitrace.ledger import service as ledger
from unitrace.ledger.schemas import CommissionIn, EventIn
from unitrace.web import i18n
from unitrace.web.i18n import _

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
templates.env.globals.update(_=_, LOCALES=i18n.LOCALES, format_time=i18n.format_time,
                             format_number=i18n.format_number, EVENT_TYPES=EVENT_TYPES)  # fmt: skip
SESSION_COOKIE = "unitrace_session"
LANG_COOKIE = "unitrace_lang"
LOGIN_CSRF_COOKIE = "unitrace_login_csrf"
SCAN_ACTIONS = ("receive", "move", "ship", "inspect")


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _who(request: Request) -> tuple[Actor, str, str | None] | None:
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    try:
        return access.session_actor(_db(request), session_id)
    except Unauthorized:
        return None


def _set_locale(request: Request, chosen: str | None) -> str:
    cookie = request.cookies.get(LANG_COOKIE)
    locale = chosen or (cookie if cookie in i18n.LOCALES else None)
    locale = locale or i18n.negotiate(request.headers.get("accept-language"))
    i18n.current.set(locale)
    return locale


def _render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("user", None)
    context.setdefault("csrf", "")
    context["locale"] = i18n.current.get()
    return templates.TemplateResponse(request, name, context, status_code=status)


def _error_title(error: UnitraceError) -> str:
    titles: list[tuple[type[UnitraceError], str]] = [
        (InvalidTransition, _("Not allowed in this state")),
        (NotFound, _("Not found")),
        (Conflict, _("Conflict")),
        (Forbidden, _("Not permitted")),
        (ValidationError, _("Invalid input")),
    ]
    for kind, title in titles:
        if isinstance(error, kind):
            return title
    return _("Error")


def _field_errors(error: UnitraceError) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in error.errors:
        out.setdefault(item.field.split(".")[0], _(item.message))
    return out


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _csrf_ok(expected: str, form: dict[str, str], request: Request) -> bool:
    given = form.get("csrf_token") or request.headers.get("x-csrf-token") or ""
    return bool(expected) and hmac.compare_digest(given, expected)


class _Login(Exception):
    pass


def _require(request: Request) -> tuple[Actor, str]:
    who = _who(request)
    if who is None:
        raise _Login()
    actor, csrf, locale = who
    _set_locale(request, locale)
    return actor, csrf


def _to_login(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)


# --- login, logout, language ------------------------------------------------------------


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    _set_locale(request, None)
    token = secrets.token_urlsafe(24)
    response = _render(
        request, "login.html", csrf=token, next=next if next.startswith("/") else "/"
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict")
    return response


@router.post("/login")
async def login_submit(request: Request) -> Response:
    _set_locale(request, None)
    form = await _form(request)
    target = form.get("next", "/")
    target = target if target.startswith("/") and not target.startswith("//") else "/"
    if not _csrf_ok(request.cookies.get(LOGIN_CSRF_COOKIE, ""), form, request):
        return _render(request, "login.html", 400, csrf=request.cookies.get(LOGIN_CSRF_COOKIE, ""),
                       next=target, error=_("The form expired; please try again."))  # fmt: skip
    address = request.client.host if request.client else "unknown"
    try:
        actor, session_id, _csrf = access.login(
            _db(request), form.get("username", "")[:80], form.get("password", "")[:200], address
        )
    except access.Locked:
        error = _("This account is locked after too many failed logins. Try again in 15 minutes "
                  "or ask an administrator.")  # fmt: skip
        return _render(request, "login.html", 403, csrf=request.cookies.get(LOGIN_CSRF_COOKIE, ""),
                       next=target, error=error)  # fmt: skip
    except access.Throttled:
        error = _("Too many failed logins from this address. Wait 15 minutes.")
        return _render(request, "login.html", 429, csrf=request.cookies.get(LOGIN_CSRF_COOKIE, ""),
                       next=target, error=error)  # fmt: skip
    except Unauthorized:
        return _render(request, "login.html", 401, csrf=request.cookies.get(LOGIN_CSRF_COOKIE, ""),
                       next=target, error=_("Wrong user name or password."))  # fmt: skip
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, session_id, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", max_age=12 * 3600)  # fmt: skip
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    who = _who(request)
    form = await _form(request)
    if who is not None and _csrf_ok(who[1], form, request):
        access.logout(_db(request), request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/lang")
async def choose_language(request: Request) -> Response:
    form = await _form(request)
    locale = form.get("locale", "")
    back = form.get("back", "/")
    back = back if back.startswith("/") and not back.startswith("//") else "/"
    response = RedirectResponse(back, status_code=303)
    if locale not in i18n.LOCALES:
        return response
    who = _who(request)
    if who is not None and _csrf_ok(who[1], form, request):
        access.set_locale(_db(request), who[0], locale)
    response.set_cookie(LANG_COOKIE, locale, samesite="lax", max_age=365 * 24 * 3600)
    return response


# --- pages ------------------------------------------------------------------------------


@router.get("/")
def dashboard(request: Request) -> Response:
    try:
        actor, csrf = _require(request)
    except _Login:
        return _to_login(request)
    data = queries.overview(_db(request), actor)
    counts = data.pop("statuses")
    ordered = [(s.label, counts.get(s.label, 0)) for s in Status]
    return _render(request, "dashboard.html", user=actor, csrf=csrf, statuses=ordered,
                   total=sum(counts.values()), **data)  # fmt: skip


@router.get("/units")
def search(request: Request, q: str = "", product: str = "") -> Response:
    try:
        actor, csrf = _require(request)
    except _Login:
        return _to_login(request)
    q = q.strip()[:64]
    if not q:
        return _render(request, "search.html", user=actor, csrf=csrf, q="")
    try:
        found = queries.dossier(_db(request), actor, q, product.strip() or None)
    except UnitraceError as error:
        return _render(request, "search.html", 404 if isinstance(error, NotFound) else 422,
                       user=actor, csrf=csrf, q=q, error=_error_title(error),
                       detail=error.detail)  # fmt: skip
    target = f"/units/{quote(found['serial'])}?product={quote(found['product']['code'])}"
    return RedirectResponse(target, status_code=303)


@router.get("/units/{serial:path}")
def dossier_page(request: Request, serial: str, product: str | None = None) -> Response:
    try:
        actor, csrf = _require(request)
    except _Login:
        return _to_login(request)
    try:
        found = queries.dossier(_db(request), actor, serial, product or None)
    except UnitraceError as error:
        return _render(request, "search.html", 404 if isinstance(error, NotFound) else 422,
                       user=actor, csrf=csrf, q=serial, error=_error_title(error),
                       detail=error.detail)  # fmt: skip
    return _render(request, "dossier.html", user=actor, csrf=csrf, unit=found)


def _pickers(request: Request, actor: Actor) -> dict[str, Any]:
    db = _db(request)
    if not actor.can("catalog.read"):
        return {"locations": [], "parties": [], "products": []}
    return {
        "locations": catalog.list_table(db, actor, "locations"),
        "parties": catalog.list_table(db, actor, "parties"),
        "products": catalog.list_products(db, actor, limit=500)["items"],
    }


@router.get("/scan")
def scan_page(request: Request) -> Response:
    try:
        actor, csrf = _require(request)
    except _Login:
        return _to_login(request)
    return _render(request, "scan.html", user=actor, csrf=csrf, actions=SCAN_ACTIONS,
                   **_pickers(request, actor))  # fmt: skip


@router.post("/scan")
async def scan_submit(request: Request) -> Response:
    try:
        actor, csrf = _require(request)
    except _Login:
        return HTMLResponse(_("Please log in again."), status_code=401)
    form = await _form(request)
    if not _csrf_ok(csrf, form, request):
        return HTMLResponse(_("The form expired; reload the page."), status_code=400)
    serial = form.get("serial", "").strip()
    action = form.get("action", "")
    context: dict[str, Any] = {"serial": serial, "action": action}
    try:
        if action not in SCAN_ACTIONS:
            raise ValidationError(_("Choose an action."))
        if not serial:
            raise ValidationError(_("Nothing was scanned."))
        event = EventIn(type=action, serials=[serial],
                        product=form.get("product") or None,
                        location=form.get("location") or None,
                        party=form.get("party") or None if action == "ship" else None)  # fmt: skip
        ledger.record_events(_db(request), actor, [event])
        context.update(ok=True)
    except PydanticValidationError as exc:
        context.update(ok=False, title=_("Invalid input"), detail=str(exc.errors()[0]["msg"]))
    except UnitraceError as error:
        context.update(ok=False, title=_error_title(error), detail=error.detail)
    return _render(request, "scan_result.html", **context)


@router.get("/commission")
def commission_page(request: Request) -> Response:
    try:
        actor, csrf = _require(request)
    except _Login:
        return _to_login(request)
    return _render(request, "commission.html", user=actor, csrf=csrf, form={},
                   **_pickers(request, actor))  # fmt: skip


@router.post("/commission")
async def commission_submit(request: Request) -> Response:
    try:
        actor, csrf = _require(request)
    except _Login:
        return _to_login(request)
    form = await _form(request)
    errors: dict[str, str] = {}
    result = None
    if not _csrf_ok(csrf, form, request):
        errors["form"] = _("The form expired; please try again.")
    else:
        pasted = [s.strip() for s in form.get("serials", "").splitlines() if s.strip()]
        count_text = form.get("count", "").strip()
        values: dict[str, Any] = {"product": form.get("product", ""),
                                  "lot": form.get("lot") or None,
                                  "location": form.get("location") or None}  # fmt: skip
        if pasted:
            values["serials"] = pasted
        elif count_text.isdigit():
            values["count"] = int(count_text)
        else:
            errors["count"] = _("Give a number of units, or paste serials.")
        if not errors:
            try:
                result = ledger.commission_units(_db(request), actor, CommissionIn(**values))
            except PydanticValidationError as exc:
                for item in exc.errors():
                    where = str(item["loc"][0]) if item["loc"] else "form"
                    errors.setdefault(where, _(str(item["msg"]).removeprefix("Value error, ")))
            except UnitraceError as error:
                errors = _field_errors(error) or {"form": error.detail}
                errors.setdefault("form", _error_title(error) + ": " + error.detail)
    status = 422 if errors else 201
    return _render(request, "commission.html", status, user=actor, csrf=csrf, form=form,
                   errors=errors, result=result, **_pickers(request, actor))  # fmt: skip
