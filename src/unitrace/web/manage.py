"""Management pages: products and lots (list, search, create, edit), users, roles and tokens
(admin), and the audit trail (auditor, admin). Each handler parses the form, calls one use case
and renders; the use case checks the permission."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError as PydanticValidationError

from unitrace.access import audit
from unitrace.access import service as access
from unitrace.access.principal import ROLE_SUMMARY, ROLES, Actor
from unitrace.api.problems import status_of
from unitrace.catalog import service as catalog
from unitrace.catalog.schemas import LotCreate, LotUpdate, ProductCreate, ProductUpdate
from unitrace.core.errors import Forbidden, NotFound, UnitraceError, invalid
from unitrace.web.common import (
    blank_to_none,
    csrf_ok,
    database,
    expired_form,
    form_errors,
    page_forbidden,
    read_form,
    render,
    require_login,
)
from unitrace.web.i18n import _

router = APIRouter(include_in_schema=False)
PER_PAGE = 50
AUDIT_ENTITIES = ("product", "lot", "party", "location", "user", "token", "address", "event")


def _page(value: str) -> int:
    return max(1, min(int(value), 100_000)) if value.isdigit() else 1


def _forbidden_or_missing(
    request: Request, actor: Actor, csrf: str, error: UnitraceError
) -> Response:
    if isinstance(error, Forbidden):
        return page_forbidden(request, actor, csrf)
    return render(request, "forbidden.html", 404, user=actor, csrf=csrf, missing=error.detail)


# --- products -----------------------------------------------------------------------------


def _product_options() -> dict[str, list[tuple[str, str]]]:
    return {
        "trackings": [(t, _("tracking " + t)) for t in ("serial", "lot", "none")],
        "starts": [(s, _("warranty from " + s)) for s in ("manufacture", "sale", "activation")],
    }


def _product_list(
    request: Request, actor: Actor, csrf: str, q: str, page: int, **extra: Any
) -> Response:
    try:
        found = catalog.list_products(
            database(request), actor, q or None, PER_PAGE, (page - 1) * PER_PAGE
        )
    except UnitraceError as error:
        return _forbidden_or_missing(request, actor, csrf, error)
    extra.setdefault("form", {"tracking": "serial", "warranty_start": "sale"})
    return render(
        request,
        "products.html",
        extra.pop("status", 200),
        user=actor,
        csrf=csrf,
        q=q,
        page=page,
        products=found["items"],
        total=found["total"],
        per_page=PER_PAGE,
        params=urlencode({"q": q}),
        **_product_options(),
        **extra,
    )


@router.get("/products")
def products_page(request: Request, q: str = "", page: str = "1") -> Response:
    actor, csrf = require_login(request)
    return _product_list(request, actor, csrf, q.strip()[:100], _page(page))


@router.post("/products")
async def product_create(request: Request) -> Response:
    actor, csrf = require_login(request)
    form = await read_form(request)
    if not csrf_ok(csrf, form, request):
        return _product_list(
            request, actor, csrf, "", 1, form=form, errors=expired_form(), status=400
        )
    values = blank_to_none(
        form,
        "code",
        "name",
        "gtin",
        "tracking",
        "serial_rule",
        "warranty_months",
        "warranty_start",
        "description",
    )
    values = {k: v for k, v in values.items() if v is not None}
    try:
        created = catalog.create_product(
            database(request), actor, ProductCreate.model_validate(values)
        )
    except (PydanticValidationError, UnitraceError) as error:
        errors = form_errors(error)
        return _product_list(
            request,
            actor,
            csrf,
            "",
            1,
            form=form,
            errors=errors,
            status=status_of(error),
            open_form=True,
        )
    return RedirectResponse(f"/products/{quote(created['code'])}?saved=1", status_code=303)


def _product_page(
    request: Request, actor: Actor, csrf: str, code: str, status: int = 200, **extra: Any
) -> Response:
    db = database(request)
    try:
        product = catalog.get_product(db, actor, code)
    except UnitraceError as error:
        return _forbidden_or_missing(request, actor, csrf, error)
    product_lots = (
        catalog.list_lots(db, actor, code, None, 200)["items"] if actor.can("catalog.read") else []
    )
    extra.setdefault("form", product)
    return render(
        request,
        "product.html",
        status,
        user=actor,
        csrf=csrf,
        product=product,
        lots=product_lots,
        **_product_options(),
        **extra,
    )


@router.get("/products/{code}")
def product_page(request: Request, code: str, saved: str = "") -> Response:
    actor, csrf = require_login(request)
    return _product_page(request, actor, csrf, code, saved=bool(saved))


@router.post("/products/{code}")
async def product_update(request: Request, code: str) -> Response:
    actor, csrf = require_login(request)
    form = await read_form(request)
    if not csrf_ok(csrf, form, request):
        return _product_page(request, actor, csrf, code, 400, form=form, errors=expired_form())
    editable = ("name", "gtin", "serial_rule", "warranty_months", "warranty_start", "description")
    sent = [k for k in editable if k in form]
    values: dict[str, Any] = blank_to_none(form, *sent)
    if "description" in values:
        values["description"] = values["description"] or ""
    if "warranty_months" in values:
        values["warranty_months"] = values["warranty_months"] or "0"
    try:
        catalog.update_product(database(request), actor, code, ProductUpdate(**values))
    except (PydanticValidationError, UnitraceError) as error:
        errors = form_errors(error)
        return _product_page(request, actor, csrf, code, status_of(error), form=form, errors=errors)
    return RedirectResponse(f"/products/{quote(code)}?saved=1", status_code=303)


# --- lots ---------------------------------------------------------------------------------


def _lot_pickers(request: Request, actor: Actor) -> dict[str, Any]:
    db = database(request)
    if not actor.can("catalog.read"):
        return {"product_options": [], "suppliers": []}
    products = catalog.list_products(db, actor, limit=1000)["items"]
    parties = catalog.list_table(db, actor, "parties")
    return {
        "product_options": [
            (p["code"], f"{p['code']} · {p['name']}") for p in products if p["tracking"] != "none"
        ],
        "suppliers": [
            (p["code"], f"{p['code']} · {p['name']}") for p in parties if p["kind"] == "supplier"
        ],
    }


def _lot_list(
    request: Request, actor: Actor, csrf: str, q: str, product: str, page: int, **extra: Any
) -> Response:
    try:
        found = catalog.list_lots(
            database(request), actor, product or None, q or None, PER_PAGE, (page - 1) * PER_PAGE
        )
    except UnitraceError as error:
        return _forbidden_or_missing(request, actor, csrf, error)
    extra.setdefault("form", {"product": product})
    return render(
        request,
        "lots.html",
        extra.pop("status", 200),
        user=actor,
        csrf=csrf,
        q=q,
        product=product,
        page=page,
        lots=found["items"],
        total=found["total"],
        per_page=PER_PAGE,
        params=urlencode({"q": q, "product": product}),
        **_lot_pickers(request, actor),
        **extra,
    )


@router.get("/lots")
def lots_page(request: Request, q: str = "", product: str = "", page: str = "1") -> Response:
    actor, csrf = require_login(request)
    return _lot_list(request, actor, csrf, q.strip()[:100], product.strip()[:40], _page(page))


@router.post("/lots")
async def lot_create(request: Request) -> Response:
    actor, csrf = require_login(request)
    form = await read_form(request)
    if not csrf_ok(csrf, form, request):
        return _lot_list(
            request, actor, csrf, "", "", 1, form=form, errors=expired_form(), status=400
        )
    values = blank_to_none(form, "product", "number", "production_date", "expiry_date", "supplier")
    values = {k: v for k, v in values.items() if v is not None}
    try:
        lot = catalog.create_lot(database(request), actor, LotCreate.model_validate(values))
    except (PydanticValidationError, UnitraceError) as error:
        errors = form_errors(error)
        return _lot_list(
            request,
            actor,
            csrf,
            "",
            "",
            1,
            form=form,
            errors=errors,
            status=status_of(error),
            open_form=True,
        )
    target = f"/lots/{quote(lot['product'])}/{quote(lot['number'])}?saved=1"
    return RedirectResponse(target, status_code=303)


def _lot_page(
    request: Request,
    actor: Actor,
    csrf: str,
    product: str,
    number: str,
    status: int = 200,
    **extra: Any,
) -> Response:
    try:
        lot = catalog.get_lot(database(request), actor, product, number)
    except UnitraceError as error:
        return _forbidden_or_missing(request, actor, csrf, error)
    extra.setdefault("form", lot)
    return render(
        request,
        "lot.html",
        status,
        user=actor,
        csrf=csrf,
        lot=lot,
        **_lot_pickers(request, actor),
        **extra,
    )


@router.get("/lots/{product}/{number:path}")
def lot_page(request: Request, product: str, number: str, saved: str = "") -> Response:
    actor, csrf = require_login(request)
    return _lot_page(request, actor, csrf, product, number, saved=bool(saved))


@router.post("/lots/{product}/{number:path}")
async def lot_update(request: Request, product: str, number: str) -> Response:
    actor, csrf = require_login(request)
    form = await read_form(request)
    if not csrf_ok(csrf, form, request):
        return _lot_page(
            request, actor, csrf, product, number, 400, form=form, errors=expired_form()
        )
    values = blank_to_none(form, "production_date", "expiry_date", "supplier")
    try:
        catalog.update_lot(
            database(request), actor, product, number, LotUpdate.model_validate(values)
        )
    except (PydanticValidationError, UnitraceError) as error:
        errors = form_errors(error)
        return _lot_page(
            request, actor, csrf, product, number, status_of(error), form=form, errors=errors
        )
    return RedirectResponse(f"/lots/{quote(product)}/{quote(number)}?saved=1", status_code=303)


# --- users, roles, tokens -----------------------------------------------------------------


def _partner_parties(request: Request, actor: Actor) -> list[tuple[str, str]]:
    parties = catalog.list_table(database(request), actor, "parties")
    return [
        (p["code"], f"{p['code']} · {p['name']}")
        for p in parties
        if p["kind"] in ("distributor", "retailer")
    ]


def _users_page(
    request: Request, actor: Actor, csrf: str, status: int = 200, **extra: Any
) -> Response:
    try:
        users = access.list_users(database(request), actor)
    except UnitraceError as error:
        return _forbidden_or_missing(request, actor, csrf, error)
    extra.setdefault("form", {"role": "readonly"})
    roles = [(r, f"{_(r)} ({r})") for r in ROLES]
    return render(
        request,
        "users.html",
        status,
        user=actor,
        csrf=csrf,
        users=users,
        roles=roles,
        summaries=ROLE_SUMMARY,
        parties=_partner_parties(request, actor),
        **extra,
    )


@router.get("/admin/users")
def users_page(request: Request) -> Response:
    actor, csrf = require_login(request)
    return _users_page(request, actor, csrf)


@router.post("/admin/users")
async def user_create(request: Request) -> Response:
    actor, csrf = require_login(request)
    form = await read_form(request)
    if not csrf_ok(csrf, form, request):
        return _users_page(request, actor, csrf, 400, form=form, errors=expired_form())
    values = blank_to_none(form, "username", "role", "party")
    try:
        created = access.create_user(
            database(request),
            actor,
            values["username"] or "",
            form.get("password", ""),
            values["role"] or "",
            values["party"],
        )
    except UnitraceError as error:
        errors = form_errors(error)
        return _users_page(
            request, actor, csrf, status_of(error), form=form, errors=errors, open_form=True
        )
    return RedirectResponse(f"/admin/users/{quote(created['username'])}?saved=1", 303)


def _user_page(
    request: Request, actor: Actor, csrf: str, username: str, status: int = 200, **extra: Any
) -> Response:
    db = database(request)
    try:
        found = [u for u in access.list_users(db, actor) if u["username"] == username]
        if not found:
            raise NotFound(_("No such user."))
        tokens = access.list_tokens(db, actor, username)
    except UnitraceError as error:
        return _forbidden_or_missing(request, actor, csrf, error)
    extra.setdefault("form", found[0])
    roles = [(r, f"{_(r)} ({r})") for r in ROLES]
    return render(
        request,
        "user.html",
        status,
        user=actor,
        csrf=csrf,
        account=found[0],
        tokens=tokens,
        roles=roles,
        parties=_partner_parties(request, actor),
        **extra,
    )


@router.get("/admin/users/{username}")
def user_page(request: Request, username: str, saved: str = "") -> Response:
    actor, csrf = require_login(request)
    return _user_page(request, actor, csrf, username, saved=bool(saved))


@router.post("/admin/users/{username}")
async def user_update(request: Request, username: str) -> Response:
    actor, csrf = require_login(request)
    form = await read_form(request)
    if not csrf_ok(csrf, form, request):
        return _user_page(request, actor, csrf, username, 400, form=form, errors=expired_form())
    values = blank_to_none(form, "role", "party", "password")
    try:
        access.update_user(
            database(request),
            actor,
            username,
            role=values["role"],
            party=values["party"],
            active=form.get("active") == "on",
            password=form.get("password") or None,
            revoke_tokens=bool(form.get("password")) and form.get("revoke_tokens") == "on",
        )
    except UnitraceError as error:
        errors = form_errors(error)
        return _user_page(
            request, actor, csrf, username, status_of(error), form=form, errors=errors
        )
    if username == actor.username and values["password"]:
        return RedirectResponse("/login", status_code=303)  # own password changed: log in again
    return RedirectResponse(f"/admin/users/{quote(username)}?saved=1", status_code=303)


@router.post("/admin/users/{username}/tokens")
async def token_create(request: Request, username: str) -> Response:
    actor, csrf = require_login(request)
    form = await read_form(request)
    if not csrf_ok(csrf, form, request):
        return _user_page(request, actor, csrf, username, 400, token_errors=expired_form())
    days_text = (form.get("days") or "").strip()
    try:
        if days_text and not days_text.isdigit():
            raise invalid("days", "a whole number of days", days_text)
        created = access.create_token(
            database(request),
            actor,
            username,
            (form.get("name") or "").strip(),
            int(days_text) if days_text else None,
        )
    except UnitraceError as error:
        errors = form_errors(error)
        return _user_page(
            request, actor, csrf, username, status_of(error), token_errors=errors, token_form=form
        )
    return _user_page(request, actor, csrf, username, 201, new_token=created)


@router.post("/admin/tokens/{token_id}/revoke")
async def token_revoke(request: Request, token_id: int) -> Response:
    actor, csrf = require_login(request)
    form = await read_form(request)
    back = form.get("username", "")
    if not csrf_ok(csrf, form, request):
        return _user_page(request, actor, csrf, back, 400, token_errors=expired_form())
    try:
        access.revoke_token(database(request), actor, token_id)
    except UnitraceError as error:
        return _forbidden_or_missing(request, actor, csrf, error)
    return RedirectResponse(f"/admin/users/{quote(back)}?saved=1", status_code=303)


# --- audit trail --------------------------------------------------------------------------


def _day(value: str, field: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
    except ValueError:
        raise invalid(field, "not a date (YYYY-MM-DD)", value) from None


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "…"


def _changes(before: Any, after: Any) -> list[tuple[str, str, str]]:
    """(field, old, new) for every field that differs; a whole value when it is no mapping."""
    if not isinstance(before, dict) and not isinstance(after, dict):
        return [("", _short(before), _short(after))]
    old = before if isinstance(before, dict) else {}
    new = after if isinstance(after, dict) else {}
    keys = sorted(set(old) | set(new))
    return [
        (k, "" if k not in old else _short(old[k]), "" if k not in new else _short(new[k]))
        for k in keys
        if old.get(k) != new.get(k) and k not in ("updated_at", "created_at")
    ]


@router.get("/audit")
def audit_page(
    request: Request,
    entity: str = "",
    key: str = "",
    who: str = "",
    since: str = "",
    until: str = "",
    before: str = "",
    verify: str = "",
) -> Response:
    actor, csrf = require_login(request)
    filters = {
        "entity": entity.strip()[:40],
        "key": key.strip()[:200],
        "who": who.strip()[:80],
        "since": since.strip()[:10],
        "until": until.strip()[:10],
    }
    db = database(request)
    errors: dict[str, str] = {}
    records: list[dict[str, Any]] = []
    more = None
    chain = None
    try:
        start = _day(filters["since"], "since")
        end = _day(filters["until"], "until")
        found = audit.list_records(
            db,
            actor,
            entity=filters["entity"] or None,
            entity_key=filters["key"] or None,
            who=filters["who"] or None,
            since=start,
            until=end + timedelta(days=1) if end else None,
            before_id=int(before) if before.isdigit() and len(before) < 16 else None,
            limit=PER_PAGE,
        )
        records = [{**r, "changes": _changes(r["before"], r["after"])} for r in found["items"]]
        more = found["next"]
        if verify:
            chain = audit.verify_chain(db, actor)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as error:
        errors = form_errors(error)
    params = urlencode({k: v for k, v in filters.items() if v})
    return render(
        request,
        "audit.html",
        422 if errors else 200,
        user=actor,
        csrf=csrf,
        filters=filters,
        records=records,
        more=more,
        chain=chain,
        errors=errors,
        entities=[(e, _(e)) for e in AUDIT_ENTITIES],
        params=params,
    )
