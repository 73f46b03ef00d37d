"""After-sales API: service cases (included by `aftersales.routes`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from unitrace.aftersales import cases
from unitrace.aftersales.schemas import CaseIn, DiagnosisIn
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
