"""The warehouse's spare-part requests page (备件申请, /spares): the pick list, oldest first, a scan
box that sends each scanned spare to the chosen request's service location (a keyboard wedge at
full speed: static/channel.js queues the scans), and cancelling a request with a reason."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from unitrace.aftersales import picking, spares
from unitrace.api.problems import status_of
from unitrace.core.errors import Forbidden, UnitraceError, ValidationError
from unitrace.web import translate
from unitrace.web.common import (
    csrf_ok,
    database,
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
VIEWS = ("open", "fulfilled", "cancelled", "all")
PER_PAGE = 50


def _page(
    request: Request,
    actor: Any,
    csrf: str,
    status: int = 200,
    view: str = "open",
    chosen: str = "",
    page: int = 1,
    **extra: Any,
) -> Response:
    view = view if view in VIEWS else "open"
    db = database(request)
    try:
        found = picking.pick_list(
            db, actor, [view], limit=PER_PAGE, offset=(max(page, 1) - 1) * PER_PAGE
        )
        waiting = (
            found if view == "open" else picking.pick_list(db, actor, ["open"], limit=PER_PAGE)
        )
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    open_numbers = [r["number"] for r in waiting["items"]]
    if chosen not in open_numbers:
        chosen = open_numbers[0] if open_numbers else ""
    return render(
        request,
        "spares.html",
        status,
        user=actor,
        csrf=csrf,
        found=found,
        waiting=waiting["items"],
        view=view,
        views=VIEWS,
        chosen=chosen,
        page=max(page, 1),
        per_page=PER_PAGE,
        **extra,
    )


@router.get("/spares")
def spares_page(
    request: Request,
    status: str = "open",
    chosen: Annotated[str, Query(alias="request", max_length=40)] = "",
    cancelled: Annotated[str, Query(max_length=40)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """The pick list and the scan box (`?request=SR-…` chooses the request scanned for)."""
    actor, csrf = require_login(request)
    return _page(request, actor, csrf, view=status, chosen=chosen, page=page, cancelled=cancelled)


@router.post("/spares/scan")
async def spares_scan(request: Request) -> Response:
    """One scanned spare for a request (channel.js): a feedback line, 200 so it is shown."""
    actor, csrf = require_login(request)
    form = await read_form(request)
    if not csrf_ok(csrf, form, request):
        return HTMLResponse(_("The form expired; reload the page."), status_code=400)
    serial = form.get("serial", "").strip()
    number = form.get("request", "").strip()
    context: dict[str, Any] = {"serial": serial, "number": number}
    try:
        if not number:
            raise ValidationError(_("Choose the request the spares are for."))
        if not serial:
            raise ValidationError(_("Nothing was scanned."))
        context["done"] = picking.pick(database(request), actor, number, [serial[:64]])
    except UnitraceError as error:
        reasons = [translate.message(e.message) for e in error.errors if e.message]
        context.update(
            title=error_title(error),
            detail=translate.message(error.detail),
            reasons=reasons,
        )
    return render(request, "spares_scan.html", **context)


@router.post("/spares/{number}/cancel")
async def spares_cancel(request: Request, number: str) -> Response:
    actor, csrf = require_login(request)
    form = await read_form(request)
    view = form.get("status", "open")
    if not csrf_ok(csrf, form, request):
        return _page(request, actor, csrf, 400, view, errors=expired_form(), failed=number)
    try:
        picking.cancel(database(request), actor, number, form.get("reason", ""))
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as error:
        return _page(
            request, actor, csrf, status_of(error), view, errors=form_errors(error), failed=number
        )
    shown = quote(spares.number(spares.request_id(number)), safe="")
    return RedirectResponse(f"/spares?status={quote(view)}&cancelled={shown}", status_code=303)
