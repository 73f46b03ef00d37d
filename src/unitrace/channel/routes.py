"""Channel API: shipments, inventory, diversion alerts, stocktakes, partner sell-through."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from unitrace.api import downloads
from unitrace.api.deps import CurrentActor, DatabaseDep
from unitrace.channel import sellthrough, service, stocktake
from unitrace.channel.service import ShipmentIn
from unitrace.config import UploadLimits
from unitrace.ledger.schemas import ScannedText

router = APIRouter(tags=["channel"])


class CountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9\-_.]*$")
    locations: list[str] = Field(min_length=1, max_length=200)


class ScanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    serial: ScannedText  # a serial, or a GS1 code a scanner sent
    location: str = Field(min_length=1, max_length=40)


class AlertNote(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=4000)


class AlertsSettle(AlertNote):
    ids: list[int] = Field(min_length=1, max_length=service.MAX_SETTLE)


@router.post("/shipments", status_code=201)
def create_shipment(body: ShipmentIn, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """Ship serials and ranges (`{"from": "SN000100", "to": "SN000299"}`) to a party: all or
    none; every unit not in stock is named."""
    return service.create_shipment(db, actor, body)


@router.get("/shipments")
def list_shipments(
    response: Response,
    db: DatabaseDep,
    actor: CurrentActor,
    party: str | None = Query(default=None, max_length=40),
    limit: int = Query(default=500, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=10**9),
) -> list[dict[str, Any]]:
    """Every shipment (ship event), newest first; `X-Total-Count` says how many in all."""
    found = service.list_shipments(db, actor, party, limit=limit, offset=offset)
    response.headers["X-Total-Count"] = str(found["total"])
    return list(found["items"])


@router.get("/shipments/{number}")
def get_shipment(number: str, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """One shipment's delivery note (its number, or the id of its ship event): shipper,
    consignee, date, cartons with their serials, loose serials, counts by product."""
    return service.delivery_note(db, actor, number)


@router.get("/containers/{code}")
def get_container(code: str, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """A carton or pallet (its label or SSCC, `(00)` allowed): where it is, what is in it,
    how many units on all levels, and every event that scanned it or packed into it."""
    found = service.container(db, actor, code)
    assert found is not None
    return found


@router.get("/inventory", response_model=None)
def inventory(
    db: DatabaseDep,
    actor: CurrentActor,
    by: str = Query(default="product,location", description="product, lot, location, status"),
    product: str | None = Query(default=None, max_length=40),
    location: str | None = Query(default=None, max_length=40),
    status: str | None = Query(default=None, max_length=20, description="default in_stock"),
    format: downloads.Format = Query(
        default="json", description="`csv` or `xlsx`: every group the filters match, downloaded"
    ),
) -> dict[str, Any] | Response:
    """Units counted by product, lot, location and status — the ledger's projection."""
    groups = [b.strip() for b in by.split(",") if b.strip()]
    found = service.inventory(db, actor, groups, product=product, location=location, status=status)
    if format != "json":
        columns = downloads.inventory_columns(found["by"])
        return downloads.download("inventory", columns, found["items"], format)
    return found


@router.get("/diversions", response_model=None)
def list_alerts(
    response: Response,
    db: DatabaseDep,
    actor: CurrentActor,
    status: Literal["open", "acknowledged", "closed", "all"] = "open",
    party: str | None = Query(default=None, max_length=40, description="authorised distributor"),
    region: str | None = Query(default=None, max_length=20, description="region seen"),
    limit: int = Query(default=500, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=10**9),
    format: downloads.Format = Query(
        default="json", description="`csv` or `xlsx`: every alert the filters match, downloaded"
    ),
) -> list[dict[str, Any]] | Response:
    """Diversion (窜货) alerts: unit, authorised distributor, shipment, expected and seen
    region; newest first, `limit` from `offset`; `X-Total-Count` says how many in all."""
    wanted = None if status == "all" else status
    if format != "json":
        rows = downloads.offset_paged(
            lambda size, start: service.list_alerts(
                db, actor, status=wanted, party=party, region=region, limit=size, offset=start
            ),
            500,
        )
        return downloads.download("diversion-alerts", downloads.DIVERSIONS, rows, format)
    found = service.list_alerts(
        db, actor, status=wanted, party=party, region=region, limit=limit, offset=offset
    )
    summary = service.alert_summary(db, actor, status=wanted, party=party, region=region)
    response.headers["X-Total-Count"] = str(summary["total"])
    return found


@router.post("/diversions/ack")
def acknowledge_many(body: AlertsSettle, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """Acknowledge several alerts (`ids`) with one note, all or none."""
    return service.settle_alerts(db, actor, body.ids, "acknowledged", body.note)


@router.post("/diversions/close")
def close_many(body: AlertsSettle, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """Close several alerts (`ids`) with one note saying how they were settled, all or none."""
    return service.settle_alerts(db, actor, body.ids, "closed", body.note)


@router.post("/diversions/{alert_id}/ack")
def acknowledge(
    alert_id: int, db: DatabaseDep, actor: CurrentActor, body: AlertNote | None = None
) -> dict[str, Any]:
    """Acknowledge an alert; the body (`{"note": …}`) may be left out."""
    note = body.note if body else ""
    return service.settle_alert(db, actor, _id(alert_id), "acknowledged", note)


@router.post("/diversions/{alert_id}/close")
def close(
    alert_id: int, db: DatabaseDep, actor: CurrentActor, body: AlertNote | None = None
) -> dict[str, Any]:
    """Close an alert with a note saying how it was settled (required)."""
    note = body.note if body else ""
    return service.settle_alert(db, actor, _id(alert_id), "closed", note)


def _id(alert_id: int) -> int:
    from unitrace.core.errors import invalid

    if not 0 < alert_id < 2**62:
        raise invalid("alert_id", "not an alert id", alert_id)
    return alert_id


@router.post("/stocktakes", status_code=201)
def open_count(body: CountIn, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """Open a count for locations; the units expected there are frozen now."""
    return stocktake.open_count(db, actor, body.code, body.locations)


@router.get("/stocktakes/{code}")
def get_count(code: str, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    return stocktake.get_count(db, actor, code)


@router.post("/stocktakes/{code}/scans")
def count_scan(code: str, body: ScanIn, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """One scan; several scanners may scan at once, a serial counts once."""
    return stocktake.scan(db, actor, code, body.serial, body.location)


@router.post("/stocktakes/{code}/close")
def close_count(code: str, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """Close the count: missing, unexpected and misplaced units (possible loss flagged)."""
    return stocktake.close_count(db, actor, code)


@router.post("/stocktakes/{code}/approve")
def approve_count(code: str, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """Approve the adjustments: moves for misplaced units, a count event for missing ones."""
    return stocktake.approve(db, actor, code)


@router.post("/sell-through", status_code=201)
def sell_through(
    file: Annotated[
        UploadFile,
        File(
            description="CSV (UTF-8) or XLSX; by default ≤ 10 MB, "
            "≤ 50,000 rows (settings UNITRACE_UPLOAD_MAX_*)"
        ),
    ],
    db: DatabaseDep,
    actor: CurrentActor,
) -> dict[str, int]:
    """A distributor's sales: one row per unit sold (`serial`; `product`, `sold_at`, `region`,
    `customer` optional), recorded as `sell` events all or none; problems name line and column.
    A file over an upload limit is refused with 413 naming the limit."""
    limits = UploadLimits.from_env()
    content = file.file.read(limits.max_bytes + 1)  # one byte more tells that it is too large
    return sellthrough.record_file(db, actor, file.filename or "", content, limits)
