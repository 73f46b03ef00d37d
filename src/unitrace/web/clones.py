"""Clone alerts' pages (克隆码): the list with filters, a chart by region (a scatter on the
regions' centroids: map-like) and the acknowledge / close buttons; one alert with its code's
verification history and the 'mark compromised' action."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from unitrace.api.problems import status_of
from unitrace.catalog import regions
from unitrace.core.errors import Forbidden, UnitraceError
from unitrace.interop import exports
from unitrace.verify import clone_alerts
from unitrace.web import i18n
from unitrace.web.common import (
    csrf_ok,
    database,
    download,
    expired_form,
    form_errors,
    page_forbidden,
    read_form,
    render,
    require_login,
)

router = APIRouter(include_in_schema=False)
PER_PAGE = 50
_STATES = ("open", "acknowledged", "closed", "all")
_RULES = ("", "checks", "devices", "travel")


def _filter(values: dict[str, Any]) -> dict[str, str]:
    status = str(values.get("status") or "open")
    rule = str(values.get("rule") or "")
    page = str(values.get("page") or "1")
    return {
        "status": status if status in _STATES else "open",
        "rule": rule if rule in _RULES else "",
        "product": str(values.get("product") or "").strip()[:40],
        "region": str(values.get("region") or "").strip().upper()[:20],
        "page": page if page.isdigit() and 0 < len(page) < 7 and int(page) > 0 else "1",
    }


def _list_page(
    request: Request, actor: Any, csrf: str, wanted: dict[str, str], status: int = 200, **extra: Any
) -> Response:
    db = database(request)
    filters: dict[str, Any] = {
        "status": None if wanted["status"] == "all" else wanted["status"],
        "rule": wanted["rule"] or None,
        "product": wanted["product"] or None,
        "region": wanted["region"] or None,
    }
    try:
        summary = clone_alerts.summary(db, actor, **filters)
        pages = max(1, -(-summary["total"] // PER_PAGE))
        page = min(int(wanted["page"]), pages)
        alerts = clone_alerts.list_alerts(
            db, actor, **filters, limit=PER_PAGE, offset=(page - 1) * PER_PAGE
        )
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    locale = i18n.current.get()
    shown = {k: v for k, v in wanted.items() if k != "page" and v}
    points = [
        {
            "name": regions.region_label(p["region"], locale),
            "value": [p["lon"], p["lat"], p["count"]],
        }
        for p in summary["points"]
    ]
    return render(
        request,
        "clone_alerts.html",
        status,
        user=actor,
        csrf=csrf,
        alerts=alerts,
        wanted=wanted,
        page=page,
        pages=pages,
        summary=summary,
        params=urlencode(shown),
        region_label=lambda code: regions.region_label(code, locale),
        points=points,
        **extra,
    )


@router.get("/clone-alerts")
def clone_alerts_page(
    request: Request,
    status: str = "open",
    rule: str = "",
    product: str = "",
    region: str = "",
    page: str = "1",
    format: str = "",
) -> Response:
    """The clone alerts a filter finds, a page at a time, with counts by region;
    `format=csv|xlsx` downloads them all."""
    actor, csrf = require_login(request)
    wanted = _filter(
        {"status": status, "rule": rule, "product": product, "region": region, "page": page}
    )
    if format in ("csv", "xlsx"):
        db = database(request)
        filters: dict[str, Any] = {
            "status": None if wanted["status"] == "all" else wanted["status"],
            "rule": wanted["rule"] or None,
            "product": wanted["product"] or None,
            "region": wanted["region"] or None,
        }
        try:
            rows = exports.offset_paged(
                lambda size, start: clone_alerts.list_alerts(
                    db, actor, **filters, limit=size, offset=start
                ),
                500,
            )
        except Forbidden:
            return page_forbidden(request, actor, csrf)
        return download("clone-alerts", exports.CLONE_ALERTS, rows, format)
    return _list_page(request, actor, csrf, wanted)


def _back(wanted: dict[str, str]) -> str:
    return "/clone-alerts?" + urlencode({k: v for k, v in wanted.items() if v})


def _detail_page(
    request: Request, actor: Any, csrf: str, alert_id: int, status: int = 200, **extra: Any
) -> Response:
    try:
        alert = clone_alerts.show(database(request), actor, alert_id)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    locale = i18n.current.get()
    return render(
        request,
        "clone_alert.html",
        status,
        user=actor,
        csrf=csrf,
        alert=alert,
        region_label=lambda code: regions.region_label(code, locale),
        chart={regions.region_label(k, locale) or "-": n for k, n in alert["by_region"].items()},
        **extra,
    )


@router.get("/clone-alerts/{alert_id}")
def clone_alert_page(request: Request, alert_id: int) -> Response:
    """One clone alert: the rule's detail, the code's verifications, counts by region."""
    actor, csrf = require_login(request)
    return _detail_page(request, actor, csrf, alert_id)


@router.post("/clone-alerts/{alert_id}/{action}")
async def clone_alert_action(request: Request, alert_id: int, action: str) -> Response:
    """Acknowledge or close the alert, or mark its code compromised / restore it; a bad form
    is shown on the alert's page next to its field."""
    actor, csrf = require_login(request)
    form = await read_form(request)
    back = form.get("back") == "list"
    wanted = _filter(form)
    if action not in ("ack", "close", "compromise", "restore"):
        return RedirectResponse(f"/clone-alerts/{alert_id}", status_code=303)
    if not csrf_ok(csrf, form, request):
        return _detail_page(request, actor, csrf, alert_id, 400, errors=expired_form())
    db = database(request)
    try:
        if action in ("ack", "close"):
            state = "acknowledged" if action == "ack" else "closed"
            clone_alerts.settle(db, actor, alert_id, state, form.get("note", ""))
        else:
            code = clone_alerts.show(db, actor, alert_id)["code"]
            if action == "compromise":
                clone_alerts.compromise(db, actor, code, form.get("reason", ""))
            else:
                clone_alerts.restore(db, actor, code)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as error:
        errors = form_errors(error)
        return _detail_page(request, actor, csrf, alert_id, status_of(error), errors=errors)
    if back and action in ("ack", "close"):
        return RedirectResponse(_back(wanted), status_code=303)
    return RedirectResponse(f"/clone-alerts/{alert_id}", status_code=303)
