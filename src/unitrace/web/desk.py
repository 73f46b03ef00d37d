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
from unitrace.catalog import service as catalog
from unitrace.core.errors import Forbidden, UnitraceError
from unitrace.db.engine import Database
from unitrace.web import i18n, translate
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

# words of the after-sales vocabulary as the page shows them (literal msgids: the catalog test
# finds them here)
KIND_LABELS = {
    "repair": lambda: _("case kind repair"),
    "return": lambda: _("case kind return"),
    "maintenance": lambda: _("case kind maintenance"),
    "installation": lambda: _("case kind installation"),
    "inspection": lambda: _("case kind inspection"),
}
STATE_LABELS = {
    "open": lambda: _("case state open"),
    "diagnosed": lambda: _("case state diagnosed"),
    "waiting_for_parts": lambda: _("case state waiting_for_parts"),
    "in_repair": lambda: _("case state in_repair"),
    "testing": lambda: _("case state testing"),
    "closed": lambda: _("case state closed"),
}
OUTCOME_LABELS = {
    "resolved": lambda: _("case outcome resolved"),
    "rejected": lambda: _("case outcome rejected"),
    "no_fault_found": lambda: _("case outcome no_fault_found"),
}
RESULT_LABELS = {
    "pass": lambda: _("check result pass"),
    "flag": lambda: _("check result flag"),
    "refuse": lambda: _("check result refuse"),
}
START_LABELS = {
    "manufacture": lambda: _("warranty from manufacture"),
    "shipment": lambda: _("warranty from shipment"),
    "sale": lambda: _("warranty from sale"),
    "activation": lambda: _("warranty from activation"),
}
# the claim checks by name (a check this table does not know is shown by its reason alone)
CHECK_LABELS = {
    "unknown_serial": lambda: _("check unknown_serial"),
    "warranty": lambda: _("check warranty"),
    "open_case": lambda: _("check open_case"),
    "shipped": lambda: _("check shipped"),
    "sold": lambda: _("check sold"),
    "frequency": lambda: _("check frequency"),
    "region": lambda: _("check region"),
    "diversion": lambda: _("check diversion"),
    "scrapped": lambda: _("check scrapped"),
    "stolen": lambda: _("check stolen"),
    "recall": lambda: _("check recall"),
    "components": lambda: _("check components"),
}
CASE_FIELDS = ("kind", "reporter_party", "reporter_contact", "symptom_code", "description",
               "region", "location", "override_reason")  # fmt: skip


def _label(table: dict[str, Any], code: str | None) -> str:
    if code is None:
        return ""
    said = table.get(code)
    return str(said()) if said else code


def verdict_words(verdict: dict[str, Any] | None) -> dict[str, Any]:
    """The warranty verdict in the page's language: the headline (在保 until …, 已过保 since …),
    the policy, the event that started it, the extensions and a void's reason."""
    if verdict is None:
        return {"status": "unknown", "headline": "", "policy": "", "started": None}
    status, end = verdict.get("status"), verdict.get("end_date")
    if status == "in_warranty":
        headline = _("In warranty until %(date)s") % {"date": end}
    elif status == "expired":
        headline = _("Out of warranty since %(date)s") % {"date": end}
    elif status == "void":
        void = verdict.get("void") or {}
        headline = _("Warranty void: %(reason)s") % {"reason": void.get("reason", "")}
    elif status == "not_started":
        headline = _("Warranty not started yet")
    else:
        headline = _("No warranty")
    policy = verdict.get("policy") or {}
    said = ""
    if policy.get("months"):
        said = _("%(months)s months, %(start)s") % {
            "months": policy["months"],
            "start": _label(START_LABELS, policy.get("start")),
        }
        if policy.get("fallback"):
            said += _(", else %(start)s + %(days)s days") % {
                "start": _label(START_LABELS, policy["fallback"]),
                "days": policy.get("fallback_days") or 0,
            }
    return {
        "status": status,
        "headline": headline,
        "policy": said,
        "start_date": verdict.get("start_date"),
        "end_date": end,
        "started": verdict.get("started_by"),
        "extensions": verdict.get("extensions") or [],
    }


def check_rows(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The claim checks as the page lists them: result, name and reason in the page's language,
    and where a check points to (a case, a diversion alert) a link."""
    rows = []
    for check in checks:
        link = check.get("link") or {}
        href = None
        if link.get("case"):
            href = "/cases/" + quote(str(link["case"]), safe="")
        elif link.get("alert") is not None or link.get("alert_id") is not None:
            href = "/diversions"
        elif link.get("recall"):
            href = "/recalls/" + quote(str(link["recall"]), safe="")
        rows.append(
            {
                "name": check.get("name"),
                "result": check.get("result"),
                "result_label": _label(RESULT_LABELS, check.get("result")),
                "label": _label(CHECK_LABELS, check.get("name")) if check.get("name") in
                CHECK_LABELS else "",
                "reason": translate.message(str(check.get("reason", ""))),
                "href": href,
            }
        )  # fmt: skip
    return rows


def case_rows(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        case
        | {
            "kind_label": _label(KIND_LABELS, case.get("kind")),
            "state_label": _label(STATE_LABELS, case.get("state")),
            "outcome_label": _label(OUTCOME_LABELS, case.get("outcome")),
        }
        for case in history
    ]


def _pickers(db: Database, actor: Actor, chinese: bool) -> dict[str, Any]:
    """What the open-case form offers: kinds, and for staff the reporters (customers and
    distributors) and the service locations; a partner names neither (the use case would
    answer any other party or location as unknown)."""
    kinds = [(kind, _label(KIND_LABELS, kind)) for kind in cases.KINDS]
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


def _look(db: Database, actor: Actor, serial: str, product: str | None, region: str | None) -> Any:
    return desk.answer(db, actor, serial, product, region)


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
            found = await run_in_threadpool(_look, db, actor, serial, product, region)
        except Forbidden:
            return page_forbidden(request, actor, csrf)
        except UnitraceError as error:
            errors = {**form_errors(error), **errors}
            status = 422 if status == 200 else status
    checks = extra.pop("checks", None)
    if found is not None and checks is None:
        checks = found["checks"]
    unit = found["unit"] if found else None
    may_open = unit is not None and actor.can("service.write")
    may_override = actor.can("claim.override") and any(
        c.get("result") == "refuse" for c in (checks or [])
    )
    chinese = i18n.current.get() == "zh-CN"
    pickers = await run_in_threadpool(_pickers, db, actor, chinese) if may_open else {}
    shown = {"kind", "warranty_claim", "reporter_contact", "symptom_code", "region", "description",
             "form", "checks", "serial", "product"}  # fmt: skip
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
        warranty=verdict_words(found["warranty"] if found else None),
        checks=check_rows(checks or []),
        refusing=any(c.get("result") == "refuse" for c in (checks or [])),
        cases=case_rows(found["cases"] if found else []),
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
    return await _page(
        request, actor, csrf, serial.strip()[:64], product.strip() or None, region.strip() or None
    )


@router.post("/service/cases")
async def open_case(request: Request) -> Response:
    """Open a case from the desk's form; the case page on success, else the desk again with
    every problem next to its field and, for a refused claim, every check."""
    actor, csrf = require_login(request)
    form = await read_form(request)
    serial = form.get("serial", "").strip()[:64]
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
            request, actor, csrf, serial, product, region, 422, errors=form_errors(error),
            form=form,
        )  # fmt: skip
    except claims.ClaimRefused as refused:
        # the refusing checks are listed by the form, each reason in the page's language
        checks = [c.as_dict() for c in getattr(refused, "checks", [])]
        said = {"form": _("The warranty claim is refused:"), "checks": "refused"}
        return await _page(
            request, actor, csrf, serial, product, region, 409, errors=said, form=form,
            checks=checks or None,
        )  # fmt: skip
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as error:
        status = 404 if error.__class__.__name__ == "NotFound" else 422
        return await _page(
            request, actor, csrf, serial, product, region, status, errors=form_errors(error),
            form=form,
        )  # fmt: skip
    return RedirectResponse("/cases/" + quote(opened["number"], safe=""), status_code=303)
