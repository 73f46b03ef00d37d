"""verify's API: a product's verification settings, codes for its existing units, PINs."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import Response

from unitrace.api.deps import CurrentActor, DatabaseDep
from unitrace.core.errors import ValidationError
from unitrace.verify import settings

router = APIRouter(tags=["verify"])


@router.get("/products/{code}/verification")
def get_settings(code: str, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """The product's verification settings (verify.read)."""
    return settings.get(db, actor, code)


@router.put("/products/{code}/verification")
def put_settings(
    code: str,
    db: DatabaseDep,
    actor: CurrentActor,
    changes: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    """Change some of the product's verification settings (verify.manage); every bad field is
    named at once."""
    if not isinstance(changes, dict):
        raise ValidationError("a JSON object of settings", [])
    return settings.put(db, actor, code, changes)


@router.post("/products/{code}/verification/codes")
def issue_codes(code: str, db: DatabaseDep, actor: CurrentActor) -> dict[str, int]:
    """Codes for the product's units without one (verify.manage); running it again makes none."""
    result = settings.issue(db, actor, code)
    return {"made": result.made, "existing": result.existing}


@router.post("/products/{code}/verification/pins")
def make_pins(code: str, db: DatabaseDep, actor: CurrentActor) -> Response:
    """A PIN for every code without one, as CSV (serial,code,pin): shown this once."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "pins.csv"
        result = settings.pins(db, actor, code, out)
        body = out.read_bytes()
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"X-Pins-Made": str(result.made), "X-Pins-Skipped": str(result.skipped)},
    )


@router.get("/counterfeit-reports")
def counterfeit_reports(
    db: DatabaseDep, actor: CurrentActor, limit: int = 100, offset: int = 0
) -> dict[str, Any]:
    """Consumers' reports of where a product not found was bought, newest first (verify.read;
    the contact only with verify.manage)."""
    from unitrace.verify import reports

    return reports.listing(db, actor, limit, offset)
