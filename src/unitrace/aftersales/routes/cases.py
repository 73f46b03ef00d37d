"""After-sales API: service cases (included by `aftersales.routes`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Query, Response, UploadFile

from unitrace.aftersales import cases, casework
from unitrace.aftersales.schemas import (
    CaseIn,
    CaseStepIn,
    CostIn,
    DiagnosisIn,
    NoteIn,
    PartIn,
    ServiceCodeIn,
    ServiceCodePatch,
    StateIn,
)
from unitrace.api import downloads
from unitrace.api.deps import CurrentActor, DatabaseDep

router = APIRouter(tags=["after-sales"])


@router.post("/cases", status_code=201)
def open_case(data: CaseIn, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """Open a service case for a unit; a warranty claim meets the claim checks (409 with every
    check when one refuses, unless `override_reason` is given by a role that may override)."""
    return cases.open_case(db, actor, data)


@router.post("/cases/{number}/diagnosis")
def diagnose(
    number: str, data: DiagnosisIn, db: DatabaseDep, actor: CurrentActor
) -> dict[str, Any]:
    """Record the diagnosis: defect code, components found (checked against the genealogy),
    parts needed (what the service location lacks becomes spare-part requests)."""
    return cases.diagnose(db, actor, number, data)


@router.post("/cases/{number}/state")
def change_state(
    number: str, data: StateIn, db: DatabaseDep, actor: CurrentActor
) -> dict[str, Any]:
    """Move the case on (`to`; closing names its `outcome`); a case another agent moved
    meanwhile answers 409."""
    return cases.change_state(db, actor, number, data)


@router.post("/cases/{number}/steps")
def record_step(
    number: str, data: CaseStepIn, db: DatabaseDep, actor: CurrentActor
) -> dict[str, Any]:
    """A physical step on the unit's ledger, linked to the case: `receive_return`, `repair`,
    `inspect` (with `result`), `ship_back`."""
    return cases.record_step(db, actor, number, data)


@router.post("/cases/{number}/parts")
def replace_part(number: str, data: PartIn, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """A part replaced (`removed` → `installed`, the old one to a returns location) and the
    lot-tracked consumables used (`consumed`)."""
    return cases.replace_part(db, actor, number, data)


# --- case work (casework): the case list, one case, notes, costs, attachments, codes -----------


@router.get("/cases", response_model=None)
def list_cases(
    db: DatabaseDep,
    actor: CurrentActor,
    state: Annotated[
        list[str] | None,
        Query(description="one or more (repeat it or `a,b`); `open` = every state but closed"),
    ] = None,
    kind: str | None = None,
    product: str | None = None,
    party: str | None = Query(default=None, description="the reporter or the opening partner"),
    warranty_claim: bool | None = None,
    q: str | None = Query(default=None, max_length=64, description="a case number or serial"),
    opened_from: date | None = None,
    opened_to: date | None = None,
    limit: int = 50,
    offset: int = 0,
    format: downloads.Format = Query(
        default="json", description="`csv` or `xlsx`: every case the filters match, downloaded"
    ),
) -> dict[str, Any] | Response:
    """Service cases newest first (a partner: those it opened): `{items, total}`."""
    wanted = casework.CaseFilter(
        states=tuple(state or ()),
        kind=kind or None,
        product=product or None,
        party=party or None,
        warranty_claim=warranty_claim,
        q=q or None,
        opened_from=opened_from,
        opened_to=opened_to,
    )
    if format != "json":
        rows = downloads.offset_paged(
            lambda size, start: casework.list_cases(db, actor, wanted, size, start)["items"],
            casework.MAX_LIMIT,
        )
        return downloads.download("service-cases", downloads.CASES, rows, format)
    return casework.list_cases(db, actor, wanted, limit, offset)


@router.get("/cases/{number}")
def get_case(number: str, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """One case: unit, reporter, codes in both languages, timeline (history and the ledger
    events of its steps), parts, cost lines with totals per currency, attachments, spare
    requests."""
    return casework.get_case(db, actor, number)


@router.post("/cases/{number}/notes", status_code=201)
def add_note(number: str, data: NoteIn, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """A note in the case's timeline; answers the case."""
    return casework.add_note(db, actor, number, data)


@router.post("/cases/{number}/costs", status_code=201)
def add_cost(number: str, data: CostIn, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """A cost line (`amount` as decimal text, `currency` ISO 4217, CNY by default); answers the
    case with its totals."""
    return casework.add_cost(db, actor, number, data)


@router.post("/cases/{number}/attachments", status_code=201)
def add_attachment(
    number: str,
    file: Annotated[
        UploadFile,
        File(
            description="a JPEG, PNG or WebP photo or a PDF (by content); by default ≤ 10 MB "
            "(UNITRACE_ATTACHMENT_MAX_BYTES)"
        ),
    ],
    db: DatabaseDep,
    actor: CurrentActor,
) -> dict[str, Any]:
    """Attach a photo or a PDF to the case (413 over the size limit, 422 for another type)."""
    content = file.file.read(casework.attachment_max_bytes() + 1)
    return casework.add_attachment(db, actor, number, file.filename or "", content)


@router.get("/cases/{number}/attachments/{attachment_id}")
def get_attachment(
    number: str, attachment_id: int, db: DatabaseDep, actor: CurrentActor
) -> Response:
    """The attachment's bytes with its stored type, as a download named as it was uploaded."""
    item, content = casework.attachment(db, actor, number, attachment_id)
    return attachment_response(item, content)


def attachment_response(item: dict[str, Any], content: bytes) -> Response:
    """An attachment as a download (API and pages): its stored type, its name (RFC 6266)."""
    ascii_name = item["name"].encode("ascii", "replace").decode().replace('"', "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(item['name'])}"
    return Response(
        content,
        media_type=item["content_type"],
        headers={"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff"},
    )


@router.get("/service-codes")
def list_codes(
    db: DatabaseDep,
    actor: CurrentActor,
    kind: str | None = None,
    active: bool | None = None,
) -> list[dict[str, Any]]:
    """The symptom and defect codes with their names in both languages."""
    return casework.list_codes(db, actor, kind or None, active)


@router.post("/service-codes", status_code=201)
def add_code(data: ServiceCodeIn, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """A new symptom or defect code (`warranty.manage`)."""
    return casework.add_code(db, actor, data)


@router.patch("/service-codes/{code}")
def change_code(
    code: str, data: ServiceCodePatch, db: DatabaseDep, actor: CurrentActor
) -> dict[str, Any]:
    """Rename a code or set it inactive (`warranty.manage`): old cases keep it."""
    return casework.change_code(db, actor, code, data)
