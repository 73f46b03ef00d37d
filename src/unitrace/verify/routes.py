"""verify's API: a product's verification settings, codes for its existing units, PINs."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from unitrace.api import downloads
from unitrace.api.deps import CurrentActor, DatabaseDep
from unitrace.core.errors import ValidationError, invalid
from unitrace.verify import clone_alerts, settings

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


# --- clone alerts (克隆码) ------------------------------------------------------------------


class CloneNote(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=4000)


class Compromise(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


@router.get("/clone-alerts", response_model=None)
def list_clone_alerts(
    response: Response,
    db: DatabaseDep,
    actor: CurrentActor,
    status: Literal["open", "acknowledged", "closed", "all"] = "open",
    rule: Literal["checks", "devices", "travel"] | None = None,
    product: str | None = Query(default=None, max_length=40),
    region: str | None = Query(default=None, max_length=20, description="region of the breach"),
    since: datetime | None = Query(default=None, description="last breached at or after"),
    until: datetime | None = Query(default=None, description="last breached before"),
    limit: int = Query(default=500, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=10**9),
    format: downloads.Format = Query(
        default="json", description="`csv` or `xlsx`: every alert the filters match, downloaded"
    ),
) -> list[dict[str, Any]] | Response:
    """Clone alerts (verify.read), last breached first, `limit` from `offset`;
    `X-Total-Count` says how many in all."""
    wanted = None if status == "all" else status
    filters: dict[str, Any] = dict(
        status=wanted, rule=rule, product=product, region=region, since=since, until=until
    )
    if format != "json":
        rows = downloads.offset_paged(
            lambda size, start: clone_alerts.list_alerts(
                db, actor, limit=size, offset=start, **filters
            ),
            500,
        )
        return downloads.download("clone-alerts", downloads.CLONE_ALERTS, rows, format)
    found = clone_alerts.list_alerts(db, actor, limit=limit, offset=offset, **filters)
    response.headers["X-Total-Count"] = str(clone_alerts.summary(db, actor, **filters)["total"])
    return found


@router.get("/clone-alerts/{alert_id}")
def show_clone_alert(alert_id: int, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """One clone alert with its code's verification history and counts by region."""
    return clone_alerts.show(db, actor, _alert_id(alert_id))


@router.post("/clone-alerts/{alert_id}/ack")
def acknowledge_clone_alert(
    alert_id: int, db: DatabaseDep, actor: CurrentActor, body: CloneNote | None = None
) -> dict[str, Any]:
    """Acknowledge a clone alert (verify.manage); the body (`{"note": …}`) may be left out."""
    note = body.note if body else ""
    return clone_alerts.settle(db, actor, _alert_id(alert_id), "acknowledged", note)


@router.post("/clone-alerts/{alert_id}/close")
def close_clone_alert(
    alert_id: int, db: DatabaseDep, actor: CurrentActor, body: CloneNote | None = None
) -> dict[str, Any]:
    """Close a clone alert with a note saying how it was settled (required)."""
    note = body.note if body else ""
    return clone_alerts.settle(db, actor, _alert_id(alert_id), "closed", note)


@router.post("/codes/{code}/compromise")
def compromise_code(
    code: str, body: Compromise, db: DatabaseDep, actor: CurrentActor
) -> dict[str, Any]:
    """Mark a code compromised (verify.manage): later verifications answer a warning."""
    return clone_alerts.compromise(db, actor, code, body.reason)


@router.post("/codes/{code}/restore")
def restore_code(code: str, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """Take a code's compromised mark away (verify.manage)."""
    return clone_alerts.restore(db, actor, code)


def _alert_id(alert_id: int) -> int:
    if not 0 < alert_id < 2**62:
        raise invalid("alert_id", "not an alert id", alert_id)
    return alert_id


@router.get("/counterfeit-reports")
def counterfeit_reports(
    db: DatabaseDep,
    actor: CurrentActor,
    limit: int = Query(default=100, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=10**9),
) -> dict[str, Any]:
    """Consumers' reports of where a product not found was bought, newest first (verify.read;
    the contact only with verify.manage)."""
    from unitrace.verify import reports

    return reports.listing(db, actor, limit, offset)
