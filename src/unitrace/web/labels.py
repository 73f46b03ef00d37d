"""The label templates page: the templates set, and an editor whose preview redraws as you type
(`POST /label-templates/preview` answers the drawing, or the problems, as a fragment)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError as PydanticValidationError

from unitrace.api.problems import from_pydantic, status_of
from unitrace.core.errors import Forbidden, NotFound, UnitraceError, invalid
from unitrace.labels import templates
from unitrace.labels.schemas import DEFAULT_TEMPLATE, PreviewIn, Template, TemplateIn
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

router = APIRouter(include_in_schema=False)


def _pretty(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False, indent=2)


@router.get("/label-templates")
def label_templates_page(request: Request, saved: str = "") -> Response:
    actor, csrf = require_login(request)
    try:
        found = templates.list_templates(database(request), actor)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    return render(
        request, "label_templates.html", user=actor, csrf=csrf, items=found, saved=saved[:10]
    )


def _editor(
    request: Request,
    actor: Any,
    csrf: str,
    template_id: int | None,
    product: str,
    body: str,
    status: int = 200,
    errors: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        "label_template.html",
        status,
        user=actor,
        csrf=csrf,
        template_id=template_id,
        product=product,
        body=body,
        errors=errors or {},
    )


@router.get("/label-templates/edit")
def label_template_editor(request: Request, id: int | None = None, product: str = "") -> Response:
    """A stored template (`id`), or a new one for `product` starting from the built-in one."""
    actor, csrf = require_login(request)
    try:
        if id is not None:
            found = templates.get_template(database(request), actor, id)
            return _editor(
                request, actor, csrf, id, found["product"] or "", _pretty(found["template"])
            )
        templates.list_templates(database(request), actor)  # may this role read templates?
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except NotFound:
        return _editor(
            request,
            actor,
            csrf,
            None,
            "",
            "",
            404,
            {"form": translate.message(f"no label template {id}")},
        )
    return _editor(
        request,
        actor,
        csrf,
        None,
        product.strip()[:40],
        _pretty(DEFAULT_TEMPLATE.model_dump(mode="json")),
    )


def _template(text: str) -> Template:
    """The editor's JSON as a template; a problem named as the API names it."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        line, column = exc.lineno, exc.colno
        raise invalid("template", f"not JSON: line {line} column {column}") from None
    if not isinstance(value, dict):
        raise invalid("template", "a template is a JSON object")
    try:
        return Template.model_validate(value)
    except PydanticValidationError as exc:
        raise from_pydantic(exc, "template.") from None


def _problems(error: UnitraceError) -> list[tuple[str, str]]:
    return [(item.field, translate.message(item.message)) for item in error.errors]


@router.post("/label-templates/preview")
async def label_template_preview(request: Request) -> Response:
    """The fragment under the editor: the label drawn (SVG), or each problem by its field."""
    actor, csrf = require_login(request)
    form = await read_form(request)
    if not csrf_ok(csrf, form, request):
        return render(
            request, "label_preview.html", 400, problems=[("form", expired_form()["form"])]
        )
    try:
        data = PreviewIn(
            template=_template(form.get("template", "")),
            format="svg",
            product=(form.get("product") or "").strip() or None,
        )
        drawing, _ = templates.preview(database(request), actor, None, data)
    except Forbidden:
        return HTMLResponse("", status_code=403)
    except UnitraceError as error:
        # 200: htmx swaps only successful answers in; the problems are the preview's content
        return render(request, "label_preview.html", problems=_problems(error))
    return render(request, "label_preview.html", svg=drawing.decode(), problems=[])


@router.post("/label-templates/edit")
async def label_template_save(request: Request) -> Response:
    actor, csrf = require_login(request)
    form = await read_form(request)
    raw_id = (form.get("id") or "").strip()
    template_id = int(raw_id) if raw_id.isdigit() and len(raw_id) < 18 else None
    product = (form.get("product") or "").strip()[:40]
    body = form.get("template", "")
    if not csrf_ok(csrf, form, request):
        return _editor(request, actor, csrf, template_id, product, body, 400, expired_form())
    try:
        data = TemplateIn(product=product or None, template=_template(body))
        db = database(request)
        if template_id is None:
            templates.create_template(db, actor, data)
        else:
            templates.update_template(db, actor, template_id, data)
    except Forbidden:
        return page_forbidden(request, actor, csrf)
    except (UnitraceError, PydanticValidationError) as error:
        errors = form_errors(error)
        if isinstance(error, UnitraceError):
            errors["problems"] = "; ".join(f"{f}: {m}" for f, m in _problems(error))
        status = status_of(error) if isinstance(error, UnitraceError) else 422
        return _editor(request, actor, csrf, template_id, product, body, status, errors)
    return RedirectResponse("/label-templates?" + urlencode({"saved": "1"}), status_code=303)
