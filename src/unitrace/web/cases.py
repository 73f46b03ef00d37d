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
from unitrace.aftersales.schemas import CaseStepIn, CostIn, NoteIn, PartIn, StateIn
from unitrace.api.problems import status_of
from unitrace.core.errors import FieldError, Forbidden, NotFound, UnitraceError, invalid
from unitrace.interop import exports
from unitrace.web import translate
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
from unitrace.web.i18n import _

router = APIRouter(include_in_schema=False)
PER_PAGE = 50
COST_KINDS = ("parts", "labour", "shipping")
COVERAGES = ("warranty", "chargeable", "goodwill")
USERS_TEXT = ("note", "cost", "attachment")  # history texts a person typed: shown as typed
# the steps of a case (cases.record_step) and the event permission each one needs
STEPS = {
    "receive_return": "event:return",
    "repair": "event:repair",
    "inspect": "event:inspect",
    "ship_back": "event:ship",
}


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
    format: str = "",
) -> Response:
    actor, csrf = require_login(request)
    number = int(page) if page.isdigit() and 0 < len(page) < 7 and int(page) > 0 else 1
    form = {
        "state": state,
        "kind": kind,
        "q": q,
        "product": product,
        "party": party,
        "claim": claim,
        "opened_from": opened_from,
        "opened_to": opened_to,
    }
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
        if format in ("csv", "xlsx"):  # every case the filters find, downloaded
            rows = exports.offset_paged(
                lambda size, start: casework.list_cases(db, actor, wanted, size, start, problems)[
                    "items"
                ],
                casework.MAX_LIMIT,
            )
            return download("service-cases", exports.CASES, rows, format)
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
        next_states=[(k, _(k)) for k in case["next_states"]],
        outcomes=[(k, _(k)) for k in cases.OUTCOMES],
        steps=[(k, _("step " + k)) for k, need in STEPS.items() if actor.can(need)],
        may_replace=actor.can("event:replace_part") and actor.can("event:move"),
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
    request: Request,
    actor: Any,
    csrf: str,
    number: str,
    which: str,
    error: Exception,
    form: dict[str, str],
) -> Response:
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


def _blank(form: dict[str, str], *names: str) -> dict[str, str | None]:
    return {name: (form.get(name) or "").strip() or None for name in names}


@router.post("/cases/{number}/state")
async def state_change(request: Request, number: str) -> Response:
    """The case moved on (cases.change_state); `from_state` is the state the page showed: a
    case another agent moved meanwhile is told, not moved twice."""
    actor, csrf = require_login(request)
    form = await read_form(request)
    if not csrf_ok(csrf, form, request):
        return _case_page(request, actor, csrf, number, 400, errors={"state": expired_form()})
    try:
        data = StateIn.model_validate(
            _blank(form, "to", "outcome", "from_state") | {"note": form.get("note", "").strip()}
        )
        cases.change_state(database(request), actor, number, data)
    except (PydanticValidationError, UnitraceError) as error:
        return _refused(request, actor, csrf, number, "state", error, form)
    return RedirectResponse(case_path(number), status_code=303)


@router.post("/cases/{number}/steps")
async def step_record(request: Request, number: str) -> Response:
    """A physical step on the unit's ledger, linked to the case (cases.record_step)."""
    actor, csrf = require_login(request)
    form = await read_form(request)
    if not csrf_ok(csrf, form, request):
        return _case_page(request, actor, csrf, number, 400, errors={"step": expired_form()})
    try:
        values = _blank(form, "action", "location", "party", "result")
        if values["action"] != "inspect":
            values["result"] = None
        data = CaseStepIn.model_validate(values | {"note": form.get("note", "").strip()})
        cases.record_step(database(request), actor, number, data)
    except (PydanticValidationError, UnitraceError) as error:
        return _refused(request, actor, csrf, number, "step", error, form)
    return RedirectResponse(case_path(number, "timeline"), status_code=303)


@router.post("/cases/{number}/parts")
async def part_replace(request: Request, number: str) -> Response:
    """A part replaced in the unit (cases.replace_part): the removed serial goes to a returns
    location, the installed one into the unit; or a consumable used, by lot and quantity."""
    actor, csrf = require_login(request)
    form = await read_form(request)
    if not csrf_ok(csrf, form, request):
        return _case_page(request, actor, csrf, number, 400, errors={"part": expired_form()})
    try:
        values: dict[str, Any] = _blank(form, "removed", "installed", "returns_location")
        consumed = _blank(form, "consumed_product", "consumed_lot", "consumed_quantity")
        values["consumed"] = []
        if any(consumed.values()):
            values["consumed"] = [
                {
                    "product": consumed["consumed_product"] or "",
                    "lot": consumed["consumed_lot"] or "",
                    "quantity": consumed["consumed_quantity"] or "1",
                }
            ]
        data = PartIn.model_validate(values | {"reason": form.get("reason", "").strip()})
        cases.replace_part(database(request), actor, number, data)
    except (PydanticValidationError, UnitraceError) as error:
        return _refused(request, actor, csrf, number, "part", error, form)
    return RedirectResponse(case_path(number, "parts"), status_code=303)
