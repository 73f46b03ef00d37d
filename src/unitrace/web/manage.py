"""Management pages: products and lots (list, search, create, edit), a product's bill of
materials and route, parties (with their authorised regions) and locations (a tree), users,
roles and tokens (admin), and the audit trail (auditor, admin). Each handler parses the form,
calls one use case and renders; the use case checks the permission."""

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
from unitrace.aftersales import warranty
from unitrace.api.problems import status_of
from unitrace.catalog import service as catalog
from unitrace.catalog.regions import CHOICES as REGION_CHOICES
from unitrace.catalog.regions import region_label
from unitrace.catalog.schemas import (
    LocationCreate,
    LocationUpdate,
    LotCreate,
    LotUpdate,
    PartyCreate,
    PartyUpdate,
    ProductCreate,
    ProductUpdate,
)
from unitrace.core.errors import Forbidden, NotFound, UnitraceError, invalid
from unitrace.interop import exports
from unitrace.production import service as production
from unitrace.production.schemas import BomIn, RouteIn
from unitrace.web import i18n
from unitrace.web.common import (
    _pydantic_message,
    blank_to_none,
    csrf_ok,
    database,
    download,
    error_title,
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
STARTS = ("manufacture", "shipment", "sale", "activation")  # aftersales.warranty.STARTS
AUDIT_ENTITIES = (
    "product", "bom", "route", "lot", "party", "location", "user", "token", "address", "event",
    "case", "claim", "claim_rule", "service_code", "spare_request", "stolen", "warranty",
    "warranty_policy",
)  # fmt: skip


def _page(value: str) -> int:
    return max(1, min(int(value), 100_000)) if value.isdigit() else 1


def _forbidden_or_missing(
    request: Request, actor: Actor, csrf: str, error: UnitraceError
) -> Response:
    if isinstance(error, Forbidden):
        return page_forbidden(request, actor, csrf)
    return render(request, "forbidden.html", 404, user=actor, csrf=csrf, missing=error.detail)


def _page_errors(error: Exception) -> dict[str, str]:
    """`form_errors`, but when the problems are shown next to their fields the banner says so
    in the page's language instead of repeating a sentence that names them."""
    errors = form_errors(error)
    named = isinstance(error, UnitraceError) and any(
        e.field.split(".")[0] in errors for e in error.errors
    )
    if named or isinstance(error, PydanticValidationError):
        title = error_title(error) if isinstance(error, UnitraceError) else _("Invalid input")
        errors["form"] = title + ": " + _("please correct the fields marked below.")
    return errors


# --- products -----------------------------------------------------------------------------


def _product_options() -> dict[str, list[tuple[str, str]]]:
    return {
        "trackings": [(t, _("tracking " + t)) for t in ("serial", "lot", "none")],
        "starts": [(s, _("warranty from " + s)) for s in STARTS],
        "fallbacks": [("", _("no fallback"))] + [(s, _("warranty from " + s)) for s in STARTS],
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
        "warranty_fallback",
        "warranty_fallback_days",
        "description",
        "gs1_company_prefix_length",
    )
    values = {k: v for k, v in values.items() if v is not None}
    try:
        created = catalog.create_product(
            database(request), actor, ProductCreate.model_validate(values)
        )
    except (PydanticValidationError, UnitraceError) as error:
        errors = _page_errors(error)
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
    if actor.can("catalog.read"):
        extra.setdefault("overrides", warranty.policy(db, actor, code)["overrides"])
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
    editable = (
        "name",
        "gtin",
        "serial_rule",
        "warranty_months",
        "warranty_start",
        "warranty_fallback",
        "warranty_fallback_days",
        "description",
        "gs1_company_prefix_length",
    )
    sent = [k for k in editable if k in form]
    values: dict[str, Any] = blank_to_none(form, *sent)
    if "description" in values:
        values["description"] = values["description"] or ""
    for number in ("warranty_months", "warranty_fallback_days"):
        if number in values:
            values[number] = values[number] or "0"
    try:
        catalog.update_product(database(request), actor, code, ProductUpdate(**values))
    except (PydanticValidationError, UnitraceError) as error:
        errors = _page_errors(error)
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
        errors = _page_errors(error)
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
        errors = _page_errors(error)
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
    roles = [(r, _(r)) for r in ROLES]  # the code is shown as code next to it
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
        errors = _page_errors(error)
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
    roles = [(r, _(r)) for r in ROLES]  # the code is shown as code next to it
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
        errors = _page_errors(error)
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
        errors = _page_errors(error)
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


# the fields an audit record shows, named in the page's language (others: their key)
AUDIT_FIELDS = {
    "code": "Code", "name": "Name", "gtin": "GTIN", "tracking": "Tracked by",
    "serial_rule": "Serial rule", "warranty_months": "Warranty (months)",
    "warranty_start": "Warranty starts", "warranty_fallback": "Else the warranty starts",
    "warranty_fallback_days": "Days after it", "description": "Description", "product": "Product",
    "product_name": "Product", "number": "Lot number", "production_date": "Production date",
    "expiry_date": "Expiry date", "supplier": "Supplier", "kind": "Kind", "region": "Region",
    "authorised_regions": "Authorised regions", "contact": "Contact", "parent": "Inside (parent)",
    "policy": "When an assembly does not match the BOM", "lines": "Bill of materials",
    "steps": "Route (process steps)", "role": "Role", "party": "Party", "active": "Active",
    "unit_count": "Unit count", "serials": "Serials", "location": "Location", "lot": "Lot",
    "type": "Event", "events": "Events", "types": "Events", "containers": "Cartons and pallets",
    "container": "Carton or pallet", "status": "Status", "username": "User name",
    "expires_at": "Expires", "trusted": "Trusted", "failed_logins": "Failed logins",
    "title": "Title", "start": "Starting from", "units": "Unit count",
    "state": "State", "outcome": "Outcome", "opened_at": "Opened", "opened_by": "Opened by",
    "warranty_claim": "Warranty claim", "serial": "Serial", "checks": "Claim checks",
    "override_reason": "Override reason", "note": "Note", "text": "Note", "symptom": "Symptom",
    "defect_code": "Defect code", "requests": "Spare-part requests", "amount_minor": "Amount",
    "currency": "Currency", "coverage": "Paid by", "added": "Added", "reason": "Reason",
    "removed": "Removed part", "installed": "Installed part",
    "returns_location": "Returns location", "consumed": "Consumables used",
    "refused": "Refused checks", "mode": "Mode",
    "params": "Settings", "end_date": "Warranty until", "void": "Void",
    "adjustment": "Adjustment", "overrides": "Overrides", "case": "Service case",
    "stolen": "Stolen", "reported_at": "Reported", "reported_by": "Reported by",
    "cleared_at": "Cleared", "cleared_by": "Cleared by", "size": "Size", "sha256": "SHA-256",
    "closed_at": "Closed", "cancelled_requests": "Cancelled spare-part requests",
    "name_en": "Name (English)", "name_zh": "Name (Chinese)",
    "gtin14": "GTIN (14 digits)", "gs1_company_prefix_length": "GS1 company prefix length",
}  # fmt: skip
# a field named otherwise for one entity than for the others
AUDIT_ENTITY_FIELDS = {("case", "number"): "Case number", ("case", "kind"): "Kind",
                       ("warranty", "status"): "Warranty"}  # fmt: skip
# stored codes shown in the page's language: (entity, field) → the prefix of their message
AUDIT_CODES = {
    ("party", "kind"): "party kind ", ("location", "kind"): "location kind ",
    ("product", "tracking"): "tracking ", ("product", "warranty_start"): "warranty from ",
    ("product", "warranty_fallback"): "warranty from ",
    ("bom", "policy"): "BOM policy ", ("user", "role"): "", ("event", "type"): "",
    ("case", "state"): "", ("case", "outcome"): "", ("case", "coverage"): "coverage ",
    ("warranty", "status"): "", ("spare_request", "status"): "",
    ("claim_rule", "mode"): "claim mode ",
}  # fmt: skip
COST_KINDS = ("parts", "labour", "shipping")


def _case_kind(value: str) -> str:
    """A case record's `kind`: a case kind (repair, return, …) or a cost line's (parts, …)."""
    return _(("cost " if value in COST_KINDS else "case kind ") + value)


def _checks(value: list[Any]) -> str:
    """Claim checks as how many passed, flagged and refused: `合格 7、提示 1、拒绝 1`."""
    results: dict[str, int] = {}
    for check in value:
        if isinstance(check, dict):
            result = str(check.get("result"))
            results[result] = results.get(result, 0) + 1
    return "、".join(f"{_('check ' + r)} {n}" for r, n in results.items()) or "—"


def _field_label(entity: str, field: str) -> str:
    if (entity, field) in AUDIT_ENTITY_FIELDS:
        return _(AUDIT_ENTITY_FIELDS[entity, field])
    return _(AUDIT_FIELDS[field]) if field in AUDIT_FIELDS else field


def _audit_value(entity: str, field: str, value: Any) -> Any:
    """A value of an audit record as the page shows it: codes translated, a BOM as its lines
    (`MB-V2 ×2`), a route as its steps in order, yes/no for flags."""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, str) and (entity, field) in AUDIT_CODES:
        return _(AUDIT_CODES[entity, field] + value)
    if entity == "case" and field == "kind" and isinstance(value, str):
        return _case_kind(value)
    if field == "checks" and isinstance(value, list):
        return _checks(value)
    if field in ("opened_by", "reported_by", "cleared_by", "by") and value == "system":
        return _("system")
    if field.endswith("_at") and isinstance(value, str):
        try:
            return i18n.format_time(datetime.fromisoformat(value))
        except ValueError:
            return value
    if entity == "recall" and field == "start" and isinstance(value, str):
        # where the recall's trace started: "lot MB-V2/PCB-2607", "serial …", "supplier …"
        word, _space, rest = value.partition(" ")
        starts = {"serial": "Serial", "lot": "Lot", "supplier": "Supplier", "station": "Station",
                  "equipment": "Equipment", "operator": "Operator"}  # fmt: skip
        return f"{_(starts[word])} {rest}" if word in starts else value
    if field == "lines" and isinstance(value, list):
        lines = [f"{x.get('component')} ×{x.get('quantity')}" for x in value if isinstance(x, dict)]
        return "、".join(lines) or "—"
    if field == "steps" and isinstance(value, list):
        return " → ".join(str(x.get("code")) for x in value if isinstance(x, dict)) or "—"
    if field == "types" and isinstance(value, dict):
        return "、".join(f"{_(str(k))} {n}" for k, n in value.items())
    return value


def _shown(entity: str, record: Any) -> Any:
    if not isinstance(record, dict):
        return record
    return {k: _audit_value(entity, k, v) for k, v in record.items()}


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
    format: str = "",
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
        if format in ("csv", "xlsx"):  # every record the filters find, downloaded
            wanted: dict[str, Any] = dict(
                entity=filters["entity"] or None,
                entity_key=filters["key"] or None,
                who=filters["who"] or None,
                since=start,
                until=end + timedelta(days=1) if end else None,
            )
            rows = exports.paged(
                lambda page: audit.list_records(
                    db, actor, **wanted, before_id=int(page) if page else None, limit=500
                )
            )
            return download("audit", exports.AUDIT, rows, format)
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
        records = [
            {
                **r,
                "changes": [
                    (_field_label(r["entity"], k), a, b, k not in AUDIT_FIELDS)
                    for k, a, b in _changes(
                        _shown(r["entity"], r["before"]), _shown(r["entity"], r["after"])
                    )
                ],
            }
            for r in found["items"]
        ]
        more = found["next"]
        if verify:
            chain = audit.verify_chain(db, actor)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as error:
        errors = _page_errors(error)
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


# --- parties ------------------------------------------------------------------------------

PARTY_KINDS = ("supplier", "distributor", "retailer", "customer")
LOCATION_KINDS = ("site", "warehouse", "bin", "station", "service", "returns")


def _regions_context() -> dict[str, Any]:
    """Region choices with their names in the page's language, and a label maker for codes."""
    locale = i18n.current.get()
    return {
        "region_label": lambda code: region_label(code, locale),
        "region_options": [(code, region_label(code, locale)) for code in REGION_CHOICES],
    }


def _party_options() -> dict[str, Any]:
    return {
        "party_kinds": [(k, _("party kind " + k)) for k in PARTY_KINDS],
        **_regions_context(),
    }


def _party_values(form: dict[str, str], multi: dict[str, list[str]]) -> dict[str, Any]:
    """A party form as the use case's fields: the ticked regions and the other codes typed."""
    values: dict[str, Any] = blank_to_none(form, "code", "name", "kind", "region")
    typed = (form.get("other_regions") or "").replace("，", ",").replace(";", ",")
    regions = [*multi.get("authorised_regions", []), *typed.split(",")]
    values["authorised_regions"] = list(dict.fromkeys(r.strip() for r in regions if r.strip()))
    values["contact"] = (form.get("contact") or "").strip()
    return values


async def _read_multi(request: Request) -> tuple[dict[str, str], dict[str, list[str]]]:
    form = await request.form()
    single = {k: v for k, v in form.items() if isinstance(v, str)}
    multi = {k: [v for v in form.getlist(k) if isinstance(v, str)] for k in form}
    return single, multi


def _party_list(
    request: Request, actor: Actor, csrf: str, q: str, kind: str, page: int, **extra: Any
) -> Response:
    try:
        found = catalog.list_parties(
            database(request),
            actor,
            q or None,
            kind if kind in PARTY_KINDS else None,
            PER_PAGE,
            (page - 1) * PER_PAGE,
        )
    except UnitraceError as error:
        return _forbidden_or_missing(request, actor, csrf, error)
    extra.setdefault("form", {"kind": "distributor", "authorised_regions": []})
    return render(
        request,
        "parties.html",
        extra.pop("status", 200),
        user=actor,
        csrf=csrf,
        q=q,
        kind=kind,
        page=page,
        parties=found["items"],
        total=found["total"],
        per_page=PER_PAGE,
        params=urlencode({"q": q, "kind": kind}),
        **_party_options(),
        **extra,
    )


@router.get("/parties")
def parties_page(request: Request, q: str = "", kind: str = "", page: str = "1") -> Response:
    actor, csrf = require_login(request)
    return _party_list(request, actor, csrf, q.strip()[:100], kind.strip()[:20], _page(page))


@router.post("/parties")
async def party_create(request: Request) -> Response:
    actor, csrf = require_login(request)
    form, multi = await _read_multi(request)
    values = _party_values(form, multi)
    shown = {**form, "authorised_regions": values["authorised_regions"]}
    if not csrf_ok(csrf, form, request):
        return _party_list(
            request, actor, csrf, "", "", 1, form=shown, errors=expired_form(), status=400
        )
    try:
        created = catalog.create_party(
            database(request),
            actor,
            PartyCreate.model_validate({k: v for k, v in values.items() if v is not None}),
        )
    except (PydanticValidationError, UnitraceError) as error:
        return _party_list(
            request,
            actor,
            csrf,
            "",
            "",
            1,
            form=shown,
            errors=_page_errors(error),
            status=status_of(error),
            open_form=True,
        )
    return RedirectResponse(f"/parties/{quote(created['code'])}?saved=1", status_code=303)


def _party_page(
    request: Request, actor: Actor, csrf: str, code: str, status: int = 200, **extra: Any
) -> Response:
    try:
        party = catalog.get_party(database(request), actor, code)
    except UnitraceError as error:
        return _forbidden_or_missing(request, actor, csrf, error)
    extra.setdefault("form", party)
    return render(
        request,
        "party.html",
        status,
        user=actor,
        csrf=csrf,
        party=party,
        **_party_options(),
        **extra,
    )


@router.get("/parties/{code}")
def party_page(request: Request, code: str, saved: str = "") -> Response:
    actor, csrf = require_login(request)
    return _party_page(request, actor, csrf, code, saved=bool(saved))


@router.post("/parties/{code}")
async def party_update(request: Request, code: str) -> Response:
    actor, csrf = require_login(request)
    form, multi = await _read_multi(request)
    values = _party_values(form, multi)
    values.pop("code")
    shown = {**form, "authorised_regions": values["authorised_regions"]}
    if not csrf_ok(csrf, form, request):
        return _party_page(request, actor, csrf, code, 400, form=shown, errors=expired_form())
    try:
        catalog.update_party(database(request), actor, code, PartyUpdate.model_validate(values))
    except (PydanticValidationError, UnitraceError) as error:
        errors = _page_errors(error)
        return _party_page(request, actor, csrf, code, status_of(error), form=shown, errors=errors)
    return RedirectResponse(f"/parties/{quote(code)}?saved=1", status_code=303)


# --- locations ----------------------------------------------------------------------------


def _location_options(request: Request, actor: Actor, code: str = "") -> dict[str, Any]:
    """The kinds, and every location in tree order as a parent to choose (indented)."""
    everything = catalog.list_table(database(request), actor, "locations")
    tree = catalog.location_tree(everything)
    return {
        "location_kinds": [(k, _("location kind " + k)) for k in LOCATION_KINDS],
        "tree": tree,
        "parent_options": [
            (loc["code"], "\u3000" * depth + f"{loc['code']} · {loc['name']}")
            for depth, loc in tree
            if loc["code"] != code
        ],
        **_regions_context(),
    }


def _locations_page(
    request: Request, actor: Actor, csrf: str, parent: str = "", status: int = 200, **extra: Any
) -> Response:
    try:
        options = _location_options(request, actor)
    except UnitraceError as error:
        return _forbidden_or_missing(request, actor, csrf, error)
    kinds_below = {
        "site": "warehouse",
        "warehouse": "bin",
        "bin": "bin",
        "station": "station",
        "service": "bin",
        "returns": "bin",
    }
    parent_kind = next((loc["kind"] for _d, loc in options["tree"] if loc["code"] == parent), "")
    extra.setdefault("form", {"parent": parent, "kind": kinds_below.get(parent_kind, "site")})
    return render(
        request,
        "locations.html",
        status,
        user=actor,
        csrf=csrf,
        open_form=bool(parent) or extra.pop("open_form", False),
        **options,
        **extra,
    )


@router.get("/locations")
def locations_page(request: Request, parent: str = "") -> Response:
    actor, csrf = require_login(request)
    return _locations_page(request, actor, csrf, parent.strip()[:40])


@router.post("/locations")
async def location_create(request: Request) -> Response:
    actor, csrf = require_login(request)
    form = await read_form(request)
    if not csrf_ok(csrf, form, request):
        return _locations_page(request, actor, csrf, status=400, form=form, errors=expired_form())
    values = blank_to_none(form, "code", "name", "kind", "parent", "region")
    try:
        catalog.create_location(
            database(request),
            actor,
            LocationCreate.model_validate({k: v for k, v in values.items() if v is not None}),
        )
    except (PydanticValidationError, UnitraceError) as error:
        return _locations_page(
            request,
            actor,
            csrf,
            status=status_of(error),
            form=form,
            errors=_page_errors(error),
            open_form=True,
        )
    return RedirectResponse(f"/locations?saved={quote(values['code'] or '')}", status_code=303)


def _location_page(
    request: Request, actor: Actor, csrf: str, code: str, status: int = 200, **extra: Any
) -> Response:
    try:
        location = catalog.get_location(database(request), actor, code)
        options = _location_options(request, actor, code)
    except UnitraceError as error:
        return _forbidden_or_missing(request, actor, csrf, error)
    extra.setdefault("form", location)
    # a location cannot move inside itself: its own subtree is not offered as a parent
    inside: set[str] = {code}
    for _depth, loc in options["tree"]:
        if loc["parent"] in inside:
            inside.add(loc["code"])
    options["parent_options"] = [o for o in options["parent_options"] if o[0] not in inside]
    children = [loc for _d, loc in options["tree"] if loc["parent"] == code]
    return render(
        request,
        "location.html",
        status,
        user=actor,
        csrf=csrf,
        location=location,
        children=children,
        **options,
        **extra,
    )


@router.get("/locations/{code}")
def location_page(request: Request, code: str, saved: str = "") -> Response:
    actor, csrf = require_login(request)
    return _location_page(request, actor, csrf, code, saved=bool(saved))


@router.post("/locations/{code}")
async def location_update(request: Request, code: str) -> Response:
    actor, csrf = require_login(request)
    form = await read_form(request)
    if not csrf_ok(csrf, form, request):
        return _location_page(request, actor, csrf, code, 400, form=form, errors=expired_form())
    values = blank_to_none(form, "name", "kind", "parent", "region")
    try:
        catalog.update_location(
            database(request), actor, code, LocationUpdate.model_validate(values)
        )
    except (PydanticValidationError, UnitraceError) as error:
        errors = _page_errors(error)
        return _location_page(
            request, actor, csrf, code, status_of(error), form=form, errors=errors
        )
    return RedirectResponse(f"/locations/{quote(code)}?saved=1", status_code=303)


# --- bill of materials and route of a product ---------------------------------------------

NEW_ROWS = 3  # empty rows offered for new BOM lines or steps


def _row_errors(error: Exception, rows: list[int], key: str) -> dict[str, str]:
    """Errors of `lines.3.quantity` (the 4th line sent to the use case) keyed by the form row
    it came from (`lines.7.quantity`); the rest as `form_errors` gives them."""
    found: dict[str, str] = {}
    if isinstance(error, PydanticValidationError):
        for item in error.errors():
            loc = [str(part) for part in item["loc"]]
            if len(loc) >= 3 and loc[0] == key and loc[1].isdigit() and int(loc[1]) < len(rows):
                loc[1] = str(rows[int(loc[1])])
            found.setdefault(".".join(loc) or "form", _pydantic_message(item))
    elif isinstance(error, UnitraceError):
        for field in error.errors:
            parts = field.field.split(".")
            here = len(parts) >= 2 and parts[0] == key and parts[1].isdigit()
            if here and int(parts[1]) < len(rows):
                parts[1] = str(rows[int(parts[1])])
            # "named twice (also steps.0.code)": the other row is marked too, say it short
            message = field.message.split(" (also ")[0]
            found.setdefault(".".join(parts), _(message))
    found["form"] = _page_errors(error).get("form", _("Invalid input"))
    if len(found) > 1 and not found["form"].endswith(_("please correct the fields marked below.")):
        title = error_title(error) if isinstance(error, UnitraceError) else _("Invalid input")
        found["form"] = title + ": " + _("please correct the fields marked below.")
    return found


def _bom_page(
    request: Request, actor: Actor, csrf: str, code: str, status: int = 200, **extra: Any
) -> Response:
    db = database(request)
    try:
        product = catalog.get_product(db, actor, code)
        bom = production.get_bom(db, actor, code)
    except UnitraceError as error:
        return _forbidden_or_missing(request, actor, csrf, error)
    rows = extra.pop("rows", None)
    if rows is None:
        rows = [
            {"component": line["component"], "quantity": str(line["quantity"]),
             "required": line["required"]}
            for line in bom["lines"]
        ]  # fmt: skip
        rows += [{"component": "", "quantity": "1", "required": True}] * NEW_ROWS
    components = [
        (p["code"], f"{p['code']} · {p['name']}")
        for p in catalog.list_products(db, actor, limit=1000)["items"]
        if p["tracking"] != "none" and p["code"] != code
    ]
    return render(
        request,
        "bom.html",
        status,
        user=actor,
        csrf=csrf,
        product=product,
        bom=bom,
        rows=rows,
        policy=extra.pop("policy", bom["policy"]),
        policies=[(p, _("BOM policy " + p)) for p in ("refuse", "warn")],
        components=components,
        **extra,
    )


@router.get("/products/{code}/bom")
def bom_page(request: Request, code: str, saved: str = "") -> Response:
    actor, csrf = require_login(request)
    return _bom_page(request, actor, csrf, code, saved=bool(saved))


def _form_rows(form: dict[str, str], prefix: str, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rows of a table form (`lines.0.component`, `lines.0.quantity`, …) in row order."""
    numbers = sorted(
        {int(k.split(".")[1]) for k in form if k.startswith(prefix + ".") and
         k.count(".") == 2 and k.split(".")[1].isdigit() and len(k.split(".")[1]) < 4}
    )  # fmt: skip
    return [
        {f: (form.get(f"{prefix}.{n}.{f}") or "").strip() for f in fields} | {"row": n}
        for n in numbers
    ]


@router.post("/products/{code}/bom")
async def bom_update(request: Request, code: str) -> Response:
    actor, csrf = require_login(request)
    form = await read_form(request)
    sent = _form_rows(form, "lines", ("component", "quantity", "required", "remove"))
    rows = [{**r, "required": r["required"] == "on", "remove": r["remove"] == "on"} for r in sent]
    policy = form.get("policy", "refuse")
    if not csrf_ok(csrf, form, request):
        return _bom_page(
            request, actor, csrf, code, 400, rows=rows, policy=policy, errors=expired_form()
        )
    kept = [r for r in rows if r["component"] and not r["remove"]]
    lines = [
        {"component": r["component"], "quantity": r["quantity"] or "1", "required": r["required"]}
        for r in kept
    ]
    try:
        production.set_bom(
            database(request), actor, code, BomIn.model_validate({"policy": policy, "lines": lines})
        )
    except (PydanticValidationError, UnitraceError) as error:
        errors = _row_errors(error, [r["row"] for r in kept], "lines")
        return _bom_page(
            request, actor, csrf, code, status_of(error), rows=rows, policy=policy, errors=errors
        )
    return RedirectResponse(f"/products/{quote(code)}/bom?saved=1", status_code=303)


def _route_page(
    request: Request, actor: Actor, csrf: str, code: str, status: int = 200, **extra: Any
) -> Response:
    db = database(request)
    try:
        product = catalog.get_product(db, actor, code)
        route = production.get_route(db, actor, code)
    except UnitraceError as error:
        return _forbidden_or_missing(request, actor, csrf, error)
    rows = extra.pop("rows", None)
    if rows is None:
        rows = [
            {"position": str(i + 1), "code": s["code"], "name": s["name"],
             "required": s["required"]}
            for i, s in enumerate(route["steps"])
        ]  # fmt: skip
        after = len(rows)
        rows += [
            {"position": str(after + i + 1), "code": "", "name": "", "required": True}
            for i in range(NEW_ROWS)
        ]
    return render(
        request,
        "route.html",
        status,
        user=actor,
        csrf=csrf,
        product=product,
        route=route,
        rows=rows,
        **extra,
    )


@router.get("/products/{code}/route")
def route_page(request: Request, code: str, saved: str = "") -> Response:
    actor, csrf = require_login(request)
    return _route_page(request, actor, csrf, code, saved=bool(saved))


@router.post("/products/{code}/route")
async def route_update(request: Request, code: str) -> Response:
    actor, csrf = require_login(request)
    form = await read_form(request)
    sent = _form_rows(form, "steps", ("position", "code", "name", "required", "remove"))
    rows = [{**r, "required": r["required"] == "on", "remove": r["remove"] == "on"} for r in sent]
    if not csrf_ok(csrf, form, request):
        return _route_page(request, actor, csrf, code, 400, rows=rows, errors=expired_form())
    bad_order = {
        f"steps.{r['row']}.position": _("must be a whole number")
        for r in rows
        if r["position"] and not r["position"].isdigit()
    }
    kept = [r for r in rows if (r["code"] or r["name"]) and not r["remove"]]
    # the order typed (a step without one keeps its place after those with one)
    kept.sort(key=lambda r: (int(r["position"]) if r["position"].isdigit() else 10**6, r["row"]))
    steps = [{"code": r["code"], "name": r["name"], "required": r["required"]} for r in kept]
    try:
        if bad_order:
            raise invalid("steps", "the order of a step must be a whole number")
        production.set_route(
            database(request), actor, code, RouteIn.model_validate({"steps": steps})
        )
    except (PydanticValidationError, UnitraceError) as error:
        errors = {**_row_errors(error, [r["row"] for r in kept], "steps"), **bad_order}
        return _route_page(request, actor, csrf, code, status_of(error), rows=rows, errors=errors)
    return RedirectResponse(f"/products/{quote(code)}/route?saved=1", status_code=303)
