"""The service desk page (/service): one field to scan or type a serial, and the answer in one
look — the unit, its warranty verdict in words, the claim checks a warranty claim would meet, the
unit's service cases — with the form that opens a case (`cases.open_case`), then the case page.

The answer is the service desk's own (`aftersales.desk.answer`); this module only puts it in
words and passes the form to the use case. A serial the user may not see looks exactly like one
we never made: the "possibly counterfeit" verdict."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError as PydanticValidationError
from starlette.concurrency import run_in_threadpool

from unitrace.access.principal import Actor
from unitrace.aftersales import cases, casework, claims, desk
from unitrace.aftersales.schemas import CaseIn
from unitrace.api.problems import status_of
from unitrace.catalog import service as catalog
from unitrace.core.errors import Forbidden, UnitraceError
from unitrace.db.engine import Database
from unitrace.ledger.scanned import MAX_SCANNED_LENGTH
from unitrace.web import i18n, translate
from unitrace.web.claims import check_labels
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

CASE_FIELDS = (
    "kind",
    "reporter_party",
    "reporter_contact",
    "symptom_code",
    "description",
    "region",
    "location",
    "override_reason",
)


def check_rows(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The claim checks as the page lists them: result, name and reason in the page's language,
    and where a check points to (a case, a diversion alert) a link."""
    rows = []
    names = check_labels()  # the claim rules page's names of the checks
    for check in checks:
        link = check.get("link") or {}
        href = None
        if link.get("case"):
            href = "/cases/" + quote(str(link["case"]), safe="")
        elif link.get("alert") is not None or link.get("alert_id") is not None:
            href = "/diversions"
        elif link.get("recall"):
            href = "/recalls/" + quote(str(link["recall"]), safe="")
        named = names.get(str(check.get("name")))
        rows.append(
            {
                "name": check.get("name"),
                "result": check.get("result"),
                "result_label": _("check " + str(check.get("result"))),
                "label": named[0] if named else "",
                "reason": translate.message(str(check.get("reason", ""))),
                "href": href,
            }
        )
    return rows


def _pickers(db: Database, actor: Actor, chinese: bool) -> dict[str, Any]:
    """What the open-case form offers: kinds, and for staff the reporters (customers and
    distributors) and the service locations; a partner names neither (the use case would
    answer any other party or location as unknown)."""
    kinds = [(kind, _("case kind " + kind)) for kind in cases.KINDS]
    symptoms = [
        (c["code"], c["name_zh"] if chinese else c["name_en"])
        for c in casework.list_codes(db, actor, "symptom", active=True)
    ]
    if not actor.can("catalog.read"):
        return {"kinds": kinds, "reporters": [], "service_locations": [], "symptoms": symptoms}
    parties = catalog.list_table(db, actor, "parties")
    locations = catalog.list_table(db, actor, "locations")
    return {
        "kinds": kinds,
        "reporters": [p for p in parties if p["kind"] in ("customer", "distributor", "retailer")],
        "service_locations": [loc for loc in locations if loc["kind"] == "service"],
        "symptoms": symptoms,
    }


async def _page(
    request: Request,
    actor: Actor,
    csrf: str,
    serial: str,
    product: str | None,
    region: str | None,
    status: int = 200,
    **extra: Any,
) -> Response:
    db = database(request)
    found: dict[str, Any] | None = None
    errors: dict[str, str] = extra.pop("errors", {})
    if serial:
        try:
            found = await run_in_threadpool(desk.answer, db, actor, serial, product, region)
        except Forbidden:
            return page_forbidden(request, actor, csrf)
        except UnitraceError as error:
            errors = {**form_errors(error), **errors}
            status = 422 if status == 200 else status
    if found is not None and found["unit"] is not None:  # a scanned code: the unit it names
        serial, product = found["serial"], found["unit"]["product"]["code"]
    checks = extra.pop("checks", None)
    if found is not None and checks is None:
        checks = found["checks"]
    unit = found["unit"] if found else None
    may_open = unit is not None and actor.can("service.write")
    may_override = actor.can("claim.override") and any(
        c.get("result") == "refuse" for c in (checks or [])
    )
    history = found["cases"] if found else []
    if actor.is_partner and history:  # a partner opens only the cases its party opened
        wanted = casework.CaseFilter(q=serial)
        listed = await run_in_threadpool(casework.list_cases, db, actor, wanted, 500)
        mine = {c["number"] for c in listed["items"]}
        history = [c | {"linked": c["number"] in mine} for c in history]
    else:
        history = [c | {"linked": True} for c in history]
    chinese = i18n.current.get() == "zh-CN"
    pickers = await run_in_threadpool(_pickers, db, actor, chinese) if may_open else {}
    shown = {
        "kind",
        "warranty_claim",
        "reporter_contact",
        "symptom_code",
        "region",
        "description",
        "form",
        "checks",
        "serial",
        "product",
    }
    shown |= {"reporter_party"} if pickers.get("reporters") else set()
    shown |= {"location"} if pickers.get("service_locations") else set()
    shown |= {"override_reason"} if may_override else set()
    return render(
        request,
        "service_desk.html",
        status,
        user=actor,
        csrf=csrf,
        serial=serial,
        product=product or "",
        region=region or "",
        found=found,
        unit=unit,
        checks=check_rows(checks or []),
        refusing=any(c.get("result") == "refuse" for c in (checks or [])),
        cases=history,
        may_open=may_open,
        may_override=may_override,
        errors=errors,
        other_errors=[message for name, message in errors.items() if name not in shown],
        form=extra.pop("form", {}),
        **pickers,
        **extra,
    )


@router.get("/service")
async def service_desk(
    request: Request, serial: str = "", product: str = "", region: str = ""
) -> Response:
    actor, csrf = require_login(request)
    if not actor.can("service.read"):
        return page_forbidden(request, actor, csrf)
    scanned = serial.strip()[:MAX_SCANNED_LENGTH]
    return await _page(
        request, actor, csrf, scanned, product.strip() or None, region.strip() or None
    )


@router.post("/service/cases")
async def open_case(request: Request) -> Response:
    """Open a case from the desk's form; the case page on success, else the desk again with
    every problem next to its field and, for a refused claim, every check."""
    actor, csrf = require_login(request)
    form = await read_form(request)
    serial = form.get("serial", "").strip()[:MAX_SCANNED_LENGTH]
    product = form.get("product", "").strip() or None
    values = blank_to_none(form, *CASE_FIELDS)
    region = values.get("region")
    if not csrf_ok(csrf, form, request):
        return await _page(
            request, actor, csrf, serial, product, region, 400, errors=expired_form(), form=form
        )
    data: dict[str, Any] = {k: v for k, v in values.items() if v is not None}
    data["reporter_contact"] = data.get("reporter_contact") or ""
    data["description"] = data.get("description") or ""
    data.update(serial=serial, product=product, warranty_claim=form.get("warranty_claim") == "1")
    try:
        case = CaseIn.model_validate(data)
        opened = await run_in_threadpool(cases.open_case, database(request), actor, case)
    except PydanticValidationError as error:
        return await _page(
            request,
            actor,
            csrf,
            serial,
            product,
            region,
            422,
            errors=form_errors(error),
            form=form,
        )
    except claims.ClaimRefused as refused:
        # the refusing checks are listed by the form, each reason in the page's language
        checks = [c.as_dict() for c in getattr(refused, "checks", [])]
        said = {"form": _("The warranty claim is refused:"), "checks": "refused"}
        return await _page(
            request,
            actor,
            csrf,
            serial,
            product,
            region,
            409,
            errors=said,
            form=form,
            checks=checks or None,
        )
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as error:
        return await _page(
            request,
            actor,
            csrf,
            serial,
            product,
            region,
            status_of(error),
            errors=form_errors(error),
            form=form,
        )
    return RedirectResponse("/cases/" + quote(opened["number"], safe=""), status_code=303)
