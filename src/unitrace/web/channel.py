"""Channel pages: item-level inventory with drill-down to serials, shipments (serials and
ranges), and diversion (窜货) alerts with a chart by region and a table per distributor."""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError as PydanticValidationError

from unitrace.catalog import service as catalog
from unitrace.channel import service as channel
from unitrace.channel.service import ShipmentIn
from unitrace.core.errors import Conflict, Forbidden, InvalidTransition, UnitraceError
from unitrace.ledger import queries
from unitrace.web.common import (
    csrf_ok,
    database,
    form_errors,
    page_forbidden,
    read_form,
    render,
    require_login,
)
from unitrace.web.i18n import _

router = APIRouter(include_in_schema=False)
GROUPS = ("product", "lot", "location", "status")


@router.get("/inventory")
def inventory_page(
    request: Request, by: str = "product,location", status: str = "", product: str = "",
    location: str = "",
) -> Response:  # fmt: skip
    actor, csrf = require_login(request)
    chosen = [b for b in by.split(",") if b in GROUPS] or ["product"]
    errors: dict[str, str] = {}
    found: dict[str, Any] = {"items": [], "total": 0}
    try:
        found = channel.inventory(database(request), actor, chosen, product=product or None,
                                  location=location or None, status=status or None)  # fmt: skip
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as error:
        errors = form_errors(error)
    for item in found["items"]:
        drill = {"product": item.get("product") or product, "status": item.get("status")
                 or status or "in_stock", "location": item.get("location") or location,
                 "lot": item.get("lot") or ""}  # fmt: skip
        item["drill"] = urlencode({k: v for k, v in drill.items() if v})
    return render(request, "inventory.html", 422 if errors else 200, user=actor, csrf=csrf,
                  found=found, by=chosen, groups=GROUPS, wanted_status=status, product=product,
                  location=location, errors=errors)  # fmt: skip


@router.get("/inventory/units")
def inventory_units(
    request: Request, product: str = "", status: str = "in_stock", location: str = "",
    lot: str = "", after: str = "",
) -> Response:  # fmt: skip
    """The serials behind one inventory figure, 200 at a time."""
    actor, csrf = require_login(request)
    try:
        found = queries.list_units(
            database(request), actor, product=product or None, lot=lot or None,
            status=status or None, location=location or None,
            after=int(after) if after.isdigit() and len(after) < 18 else None, limit=200,
        )  # fmt: skip
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as error:
        return render(request, "forbidden.html", 422, user=actor, csrf=csrf, missing=error.detail)
    params = urlencode({"product": product, "status": status, "location": location, "lot": lot})
    return render(request, "inventory_units.html", user=actor, csrf=csrf, found=found,
                  params=params, product=product, wanted_status=status, location=location,
                  lot=lot)  # fmt: skip


def _ranges(text: str) -> list[dict[str, str]]:
    """One range a line: `SN000100-SN000299`, `SN000100–SN000299` or `SN000100 SN000299`."""
    out = []
    for line in text.splitlines():
        parts = [p for p in line.replace("–", " ").replace("—", " ").replace(",", " ").split()
                 if p]  # fmt: skip
        if len(parts) == 1 and parts[0].count("-") == 1 and not parts[0].startswith("-"):
            parts = parts[0].split("-")  # only when the serials themselves have no dash
        if parts:
            out.append({"from": parts[0], "to": parts[-1]})
    return out


def _shipments_page(
    request: Request, actor: Any, csrf: str, status: int = 200, **extra: Any
) -> Response:
    db = database(request)
    try:
        listed = channel.list_shipments(db, actor)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    parties = [p for p in catalog.list_table(db, actor, "parties") if p["kind"] != "supplier"]
    products = catalog.list_products(db, actor, limit=1000)["items"]
    extra.setdefault("form", {})
    return render(request, "shipments.html", status, user=actor, csrf=csrf, shipments=listed,
                  parties=parties, products=products, **extra)  # fmt: skip


@router.get("/shipments")
def shipments_page(request: Request) -> Response:
    actor, csrf = require_login(request)
    return _shipments_page(request, actor, csrf)


@router.post("/shipments")
async def shipment_create(request: Request) -> Response:
    actor, csrf = require_login(request)
    form = await read_form(request)
    if not csrf_ok(csrf, form, request):
        expired = {"form": _("The form expired; please try again.")}
        return _shipments_page(request, actor, csrf, 400, form=form, errors=expired)
    try:
        data = ShipmentIn(
            number=form.get("number", "").strip() or None, party=form.get("party", ""),
            product=form.get("product") or None,
            serials=[s.strip() for s in form.get("serials", "").splitlines() if s.strip()],
            ranges=_ranges(form.get("ranges", "")),
        )  # fmt: skip
        made = channel.create_shipment(database(request), actor, data)
    except (PydanticValidationError, UnitraceError) as error:
        errors = form_errors(error)
        status = 409 if isinstance(error, (Conflict, InvalidTransition)) else 422
        status = 403 if isinstance(error, Forbidden) else status
        return _shipments_page(request, actor, csrf, status, form=form, errors=errors)
    return _shipments_page(request, actor, csrf, 201, made=made)


@router.get("/diversions")
def diversions_page(request: Request, status: str = "open", party: str = "") -> Response:
    actor, csrf = require_login(request)
    wanted = status if status in ("open", "acknowledged", "closed", "all") else "open"
    try:
        alerts = channel.list_alerts(database(request), actor,
                                     status=None if wanted == "all" else wanted,
                                     party=party or None)  # fmt: skip
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    regions = Counter(a["seen_region"] for a in alerts)
    per_party: dict[str, Counter[str]] = {}
    for a in alerts:
        per_party.setdefault(a["distributor"], Counter())[a["seen_region"]] += 1
    return render(request, "diversions.html", user=actor, csrf=csrf, alerts=alerts,
                  wanted_status=wanted, party=party, regions=dict(regions.most_common()),
                  per_party=per_party)  # fmt: skip


@router.post("/diversions/{alert_id}/{action}")
async def diversion_settle(request: Request, alert_id: int, action: str) -> Response:
    actor, csrf = require_login(request)
    form = await read_form(request)
    if action not in ("ack", "close") or not csrf_ok(csrf, form, request):
        return RedirectResponse("/diversions", status_code=303)
    status = "acknowledged" if action == "ack" else "closed"
    try:
        channel.settle_alert(database(request), actor, alert_id, status, form.get("note", ""))
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as error:
        return render(request, "forbidden.html", 422, user=actor, csrf=csrf, missing=error.detail)
    return RedirectResponse("/diversions", status_code=303)
