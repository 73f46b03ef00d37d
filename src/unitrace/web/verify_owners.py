"""The buyer's public pages (issue 16, verify/owners.py): register the warranty, hand the
ownership on with a transfer code, claim it, report the unit stolen.

Public: no login, not in the header (like /01/… and /v/{code}); phone-first, zh-CN and English
(`?lang=`), a small page of its own (no htmx, no script). Forms carry a double-submit CSRF
token (a cookie under /v/ and a hidden field). The owner key is shown once and kept in a cookie
of the code (`unitrace_owner_{code}`, path /v/); a form may also take it typed. Nothing here
says who registered or who owns."""

from __future__ import annotations

import functools
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from unitrace.aftersales.warranty import today
from unitrace.catalog.regions import CHOICES, region_label, region_name
from unitrace.core.errors import Conflict, InvalidTransition, NotFound, UnitraceError
from unitrace.core.lifecycle import Status
from unitrace.verify import owners
from unitrace.web import i18n
from unitrace.web.common import csrf_ok, database, field_errors, read_form, render, set_locale
from unitrace.web.i18n import LOCALES, _

router = APIRouter(include_in_schema=False)

CSRF_COOKIE = "unitrace_public_csrf"
OWNER_COOKIE = "unitrace_owner_"  # + the code
_YEARS = 10 * 365 * 24 * 3600


def _locale(request: Request) -> str:
    lang = request.query_params.get("lang")
    return set_locale(request, lang if lang in LOCALES else None)


def _token(request: Request) -> str:
    return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)


def _page(request: Request, status: int, code: str, **context: Any) -> HTMLResponse:
    token = _token(request)
    regions = [(c, region_name(c, i18n.current.get())) for c in CHOICES]
    page = render(
        request,
        "verify_owners.html",
        status,
        code=code,
        token=token,
        regions=regions,
        today=today(),
        **context,
    )
    page.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", path="/v/")
    page.headers["Cache-Control"] = "no-store"
    return page


def _owner_cookie(code: str) -> str:
    return OWNER_COOKIE + "".join(c for c in code.upper() if c.isalnum())[:32]


def _state(request: Request, code: str) -> dict[str, Any]:
    """What the page shows of the unit: only whether it may be registered, is registered, has
    owners and since when (never who)."""
    db = database(request)
    with db.read() as conn:
        unit = owners.code_unit(conn, code)
        state = owners.ownership(conn, unit.unit_id)
        registrable = owners.registrable(conn, unit.unit_id)
    return {
        "registrable": registrable,
        "registered": state.registered,
        "activated": unit.status == Status.ACTIVE,  # by the shop or by service, not the buyer
        "has_owners": unit.ownership,
        "pin_required": unit.pin_hash is not None,
        "owned_since": state.owned_since,
        "is_owner": bool(request.cookies.get(_owner_cookie(code))),
    }


def _not_found(request: Request) -> HTMLResponse:
    return _page(request, 404, "", missing=True)


@router.get("/v/claim")
def claim_page(request: Request, code: str = "") -> Response:
    _locale(request)
    return _page(request, 200, code[:40], view="claim", form={"code": code[:40]})


@router.post("/v/claim")
async def claim_submit(request: Request) -> Response:
    _locale(request)
    form = await read_form(request)
    code = form.get("code", "")[:40]
    if not csrf_ok(request.cookies.get(CSRF_COOKIE, ""), form, request):
        return _page(request, 400, code, view="claim", form=form, expired=True)
    try:
        key = owners.claim(database(request), code, form.get("transfer_code", "")[:40])
    except NotFound:
        errors = {"code": _("No product has this code.")}
        return _page(request, 422, code, view="claim", form=form, errors=errors)
    except UnitraceError as error:
        return _page(request, 422, code, view="claim", form=form, errors=field_errors(error))
    return _keep_key(request, code, key, "claimed")


def _keep_key(request: Request, code: str, key: str, view: str) -> Response:
    page = _page(request, 200, code, view=view, owner_key=key, state=_state(request, code))
    page.set_cookie(
        _owner_cookie(code), key, max_age=_YEARS, httponly=True, samesite="strict", path="/v/"
    )
    return page


@router.get("/v/{code}/register")
def register_page(request: Request, code: str) -> Response:
    _locale(request)
    try:
        state = _state(request, code)
    except NotFound:
        return _not_found(request)
    return _page(request, 200, code, view="register", state=state, form={})


def _registration(form: dict[str, str]) -> owners.Registration:
    return owners.Registration(
        purchase_date=form.get("purchase_date", "")[:20],
        region=form.get("region", "")[:20],
        name=form.get("name", "")[:200],
        phone=form.get("phone", "")[:60],
        email=form.get("email", "")[:250],
        pin=form.get("pin", "")[:40],
    )


@router.post("/v/{code}/register")
async def register_submit(request: Request, code: str) -> Response:
    _locale(request)
    form = await read_form(request)
    try:
        state = _state(request, code)
    except NotFound:
        return _not_found(request)
    again = {"view": "register", "state": state, "form": form}
    if not csrf_ok(request.cookies.get(CSRF_COOKIE, ""), form, request):
        return _page(request, 400, code, expired=True, **again)
    try:
        done = owners.register(database(request), code, _registration(form))
    except (Conflict, InvalidTransition) as error:
        return _page(request, 409, code, error=str(error), **again)
    except UnitraceError as error:
        return _page(request, 422, code, errors=field_errors(error), **again)
    if done.owner_key is not None:
        return _keep_key(request, code, done.owner_key, "registered")
    return _page(request, 200, code, view="registered", state=_state(request, code))


def _owner_key(request: Request, code: str, form: dict[str, str]) -> str:
    return (form.get("owner_key") or request.cookies.get(_owner_cookie(code), ""))[:80]


@router.post("/v/{code}/transfer")
async def transfer_submit(request: Request, code: str) -> Response:
    _locale(request)
    form = await read_form(request)
    try:
        state = _state(request, code)
    except NotFound:
        return _not_found(request)
    again = {"view": "register", "state": state, "form": form}
    if not csrf_ok(request.cookies.get(CSRF_COOKIE, ""), form, request):
        return _page(request, 400, code, expired=True, **again)
    try:
        transfer = owners.start_transfer(database(request), code, _owner_key(request, code, form))
    except UnitraceError as error:
        return _page(request, 422, code, owner_errors=field_errors(error), **again)
    shown = owners.show_transfer_code(transfer.code)
    return _page(
        request, 200, code, view="transfer", state=state, transfer=shown, until=transfer.expires_at
    )


@router.post("/v/{code}/stolen")
async def stolen_submit(request: Request, code: str) -> Response:
    _locale(request)
    form = await read_form(request)
    try:
        state = _state(request, code)
    except NotFound:
        return _not_found(request)
    again = {"view": "register", "state": state, "form": form}
    if not csrf_ok(request.cookies.get(CSRF_COOKIE, ""), form, request):
        return _page(request, 400, code, expired=True, **again)
    try:
        owners.report_stolen(
            database(request), code, _owner_key(request, code, form), form.get("note", "")[:1000]
        )
    except Conflict:  # the report's message names the serial: the page says it plainly
        return _page(
            request, 409, code, error=_("This product is already reported stolen."), **again
        )
    except UnitraceError as error:
        return _page(request, 422, code, owner_errors=field_errors(error), **again)
    return _page(request, 200, code, view="stolen", state=_state(request, code))


# --- staff: a unit's buyer and owners (personal data: owners.read, every read audited) ---------

staff_router = APIRouter(include_in_schema=False)


@staff_router.get("/owners")
def owners_page(request: Request, serial: str = "", product: str = "") -> Response:
    from unitrace.web.common import require_login

    actor, csrf = require_login(request)
    context: dict[str, Any] = {"user": actor, "csrf": csrf, "serial": serial, "product": product}
    if not serial.strip():
        return render(request, "owners_staff.html", **context)
    try:
        found = owners.history(database(request), actor, serial.strip(), product.strip() or None)
    except UnitraceError as error:
        status = 404 if isinstance(error, NotFound) else 422
        return render(request, "owners_staff.html", status, error=str(error), **context)
    label = functools.partial(region_label, locale=i18n.current.get())
    return render(request, "owners_staff.html", found=found, region_label=label, **context)
