"""Warranty on the unit page (the dossier's warranty box): extend, void and lift the void, each
with its reason, through `aftersales.warranty`; problems are shown next to their fields."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from unitrace.access.principal import Actor
from unitrace.aftersales import warranty
from unitrace.aftersales.schemas import ExtensionIn, UnvoidIn, VoidIn
from unitrace.api.problems import status_of
from unitrace.core.errors import NotFound, UnitraceError
from unitrace.ledger import queries
from unitrace.web.common import (
    csrf_ok,
    database,
    error_title,
    expired_form,
    form_errors,
    read_form,
    render,
    require_login,
    templates,
)
from unitrace.web.i18n import _

router = APIRouter(include_in_schema=False)
ACTIONS: dict[str, tuple[type[BaseModel], tuple[str, ...]]] = {
    "extend": (ExtensionIn, ("months", "paid", "reason", "case")),
    "void": (VoidIn, ("reason", "case")),
    "unvoid": (UnvoidIn, ("reason",)),
}


def policy_words(policy: dict[str, Any]) -> str:
    """The policy in the page's language: "24 months from sale, else shipment + 90 days"."""
    words = _("%(months)s months, %(start)s") % {
        "months": policy["months"],
        "start": _("warranty from " + policy["start"]),
    }
    if policy["fallback"]:
        words += _("; else %(start)s + %(days)s days") % {
            "start": _("warranty from " + policy["fallback"]),
            "days": policy["fallback_days"],
        }
    override = policy.get("override")
    if override:
        ((kind, value),) = override.items()
        scope = _("region %(code)s") if kind == "region" else _("distributor %(code)s")
        words += _(" (%(scope)s; the product's own: %(months)s months)") % {
            "scope": scope % {"code": value},
            "months": policy["product_months"],
        }
    return words


def dossier_page(
    request: Request,
    actor: Actor,
    csrf: str,
    serial: str,
    product: str | None,
    status: int = 200,
    **extra: Any,
) -> Response:
    """The unit page (`web.pages`), with the warranty box's forms and messages in `extra`."""
    try:
        found = queries.dossier(database(request), actor, serial, product)
    except UnitraceError as error:
        return render(
            request,
            "search.html",
            404 if isinstance(error, NotFound) else 422,
            user=actor,
            csrf=csrf,
            q=serial,
            error=error_title(error),
            detail=error.detail,
        )
    for key, empty in (
        ("warranty_action", None),
        ("warranty_form", {}),
        ("warranty_errors", {}),
        ("warranty_saved", None),
    ):
        extra.setdefault(key, empty)
    return render(request, "dossier.html", status, user=actor, csrf=csrf, unit=found, **extra)


@router.post("/units/{serial:path}/warranty/{action}")
async def change_warranty(request: Request, serial: str, action: str) -> Response:
    """One of the warranty box's forms: extend, void, unvoid."""
    actor, csrf = require_login(request)
    form = await read_form(request)
    product = form.get("product") or None
    if action not in ACTIONS:
        return dossier_page(request, actor, csrf, serial, product, 404)
    if not csrf_ok(csrf, form, request):
        return dossier_page(
            request,
            actor,
            csrf,
            serial,
            product,
            400,
            warranty_action=action,
            warranty_form=form,
            warranty_errors=expired_form(),
        )
    model, names = ACTIONS[action]
    values = {k: form[k].strip() for k in names if form.get(k, "").strip()}
    try:
        data = model.model_validate({"product": product, **values})
        change = {"extend": warranty.extend, "void": warranty.void, "unvoid": warranty.unvoid}
        change[action](database(request), actor, serial, data)  # type: ignore[operator]
    except (PydanticValidationError, UnitraceError) as error:
        errors = form_errors(error)
        if isinstance(error, PydanticValidationError):
            errors["form"] = (
                _("Invalid input") + ": " + _("please correct the fields marked below.")
            )
        return dossier_page(
            request,
            actor,
            csrf,
            serial,
            product,
            status_of(error),
            warranty_action=action,
            warranty_form=form,
            warranty_errors=errors,
        )
    where = f"/units/{quote(serial)}?warranty_saved={action}"
    if product:
        where += f"&product={quote(product)}"
    return RedirectResponse(where + "#warranty", status_code=303)


templates.env.globals["warranty_policy"] = policy_words
