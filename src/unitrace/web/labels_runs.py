"""Print runs in the browser (/labels/runs): start a run from a lot, a list of serials, a carton
or pallet, or a commission event; its page shows the progress (htmx polls a fragment while it
prints in the background), the file to download, and reprinting with a reason."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import ValidationError as PydanticValidationError

from unitrace.api.problems import status_of
from unitrace.catalog import service as catalog
from unitrace.core.errors import Forbidden, UnitraceError
from unitrace.labels import runs
from unitrace.labels.run_schemas import RunIn
from unitrace.web.common import (
    csrf_ok,
    database,
    expired_form,
    form_errors,
    page_forbidden,
    read_form,
    render,
    require_login,
)

router = APIRouter(include_in_schema=False)
SOURCES = ("lot", "serials", "container", "commission")


def _list_page(
    request: Request, actor: Any, csrf: str, status: int = 200, **extra: Any
) -> Response:
    db = database(request)
    try:
        found = runs.list_runs(db, actor, 50)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    products = catalog.list_products(db, actor, limit=500)["items"]
    extra.setdefault("form", {})
    return render(
        request,
        "label_runs.html",
        status,
        user=actor,
        csrf=csrf,
        found=found,
        products=[p for p in products if p.get("tracking") == "serial"],
        sources=SOURCES,
        **extra,
    )


@router.get("/labels/runs")
def runs_page(request: Request) -> Response:
    """The latest print runs and the form that starts one."""
    actor, csrf = require_login(request)
    return _list_page(request, actor, csrf)


def _run_in(form: dict[str, str]) -> RunIn:
    source = form.get("source", "")
    values: dict[str, Any] = {
        "template": form.get("template") or "default",
        "format": form.get("format") or "pdf",
        "dpi": int(form["dpi"]) if form.get("dpi", "").isdigit() else 203,
    }
    if source in ("lot", "serials"):
        values["product"] = form.get("product") or None
    if source == "lot":
        values["lot"] = form.get("lot", "").strip()
    elif source == "serials":
        values["serials"] = [s.strip() for s in form.get("serials", "").splitlines() if s.strip()]
    elif source == "container":
        values["container"] = form.get("container", "").strip()
    elif source == "commission":
        values["commission"] = form.get("commission", "").strip()
    return RunIn(**values)


@router.post("/labels/runs")
async def runs_start(request: Request) -> Response:
    """Start a run; it prints in the background, its page shows the progress."""
    actor, csrf = require_login(request)
    form = await read_form(request)
    if not csrf_ok(csrf, form, request):
        return _list_page(request, actor, csrf, 400, errors=expired_form(), form=form)
    db = database(request)
    try:
        made = runs.create_run(db, actor, _run_in(form))
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except (PydanticValidationError, UnitraceError) as error:
        status = status_of(error) if isinstance(error, UnitraceError) else 422
        return _list_page(request, actor, csrf, status, errors=form_errors(error), form=form)
    runs.start(db, made["id"])
    return RedirectResponse(f"/labels/runs/{quote(made['number'])}", status_code=303)


def _run(request: Request, actor: Any, number: str) -> dict[str, Any]:
    return runs.get_run(database(request), actor, number)


@router.get("/labels/runs/{number}")
def run_page(request: Request, number: str) -> Response:
    """One run: its source, its progress (polled while it prints), its file, reprinting."""
    actor, csrf = require_login(request)
    try:
        run = _run(request, actor, number)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    return render(request, "label_run.html", user=actor, csrf=csrf, run=run, errors={})


@router.get("/labels/runs/{number}/progress")
def run_progress(request: Request, number: str) -> Response:
    """The progress fragment; it stops polling once the run is done or failed."""
    actor, csrf = require_login(request)
    try:
        run = _run(request, actor, number)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    return render(request, "label_run_progress.html", run=run)


@router.get("/labels/runs/{number}/file")
def run_file(request: Request, number: str) -> Response:
    actor, csrf = require_login(request)
    try:
        path, media_type, name = runs.run_file(database(request), actor, number)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    return FileResponse(path, media_type=media_type, filename=name)


@router.post("/labels/runs/{number}/reprint")
async def run_reprint(request: Request, number: str) -> Response:
    """Print a run again, with a reason (audit trail)."""
    actor, csrf = require_login(request)
    form = await read_form(request)
    db = database(request)
    try:
        run = _run(request, actor, number)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    if not csrf_ok(csrf, form, request):
        errors = expired_form()
        return render(request, "label_run.html", 400, user=actor, csrf=csrf, run=run, errors=errors)
    try:
        made = runs.reprint(db, actor, number, form.get("reason", ""))
    except UnitraceError as error:
        errors = form_errors(error)
        status = status_of(error)
        return render(
            request, "label_run.html", status, user=actor, csrf=csrf, run=run, errors=errors
        )
    runs.start(db, made["id"])
    return RedirectResponse(f"/labels/runs/{quote(made['number'])}", status_code=303)
