"""The claim rules page: what each claim check does (refuse, flag, off) for all products or for
one, and — for a role with `claim.override` — a form a check to change it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError as PydanticValidationError

from unitrace.aftersales import claims
from unitrace.aftersales.schemas import ClaimRuleIn
from unitrace.api.problems import status_of
from unitrace.core.errors import Forbidden, UnitraceError
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


def check_labels() -> dict[str, tuple[str, str]]:
    """Each check's name and what it finds, in the page's language."""
    return {
        "unknown_serial": (_("Unknown serial"), _("the serial is not ours: possibly counterfeit")),
        "shipped": (_("Never shipped or sold"), _("the unit has not left our hands")),
        "warranty": (_("Warranty"), _("expired, void, not started, or none")),
        "open_case": (_("Open case"), _("another warranty claim of the unit is open")),
        "frequency": (_("Frequent claims"), _("more than N claims in M days")),
        "region": (
            _("Region"),
            _("claimed outside the region it was sold for, or a diversion alert"),
        ),
        "scrapped": (_("Scrapped"), _("the unit was scrapped")),
        "stolen": (_("Reported stolen"), _("a stolen report not cleared")),
        "recall": (_("Open recall"), _("the recall, not the warranty, pays")),
        "components": (_("Components"), _("the components found differ from the genealogy")),
    }


def _modes() -> list[tuple[str, str]]:
    return [
        ("refuse", _("claim mode refuse")),
        ("flag", _("claim mode flag")),
        ("off", _("claim mode off")),
        ("inherit", _("claim mode inherit")),
    ]


def _set_for() -> dict[str, str]:
    return {
        "product": _("this product"),
        "all": _("all products"),
        "default": _("default"),
        "fixed": _("fixed"),
    }


def _page(
    request: Request,
    actor: Any,
    csrf: str,
    product: str,
    status: int = 200,
    errors: dict[str, str] | None = None,
    failed: str = "",
    saved: str = "",
    typed: dict[str, str] | None = None,
) -> Response:
    db = database(request)
    try:
        found = claims.rules(db, actor, product or None)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except UnitraceError as error:  # a product that does not exist: the rules for all
        found = claims.rules(db, actor, None)
        errors = {"product": form_errors(error).get("product", "")} | (errors or {})
        status = max(status, status_of(error))
    return render(
        request,
        "claim_rules.html",
        status,
        user=actor,
        csrf=csrf,
        product=product,
        rules=found,
        labels=check_labels(),
        modes=_modes(),
        set_for=_set_for(),
        errors=errors or {},
        failed=failed,
        saved=saved,
        typed=typed or {},
    )


@router.get("/claim-rules")
def claim_rules_page(request: Request, product: str = "", saved: str = "") -> Response:
    actor, csrf = require_login(request)
    return _page(request, actor, csrf, product.strip()[:40], saved=saved[:30])


@router.post("/claim-rules")
async def claim_rule_set(request: Request) -> Response:
    """Set one check's rule from its row's form; problems are shown in that row."""
    actor, csrf = require_login(request)
    form = await read_form(request)
    product = (form.get("product") or "").strip()
    check = (form.get("check") or "").strip()[:30]
    if not csrf_ok(csrf, form, request):
        return _page(request, actor, csrf, product, 400, expired_form(), check)
    params: dict[str, Any] = {}
    for key in claims.PARAMS.get(check, {}):
        value = (form.get(key) or "").strip()
        if value:
            params[key] = value
    try:
        values = {
            "product": product or None,
            "check": check,
            "mode": form.get("mode", ""),
            "params": params,
        }
        data = ClaimRuleIn.model_validate(values)
        claims.set_rule(database(request), actor, data)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except (UnitraceError, PydanticValidationError) as error:
        errors = form_errors(error)
        status = status_of(error) if isinstance(error, UnitraceError) else 422
        return _page(request, actor, csrf, product, status, errors, check, typed=form)
    query = urlencode({"product": product, "saved": check} if product else {"saved": check})
    return RedirectResponse(f"/claim-rules?{query}", status_code=303)
