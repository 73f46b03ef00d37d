"""Import API: start an import of a CSV or .xlsx file (a background job), follow it, download
the report of its bad rows, the kinds, saved column mappings."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from unitrace.api.deps import CurrentActor, DatabaseDep
from unitrace.config import ImportLimits
from unitrace.core.errors import FieldError, ValidationError
from unitrace.interop.imports import service
from unitrace.interop.imports.readers import over_limit

router = APIRouter(tags=["imports"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class MappingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(min_length=1, max_length=20)
    mapping: dict[str, str] = Field(
        min_length=1, max_length=200, description="header in the file → field ('' leaves it out)"
    )


def _mapping(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValidationError(
            "mapping: not a JSON object of header → field",
            [FieldError("mapping", "a JSON object of header → field", text[:200])],
        )
    return value


@router.post("/imports", status_code=202)
def start_import(
    db: DatabaseDep,
    actor: CurrentActor,
    file: Annotated[UploadFile, File(description="CSV (UTF-8, UTF-8 with BOM, GB18030) or .xlsx")],
    kind: Annotated[
        str,
        Form(
            description="products, lots, parties, locations, units, "
            "shipments, sellthrough, repairs, bindings"
        ),
    ],
    dry_run: Annotated[bool, Form()] = False,
    mode: Annotated[str, Form(description="all (default: all or nothing) or good")] = "all",
    unknown: Annotated[str, Form(description="unknown columns: attributes or ignore")] = (
        "attributes"
    ),
    mapping: Annotated[str | None, Form(description="JSON: header → field")] = None,
    mapping_name: Annotated[str | None, Form(max_length=80)] = None,
    repeat: Annotated[bool, Form(description="import a file imported before again")] = False,
) -> dict[str, Any]:
    """Start an import job (202): it runs in the background; follow it at
    `GET /imports/{id}`. A file imported before is answered with status `repeat`."""
    actor.require("import.run")
    limits = ImportLimits.from_env()
    content = file.file.read(limits.max_bytes + 1)
    if len(content) > limits.max_bytes:
        raise over_limit("bytes", limits.max_bytes)
    return service.start(
        db,
        actor,
        kind=kind,
        filename=file.filename or "upload",
        content=content,
        mapping=_mapping(mapping),
        mapping_name=mapping_name or None,
        unknown=unknown,
        mode=mode,
        dry_run=dry_run,
        repeat=repeat,
    )


@router.get("/imports/kinds")
def import_kinds(actor: CurrentActor) -> list[dict[str, Any]]:
    """What can be imported: each kind's fields and the Chinese and English headers that name
    them."""
    actor.require("import.run")
    return service.kinds()


@router.get("/imports/{job_id}")
def import_job(job_id: str, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """An import job: status, progress, what was written and the bad rows (row, column,
    reason)."""
    return service.job(db, actor, job_id)


@router.get("/imports/{job_id}/report.xlsx", response_class=FileResponse)
def import_report(job_id: str, db: DatabaseDep, actor: CurrentActor) -> FileResponse:
    """The bad rows of an import as they are in the file, with a reason column."""
    path = service.report_xlsx(db, actor, job_id)
    return FileResponse(path, media_type=XLSX, filename=f"import-{job_id}-report.xlsx")


@router.get("/import-mappings/{name}")
def get_mapping(name: str, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """A saved column mapping."""
    return service.get_mapping(db, actor, name)


@router.put("/import-mappings/{name}")
def put_mapping(name: str, body: MappingIn, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """Save a column mapping by name (replacing one of the same name)."""
    return service.save_mapping(db, actor, name, body.kind, body.mapping)
