"""After-sales API: service cases (included by `aftersales.routes`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from unitrace.aftersales import cases
from unitrace.aftersales.schemas import CaseIn, CaseStepIn, DiagnosisIn, PartIn, StateIn
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
