"""Service case pages: the case list (filters, by state, paging) and the case page (timeline,
parts, costs with totals, attachments, spare requests; forms for notes, cost lines and
attachments). A partner sees only its own cases; another's is answered as an unknown one."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError as PydanticValidationError
from starlette.datastructures import UploadFile

from unitrace.aftersales import cases, casework
from unitrace.aftersales.routes.cases import attachment_response
from unitrace.aftersales.schemas import CostIn, NoteIn
from unitrace.api.problems import status_of
from unitrace.core.errors import FieldError, Forbidden, NotFound, UnitraceError, invalid
from unitrace.web import translate
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
from unitrace.web.i18n import _

router = APIRouter(include_in_schema=False)
PER_PAGE = 50
COST_KINDS = ("parts", "labour", "shipping")
COVERAGES = ("warranty", "chargeable", "goodwill")
USERS_TEXT = ("note", "cost", "attachment")  # history texts a person typed: shown as typed


def _shown(case: dict[str, Any]) -> dict[str, Any]:
    """The case with the texts the system wrote (check reasons, automatic moves) in the
    page's language; what people typed stays as typed."""
    for item in case["timeline"]:
        text = item["text"]
        item["shown_text"] = text if item["kind"] in USERS_TEXT else translate.message(text)
    for check in case["checks"]:
        check["shown_reason"] = translate.message(check.get("reason") or "")
    return case


def _day(text: str, field: str, problems: list[FieldError]) -> date | None:
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        problems.append(FieldError(field, "not a date (YYYY-MM-DD)", text))
        return None


def _yes_no(text: str) -> bool | None:
    return {"yes": True, "no": False}.get(text)


@router.get("/cases")
def cases_page(
    request: Request,
    state: str = "",
    kind: str = "",
    q: str = "",
    product: str = "",
    party: str = "",
    claim: str = "",
    opened_from: str = "",
    opened_to: str = "",
    page: str = "1",
) -> Response:
    actor, csrf = require_login(request)
    number = int(page) if page.isdigit() and 0 < len(page) < 7 and int(page) > 0 else 1
    form = {
        "state": state, "kind": kind, "q": q, "product": product, "party": party,
        "claim": claim, "opened_from": opened_from, "opened_to": opened_to,
    }  # fmt: skip
    errors: dict[str, str] = {}
    found: dict[str, Any] = {"items": [], "total": 0, "by_state": {}}
    problems: list[FieldError] = []
    wanted = casework.CaseFilter(
        states=(state,) if state else (),
        kind=kind or None,
        product=product.strip() or None,
        party=party.strip() or None,
        warranty_claim=_yes_no(claim),
        q=q.strip()[:64] or None,
        opened_from=_day(opened_from, "opened_from", problems),
        opened_to=_day(opened_to, "opened_to", problems),
    )
    try:
        offset = (number - 1) * PER_PAGE
        db = database(request)
        found = casework.list_cases(db, actor, wanted, PER_PAGE, offset, problems)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as error:
        errors = form_errors(error)
    params = urlencode({k: v for k, v in form.items() if v})
    tabs = {k: v for k, v in form.items() if v and k != "state"}
    return render(
        request,
        "cases.html",
        422 if errors else 200,
        user=actor,
        csrf=csrf,
        found=found,
        form=form,
        errors=errors,
        page=number,
        per_page=PER_PAGE,
        params=params,
        tab_params=urlencode(tabs),
        states=cases.STATES,
        kinds=cases.KINDS,
        open_total=sum(n for s, n in found.get("by_state", {}).items() if s != "closed"),
    )


def _case_page(
    request: Request, actor: Any, csrf: str, number: str, status: int = 200, **extra: Any
) -> Response:
    try:
        case = _shown(casework.get_case(database(request), actor, number))
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except NotFound as error:
        return render(request, "forbidden.html", 404, user=actor, csrf=csrf, missing=error.detail)
    extra.setdefault("errors", {})
    extra.setdefault("form", {})
    return render(
        request,
        "case.html",
        status,
        user=actor,
        csrf=csrf,
        case=case,
        cost_kinds=[(k, _("cost " + k)) for k in COST_KINDS],
        coverages=[(k, _("coverage " + k)) for k in COVERAGES],
        max_bytes=casework.attachment_max_bytes(),
        **extra,
    )


def case_path(number: str, anchor: str = "") -> str:
    return f"/cases/{quote(number, safe='')}" + (f"#{anchor}" if anchor else "")


@router.get("/cases/{number}")
def case_page(request: Request, number: str) -> Response:
    actor, csrf = require_login(request)
    return _case_page(request, actor, csrf, number)


def _refused(
    request: Request, actor: Any, csrf: str, number: str, which: str, error: Exception,
    form: dict[str, str],
) -> Response:  # fmt: skip
    """The case page again with the form's problems next to its fields (nothing was written)."""
    if isinstance(error, NotFound):
        return _case_page(request, actor, csrf, number)
    errors = form_errors(error)
    return _case_page(
        request, actor, csrf, number, status_of(error), errors={which: errors}, form={which: form}
    )


@router.post("/cases/{number}/notes")
async def note_add(request: Request, number: str) -> Response:
    actor, csrf = require_login(request)
    form = await read_form(request)
    if not csrf_ok(csrf, form, request):
        return _case_page(request, actor, csrf, number, 400, errors={"note": expired_form()})
    try:
        data = NoteIn.model_validate({"text": form.get("text", "").strip()})
        casework.add_note(database(request), actor, number, data)
    except (PydanticValidationError, UnitraceError) as error:
        return _refused(request, actor, csrf, number, "note", error, form)
    return RedirectResponse(case_path(number, "timeline"), status_code=303)


@router.post("/cases/{number}/costs")
async def cost_add(request: Request, number: str) -> Response:
    actor, csrf = require_login(request)
    form = await read_form(request)
    if not csrf_ok(csrf, form, request):
        return _case_page(request, actor, csrf, number, 400, errors={"cost": expired_form()})
    try:
        data = CostIn.model_validate(
            {
                "kind": form.get("kind", ""),
                "coverage": form.get("coverage", ""),
                "amount": form.get("amount", "").strip(),
                "currency": form.get("currency", "").strip() or "CNY",
                "description": form.get("description", "").strip(),
            }
        )
        casework.add_cost(database(request), actor, number, data)
    except (PydanticValidationError, UnitraceError) as error:
        return _refused(request, actor, csrf, number, "cost", error, form)
    return RedirectResponse(case_path(number, "costs"), status_code=303)


@router.post("/cases/{number}/attachments")
async def attachment_add(request: Request, number: str) -> Response:
    actor, csrf = require_login(request)
    limit = casework.attachment_max_bytes()
    async with request.form() as submitted:
        fields = {k: v for k, v in submitted.items() if isinstance(v, str)}
        upload = submitted.get("file")
        name = upload.filename if isinstance(upload, UploadFile) else None
        content = await upload.read(limit + 1) if isinstance(upload, UploadFile) else b""
    if not csrf_ok(csrf, fields, request):
        return _case_page(request, actor, csrf, number, 400, errors={"attachment": expired_form()})
    try:
        if not name:
            raise invalid("file", "choose a photo or a PDF file to attach")
        casework.add_attachment(database(request), actor, number, name, content)
    except UnitraceError as error:
        return _refused(request, actor, csrf, number, "attachment", error, {})
    return RedirectResponse(case_path(number, "attachments"), status_code=303)


@router.get("/cases/{number}/attachments/{attachment_id}")
def attachment_download(request: Request, number: str, attachment_id: str) -> Response:
    actor, csrf = require_login(request)
    try:
        if not attachment_id.isdigit() or len(attachment_id) > 12:
            raise NotFound(f"case {number} has no attachment {attachment_id}")
        item, content = casework.attachment(database(request), actor, number, int(attachment_id))
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except NotFound as error:
        return render(request, "forbidden.html", 404, user=actor, csrf=csrf, missing=error.detail)
    return attachment_response(item, content)
