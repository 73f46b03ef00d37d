"""Label templates API: CRUD and previews (PNG or SVG) of a stored or an unsaved template."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path
from fastapi.responses import Response

from unitrace.api.deps import CurrentActor, DatabaseDep
from unitrace.labels import templates as service
from unitrace.labels.schemas import PreviewIn, TemplateIn

router = APIRouter()
TemplateId = Path(ge=1, le=2**62, description="the template's id")
PREVIEW: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {}, "image/svg+xml": {}}, "description": "the label"}
}


@router.get("/label-templates")
def list_templates(db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    return {"items": service.list_templates(db, actor)}


@router.post("/label-templates", status_code=201)
def create_template(body: TemplateIn, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """A template for a product (by code) or, with `product` null, the default."""
    return service.create_template(db, actor, body)


@router.post("/label-templates/preview", response_class=Response, responses=PREVIEW)
def preview_unsaved(body: PreviewIn, db: DatabaseDep, actor: CurrentActor) -> Response:
    """`body.template` (or the built-in default) drawn for a sample unit."""
    content, media_type = service.preview(db, actor, None, body)
    return Response(content, media_type=media_type)


@router.get("/label-templates/{template_id}")
def get_template(
    db: DatabaseDep, actor: CurrentActor, template_id: int = TemplateId
) -> dict[str, Any]:
    return service.get_template(db, actor, template_id)


@router.put("/label-templates/{template_id}")
def update_template(
    body: TemplateIn, db: DatabaseDep, actor: CurrentActor, template_id: int = TemplateId
) -> dict[str, Any]:
    return service.update_template(db, actor, template_id, body)


@router.delete("/label-templates/{template_id}", status_code=204, response_class=Response)
def delete_template(
    db: DatabaseDep, actor: CurrentActor, template_id: int = TemplateId
) -> Response:
    service.delete_template(db, actor, template_id)
    return Response(status_code=204)


@router.post("/label-templates/{template_id}/preview", response_class=Response, responses=PREVIEW)
def preview(
    db: DatabaseDep,
    actor: CurrentActor,
    body: PreviewIn | None = None,
    template_id: int = TemplateId,
) -> Response:
    """The stored template (or `body.template`, its unsaved edits) for a sample unit."""
    content, media_type = service.preview(db, actor, template_id, body or PreviewIn())
    return Response(content, media_type=media_type)
