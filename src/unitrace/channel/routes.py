"""Channel API: shipments, inventory, diversion alerts."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from unitrace.api.deps import CurrentActor, DatabaseDep
from unitrace.channel import service
from unitrace.channel.service import ShipmentIn

router = APIRouter(tags=["channel"])


class AlertNote(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=4000)


@router.post("/shipments", status_code=201)
def create_shipment(body: ShipmentIn, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """Ship serials and ranges (`{"from": "SN000100", "to": "SN000299"}`) to a party: all or
    none; every unit not in stock is named."""
    return service.create_shipment(db, actor, body)


@router.get("/shipments")
def list_shipments(
    db: DatabaseDep, actor: CurrentActor, party: str | None = Query(default=None, max_length=40)
) -> list[dict[str, Any]]:
    return service.list_shipments(db, actor, party)


@router.get("/inventory")
def inventory(
    db: DatabaseDep,
    actor: CurrentActor,
    by: str = Query(default="product,location", description="product, lot, location, status"),
    product: str | None = Query(default=None, max_length=40),
    location: str | None = Query(default=None, max_length=40),
    status: str | None = Query(default=None, max_length=20, description="default in_stock"),
) -> dict[str, Any]:
    """Units counted by product, lot, location and status — the ledger's projection."""
    return service.inventory(db, actor, [b.strip() for b in by.split(",") if b.strip()],
                             product=product, location=location, status=status)  # fmt: skip


@router.get("/diversions")
def list_alerts(
    db: DatabaseDep,
    actor: CurrentActor,
    status: Literal["open", "acknowledged", "closed", "all"] = "open",
    party: str | None = Query(default=None, max_length=40, description="authorised distributor"),
    region: str | None = Query(default=None, max_length=20, description="region seen"),
) -> list[dict[str, Any]]:
    """Diversion (窜货) alerts: unit, authorised distributor, shipment, expected and seen region."""
    return service.list_alerts(db, actor, status=None if status == "all" else status,
                               party=party, region=region)  # fmt: skip


@router.post("/diversions/{alert_id}/ack")
def acknowledge(
    alert_id: int, body: AlertNote, db: DatabaseDep, actor: CurrentActor
) -> dict[str, Any]:
    return service.settle_alert(db, actor, _id(alert_id), "acknowledged", body.note)


@router.post("/diversions/{alert_id}/close")
def close(alert_id: int, body: AlertNote, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    return service.settle_alert(db, actor, _id(alert_id), "closed", body.note)


def _id(alert_id: int) -> int:
    from unitrace.core.errors import invalid

    if not 0 < alert_id < 2**62:
        raise invalid("alert_id", "not an alert id", alert_id)
    return alert_id
