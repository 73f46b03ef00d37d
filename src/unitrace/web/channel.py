"""Channel pages: item-level inventory with drill-down to serials, shipments (serials and
ranges), diversion (窜货) alerts with a chart by region and a table per distributor, stocktakes
(open, scan, close for the report, approve the adjustments), and partner sell-through files."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError as PydanticValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from unitrace.api.problems import status_of
from unitrace.catalog import regions
from unitrace.catalog import service as catalog
from unitrace.channel import sellthrough, stocktake
from unitrace.channel import service as channel
from unitrace.channel.routes import CountIn, ScanIn
from unitrace.channel.service import ShipmentIn
from unitrace.config import UploadLimits
from unitrace.core.errors import (
    Forbidden,
    NotFound,
    UnitraceError,
    ValidationError,
    invalid,
    unknown_unit,
)
from unitrace.interop import exports
from unitrace.ledger import queries
from unitrace.ledger.limits import PartnerLimit
from unitrace.tabular import LimitExceeded
from unitrace.web import i18n, translate
from unitrace.web.common import (
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
from unitrace.web.i18n import _, format_number

router = APIRouter(include_in_schema=False)
GROUPS = ("product", "lot", "location", "status")


@router.get("/inventory")
def inventory_page(
    request: Request,
    by: str = "product,location",
    status: str = "",
    product: str = "",
    location: str = "",
    format: str = "",
) -> Response:
    actor, csrf = require_login(request)
    status = translate.code_of(status) if status else status  # 已召回 → recalled
    chosen = [b for b in by.split(",") if b in GROUPS] or ["product"]
    errors: dict[str, str] = {}
    found: dict[str, Any] = {"items": [], "total": 0}
    try:
        found = channel.inventory(
            database(request),
            actor,
            chosen,
            product=product or None,
            location=location or None,
            status=status or None,
        )
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as error:
        errors = form_errors(error)
    if format in ("csv", "xlsx") and not errors:
        columns = exports.inventory_columns(found["by"])
        return download("inventory", columns, found["items"], format)
    for item in found["items"]:
        # own units: their serials; recalled ones among them; a location's children: a count
        # of the locations below it (warehouse → bins → units)
        drill = {
            "product": item.get("product") or product,
            "status": item.get("status") or status or "in_stock",
            "location": item.get("location") or location,
            "lot": item.get("lot") or "",
        }
        item["drill"] = urlencode({k: v for k, v in drill.items() if v})
        item["drill_recalled"] = urlencode(
            {k: v for k, v in drill.items() if v} | {"status": "recalled"}
        )
        if item.get("location") and item.get("total", 0) > item["units"]:
            below = {
                "by": ",".join(chosen),
                "location": item["location"],
                "product": product,
                "status": status,
            }
            item["drill_below"] = urlencode({k: v for k, v in below.items() if v})
    return render(
        request,
        "inventory.html",
        422 if errors else 200,
        user=actor,
        csrf=csrf,
        found=found,
        query=urlencode(
            {"by": ",".join(chosen), "status": status, "product": product, "location": location}
        ),
        by=chosen,
        groups=GROUPS,
        wanted_status=status,
        product=product,
        location=location,
        errors=errors,
    )


@router.get("/inventory/units")
def inventory_units(
    request: Request,
    product: str = "",
    status: str = "in_stock",
    location: str = "",
    lot: str = "",
    after: str = "",
) -> Response:
    """The serials behind one inventory figure, 200 at a time."""
    actor, csrf = require_login(request)
    status = translate.code_of(status) if status else status
    try:
        found = queries.list_units(
            database(request),
            actor,
            product=product or None,
            lot=lot or None,
            status=status or None,
            location=location or None,
            after=int(after) if after.isdigit() and len(after) < 18 else None,
            limit=200,
        )
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as error:
        return render(request, "forbidden.html", 422, user=actor, csrf=csrf, missing=error.detail)
    params = urlencode({"product": product, "status": status, "location": location, "lot": lot})
    return render(
        request,
        "inventory_units.html",
        user=actor,
        csrf=csrf,
        found=found,
        params=params,
        product=product,
        wanted_status=status,
        location=location,
        lot=lot,
    )


def _ranges(text: str) -> list[dict[str, str]]:
    """One range a line: `SN000100-SN000299`, `SN000100–SN000299` or `SN000100 SN000299`."""
    out = []
    for line in text.splitlines():
        parts = [p for p in line.replace("–", " ").replace("—", " ").replace(",", " ").split() if p]
        if len(parts) == 1 and parts[0].count("-") == 1 and not parts[0].startswith("-"):
            parts = parts[0].split("-")  # only when the serials themselves have no dash
        if parts:
            out.append({"from": parts[0], "to": parts[-1]})
    return out


SHIPMENTS_PER_PAGE = 50


def _shipments_page(
    request: Request, actor: Any, csrf: str, status: int = 200, page: int = 1, **extra: Any
) -> Response:
    db = database(request)
    try:
        offset = (page - 1) * SHIPMENTS_PER_PAGE
        listed = channel.list_shipments(db, actor, limit=SHIPMENTS_PER_PAGE, offset=offset)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    parties = [p for p in catalog.list_table(db, actor, "parties") if p["kind"] != "supplier"]
    products = catalog.list_products(db, actor, limit=1000)["items"]
    extra.setdefault("form", {})
    return render(
        request,
        "shipments.html",
        status,
        user=actor,
        csrf=csrf,
        shipments=listed["items"],
        total=listed["total"],
        page=page,
        per_page=SHIPMENTS_PER_PAGE,
        parties=parties,
        products=products,
        **extra,
    )


@router.get("/shipments")
def shipments_page(request: Request, page: str = "1") -> Response:
    actor, csrf = require_login(request)
    number = int(page) if page.isdigit() and 0 < len(page) < 7 and int(page) > 0 else 1
    return _shipments_page(request, actor, csrf, page=number)


def _lines(text: str) -> list[str]:
    return [s.strip() for s in text.splitlines() if s.strip()]


@router.post("/shipments")
async def shipment_create(request: Request) -> Response:
    actor, csrf = require_login(request)
    form = await read_form(request)
    if not csrf_ok(csrf, form, request):
        expired = expired_form()
        return _shipments_page(request, actor, csrf, 400, form=form, errors=expired)
    try:
        data = ShipmentIn.model_validate(
            {
                "number": form.get("number", "").strip() or None,
                "party": form.get("party", ""),
                "product": form.get("product") or None,
                "serials": _lines(form.get("serials", "")),
                "ranges": _ranges(form.get("ranges", "")),
                "containers": _lines(form.get("containers", "")),
            }
        )
        made = channel.create_shipment(database(request), actor, data)
    except (PydanticValidationError, UnitraceError) as error:
        errors = form_errors(error)
        if isinstance(error, ValidationError) and error.errors:
            errors["form"] = _field_summary(error)
        return _shipments_page(request, actor, csrf, status_of(error), form=form, errors=errors)
    return _shipments_page(request, actor, csrf, 201, made=made)


@router.get("/shipments/{key}/note")
def delivery_note(request: Request, key: str) -> Response:
    """The printable delivery note of a shipment (its number, or its ship event's id)."""
    actor, csrf = require_login(request)
    try:
        note = channel.delivery_note(database(request), actor, key)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except NotFound as error:
        missing = error_title(error) + ": " + _(error.detail)
        return _shipments_page(request, actor, csrf, 404, errors={"form": missing})
    locale = i18n.current.get()
    return render(
        request,
        "delivery_note.html",
        user=actor,
        csrf=csrf,
        note=note,
        region_label=lambda code: regions.region_label(code, locale),
    )


ALERTS_PER_PAGE = 25
_ALERT_STATES = ("open", "acknowledged", "closed", "all")


def _alert_filter(values: Any) -> dict[str, str]:
    """The list's filter (state, distributor, region seen, page) from a query or a form."""
    status = str(values.get("status") or "open")
    page = str(values.get("page") or "1")
    return {
        "status": status if status in _ALERT_STATES else "open",
        "party": str(values.get("party") or "").strip()[:40],
        "region": str(values.get("region") or "").strip().upper()[:20],
        "page": page if page.isdigit() and 0 < len(page) < 7 and int(page) > 0 else "1",
    }


def _diversions_page(
    request: Request, actor: Any, csrf: str, wanted: dict[str, str], status: int = 200, **extra: Any
) -> Response:
    db = database(request)
    state = None if wanted["status"] == "all" else wanted["status"]
    filters = {
        "status": state,
        "party": wanted["party"] or None,
        "region": wanted["region"] or None,
    }
    try:
        summary = channel.alert_summary(db, actor, **filters)
        pages = max(1, -(-summary["total"] // ALERTS_PER_PAGE))
        page = min(int(wanted["page"]), pages)
        alerts = channel.list_alerts(
            db, actor, **filters, limit=ALERTS_PER_PAGE, offset=(page - 1) * ALERTS_PER_PAGE
        )
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    locale = i18n.current.get()
    shown = {k: v for k, v in wanted.items() if k != "page" and v}
    return render(
        request,
        "diversions.html",
        status,
        user=actor,
        csrf=csrf,
        alerts=alerts,
        wanted=wanted,
        wanted_status=wanted["status"],
        party=wanted["party"],
        region=wanted["region"],
        page=page,
        pages=pages,
        per_page=ALERTS_PER_PAGE,
        summary=summary,
        params=urlencode(shown),
        region_label=lambda code: regions.region_label(code, locale),
        region_name=lambda code: regions.region_name(code, locale),
        chart={regions.region_label(code, locale): n for code, n in summary["regions"].items()},
        **extra,
    )


@router.get("/diversions")
def diversions_page(
    request: Request,
    status: str = "open",
    party: str = "",
    region: str = "",
    page: str = "1",
    acknowledged: str = "",
    format: str = "",
) -> Response:
    """The alerts a filter finds, a page at a time, with counts over them all; `format=csv|xlsx`
    downloads them all."""
    actor, csrf = require_login(request)
    wanted = _alert_filter({"status": status, "party": party, "region": region, "page": page})
    if format in ("csv", "xlsx"):
        db = database(request)
        filters: dict[str, Any] = {
            "status": None if wanted["status"] == "all" else wanted["status"],
            "party": wanted["party"] or None,
            "region": wanted["region"] or None,
        }
        try:
            rows = exports.offset_paged(
                lambda size, start: channel.list_alerts(
                    db, actor, **filters, limit=size, offset=start
                ),
                500,
            )
        except Forbidden:
            return page_forbidden(request, actor, csrf)
        return download("diversion-alerts", exports.DIVERSIONS, rows, format)
    done = int(acknowledged) if acknowledged.isdigit() and len(acknowledged) < 6 else 0
    return _diversions_page(request, actor, csrf, wanted, acknowledged=done)


def _back(wanted: dict[str, str]) -> str:
    return "/diversions?" + urlencode({k: v for k, v in wanted.items() if v})


@router.post("/diversions/ack")
async def diversions_ack_many(request: Request) -> Response:
    """Acknowledge the alerts ticked on the page (or all of the page) with one note: one
    request, one transaction."""
    actor, csrf = require_login(request)
    async with request.form() as submitted:
        form = {k: v for k, v in submitted.items() if isinstance(v, str)}
        field = "page_ids" if form.get("scope") == "page" else "ids"
        given = [v for v in submitted.getlist(field) if isinstance(v, str)]
    wanted = _alert_filter(form)
    if not csrf_ok(csrf, form, request):
        return _diversions_page(request, actor, csrf, wanted, 400, errors=expired_form())
    ids = [int(v) for v in given if v.isdigit() and len(v) < 18]
    try:
        done = channel.settle_alerts(
            database(request), actor, ids, "acknowledged", form.get("note", "")
        )
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as error:
        errors = form_errors(error)
        if error.errors:
            errors["form"] = _field_summary(error)
        return _diversions_page(request, actor, csrf, wanted, status_of(error), errors=errors)
    return RedirectResponse(_back(wanted) + f"&acknowledged={done['count']}", status_code=303)


@router.post("/diversions/{alert_id}/{action}")
async def diversion_settle(request: Request, alert_id: int, action: str) -> Response:
    """Acknowledge or close one alert; a close without a note is shown next to its note
    field, on the same page of the list."""
    actor, csrf = require_login(request)
    form = await read_form(request)
    wanted = _alert_filter(form)
    if action not in ("ack", "close"):
        return RedirectResponse(_back(wanted), status_code=303)
    if not csrf_ok(csrf, form, request):
        return _diversions_page(request, actor, csrf, wanted, 400, errors=expired_form())
    status = "acknowledged" if action == "ack" else "closed"
    try:
        channel.settle_alert(database(request), actor, alert_id, status, form.get("note", ""))
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as error:
        errors = form_errors(error)
        if error.errors:
            errors["form"] = _field_summary(error)
        row = {str(alert_id): errors.get("note") or errors.get("id") or errors["form"]}
        return _diversions_page(
            request, actor, csrf, wanted, status_of(error), errors=errors, row_errors=row
        )
    return RedirectResponse(_back(wanted), status_code=303)


# --- stocktakes -------------------------------------------------------------------------


def _count_url(code: str, action: str = "") -> str:
    return f"/stocktakes/{quote(code, safe='')}" + (f"/{action}" if action else "")


def _stocktakes_page(
    request: Request, actor: Any, csrf: str, status: int = 200, **extra: Any
) -> Response:
    locations = catalog.list_table(database(request), actor, "locations")
    extra.setdefault("form", {})
    return render(
        request, "stocktakes.html", status, user=actor, csrf=csrf, locations=locations, **extra
    )


@router.get("/stocktakes")
def stocktakes_page(request: Request, code: str = "") -> Response:
    """Open a count, or go to one by its code."""
    actor, csrf = require_login(request)
    if not actor.can("catalog.read"):
        return page_forbidden(request, actor, csrf)
    if code.strip():
        return RedirectResponse(_count_url(code.strip()), status_code=303)
    return _stocktakes_page(request, actor, csrf)


@router.post("/stocktakes")
async def stocktake_open(request: Request) -> Response:
    actor, csrf = require_login(request)
    form = await read_form(request)
    chosen = [w for w in (await request.form()).getlist("locations") if isinstance(w, str)]
    if not actor.can("catalog.read"):
        return page_forbidden(request, actor, csrf)
    if not csrf_ok(csrf, form, request):
        expired = expired_form()
        return _stocktakes_page(request, actor, csrf, 400, form=form, chosen=chosen, errors=expired)
    try:
        if not chosen:
            raise invalid("locations", "choose at least one location")
        wanted = CountIn(code=form.get("code", "").strip(), locations=chosen)
        stocktake.open_count(database(request), actor, wanted.code, wanted.locations)
    except (PydanticValidationError, UnitraceError) as error:
        return _stocktakes_page(
            request,
            actor,
            csrf,
            status_of(error),
            form=form,
            chosen=chosen,
            errors=form_errors(error),
        )
    return RedirectResponse(_count_url(wanted.code), status_code=303)


def _count_page(
    request: Request, actor: Any, csrf: str, code: str, status: int = 200, **extra: Any
) -> Response:
    try:
        count = stocktake.get_count(database(request), actor, code)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except NotFound as error:
        return _stocktakes_page(
            request,
            actor,
            csrf,
            404,
            wanted=code,
            missing=error_title(error) + ": " + _(error.detail),
        )
    locations = catalog.list_table(database(request), actor, "locations")
    return render(
        request,
        "stocktake.html",
        status,
        user=actor,
        csrf=csrf,
        count=count,
        locations=locations,
        **extra,
    )


@router.get("/stocktakes/{code}")
def stocktake_page(request: Request, code: str) -> Response:
    """The count: its state, a scan box while it is open, and the report once closed."""
    actor, csrf = require_login(request)
    return _count_page(request, actor, csrf, code)


@router.post("/stocktakes/{code}/scan")
async def stocktake_scan(request: Request, code: str) -> Response:
    """One scan from the scan box (htmx): a feedback line, always 200 so htmx shows it."""
    actor, csrf = require_login(request)
    form = await read_form(request)
    if not csrf_ok(csrf, form, request):
        return HTMLResponse(_("The form expired; reload the page."), status_code=400)
    serial = form.get("serial", "").strip()
    context: dict[str, Any] = {"serial": serial}
    try:
        if not serial:
            raise ValidationError(_("Nothing was scanned."))
        wanted = ScanIn(serial=serial, location=form.get("location", ""))
        done = stocktake.scan(database(request), actor, code, wanted.serial, wanted.location)
        known = "counted" if done.get("known") else "unknown"
        context["outcome"] = known if done["counted"] else "again"  # no `known` when again
    except PydanticValidationError as error:
        context.update(
            outcome="refused",
            title=_("Invalid input"),
            detail="; ".join(form_errors(error).values()),
        )
    except UnitraceError as error:
        context.update(outcome="refused", title=error_title(error), detail=_(error.detail))
    return render(request, "stocktake_scan.html", **context)


@router.post("/stocktakes/{code}/close")
async def stocktake_close(request: Request, code: str) -> Response:
    actor, csrf = require_login(request)
    form = await read_form(request)
    if not csrf_ok(csrf, form, request):
        expired = expired_form()
        return _count_page(request, actor, csrf, code, 400, errors=expired)
    try:
        stocktake.close_count(database(request), actor, code)
    except UnitraceError as error:
        return _count_page(request, actor, csrf, code, status_of(error), errors=form_errors(error))
    return RedirectResponse(_count_url(code), status_code=303)


@router.post("/stocktakes/{code}/approve")
async def stocktake_approve(request: Request, code: str) -> Response:
    """Write the adjustment events; a role that may not approve is told so on the page."""
    actor, csrf = require_login(request)
    form = await read_form(request)
    if not csrf_ok(csrf, form, request):
        expired = expired_form()
        return _count_page(request, actor, csrf, code, 400, errors=expired)
    try:
        done = stocktake.approve(database(request), actor, code)
    except Forbidden:
        refused = {"form": _("Your role may not approve stocktake adjustments.")}
        return _count_page(request, actor, csrf, code, 403, errors=refused)
    except UnitraceError as error:
        return _count_page(request, actor, csrf, code, status_of(error), errors=form_errors(error))
    return _count_page(request, actor, csrf, code, approved=done)


# --- partner sell-through ---------------------------------------------------------------


@router.get("/sell-through")
def sellthrough_page(request: Request) -> Response:
    actor, csrf = require_login(request)
    if not actor.can("event:sell"):
        return page_forbidden(request, actor, csrf)
    limits = UploadLimits.from_env()
    return render(
        request,
        "sellthrough.html",
        user=actor,
        csrf=csrf,
        limits=limits,
        max_rows=sellthrough.max_rows(actor, limits),
    )


async def _read_upload(request: Request, max_bytes: int) -> tuple[dict[str, str], str, bytes]:
    """The form's text fields, and the uploaded file's name and bytes (at most one more than
    the limit, so that the use case can say it is too large); the spooled file is closed."""
    async with request.form() as submitted:
        fields = {k: v for k, v in submitted.items() if isinstance(v, str)}
        upload = submitted.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return fields, "", b""
        return fields, upload.filename, await upload.read(max_bytes + 1)


def _over_limit(error: LimitExceeded) -> dict[str, str]:
    """The form error of a file over an upload limit, in the page's language."""
    texts = {
        "bytes": _("the file is larger than %(n)s MB (limit %(setting)s): split it"),
        "unpacked_bytes": _(
            "the workbook unpacks to more than %(n)s MB (limit %(setting)s): split it"
        ),
        "rows": _(
            "the file has more than %(n)s rows under the header line (limit %(setting)s): split it"
        ),
        "columns": _(
            "the file has values right of column %(n)s (limit %(setting)s): delete those columns"
        ),
        "cells": _(
            "the file holds more than %(n)s cells, empty formatted ones included (limit "
            "%(setting)s): split it"
        ),
        "seconds": _(
            "reading the file took longer than %(n)s seconds (limit %(setting)s): split it"
        ),
    }
    values = {"n": format_number(round(error.amount, 2)), "setting": error.setting}
    text = texts[error.limit] % values
    return {"file": text, "form": error_title(error) + ": " + text}


def _over_partner_limit(error: PartnerLimit) -> dict[str, str]:
    """The form error of a partner's file with more rows than a partner may send at once."""
    texts = {
        "units": _(
            "%(count)s units: a partner may send at most %(limit)s a request; split the file"
        ),
        "events": _(
            "%(count)s events: a partner may send at most %(limit)s a request; split the file"
        ),
    }
    values = {"count": format_number(error.count), "limit": format_number(error.limit)}
    text = texts[error.what] % values
    return {"file": text, "form": error_title(error) + ": " + text}


def _problem_text(message: str, value: Any) -> str:
    """A problem of a row in the page's language; the serial an unknown-unit message names is
    shown beside it (the table's value column), so the sentence itself can be translated."""
    if value is not None and message in (unknown_unit(str(value)), unknown_unit(str(value), "")):
        return _("no unit with this serial")
    if value is not None and message.startswith(unknown_unit(str(value)) + " of product "):
        return _("no unit with this serial of this product")
    return _(message)


def _field_summary(error: UnitraceError) -> str:
    """The form's message for an error about fields: the title and each field's problem."""
    texts = dict.fromkeys(_(e.message) for e in error.errors if e.field != "*")
    return error_title(error) + ": " + "; ".join(texts) if texts else _(error.detail)


@router.post("/sell-through")
async def sellthrough_upload(request: Request) -> Response:
    """Record a sell-through file; every problem is listed with its line and column."""
    actor, csrf = require_login(request)
    if not actor.can("event:sell"):
        return page_forbidden(request, actor, csrf)
    limits = UploadLimits.from_env()
    template = "sellthrough.html"
    shown = {
        "user": actor,
        "csrf": csrf,
        "limits": limits,
        "max_rows": sellthrough.max_rows(actor, limits),
    }
    form, filename, content = await _read_upload(request, limits.max_bytes)
    if not csrf_ok(csrf, form, request):
        return render(request, template, 400, errors=expired_form(), **shown)
    try:
        if not filename:
            raise invalid("file", "choose a CSV or XLSX file to upload")
        done = await run_in_threadpool(
            sellthrough.record_file, database(request), actor, filename, content, limits
        )
    except LimitExceeded as error:
        return render(request, template, status_of(error), errors=_over_limit(error), **shown)
    except PartnerLimit as error:
        errors = _over_partner_limit(error)
        return render(request, template, status_of(error), errors=errors, **shown)
    except UnitraceError as error:
        problems = [
            {**p, "message": _problem_text(p["message"], p["value"])}
            for p in sellthrough.problems_by_line(error)
        ]
        errors = form_errors(error)
        listed = [p for p in problems if p["line"]]
        if listed:
            count = sum(int(e.message.split()[0]) if e.field == "*" else 1 for e in error.errors)
            errors["form"] = (
                error_title(error)
                + ": "
                + _("%(n)s problems in the file, each listed below by line; nothing was written.")
                % {"n": format_number(count)}
            )
        return render(
            request, template, status_of(error), errors=errors, problems=problems, **shown
        )
    return render(request, template, 201, done=done, **shown)
