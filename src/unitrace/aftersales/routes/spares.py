"""After-sales API: spare-part requests, the warehouse's pick list (included by
`aftersales.routes`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from unitrace.aftersales import picking
from unitrace.aftersales.schemas import CancelIn, PickIn
from unitrace.api.deps import CurrentActor, DatabaseDep, Offset

router = APIRouter(tags=["after-sales"])


@router.get("/spare-requests")
def pick_list(
    db: DatabaseDep,
    actor: CurrentActor,
    status: Annotated[list[str] | None, Query()] = None,
    location: str | None = None,
    product: str | None = None,
    case: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """The warehouse's pick list, oldest first: `status` (one or more of open, fulfilled,
    cancelled, or all; default open), `location` (where the spares must go), `product`,
    `case`; each request with the spares picked so far and where the product is in stock."""
    return picking.pick_list(
        db, actor, status or ["open"], location, product, case, limit=limit, offset=offset
    )


@router.get("/spare-requests/{number}")
def get_request(number: str, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    return picking.get_request(db, actor, number)


@router.post("/spare-requests/{number}/pick")
def pick(number: str, data: PickIn, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """Scanned spares for the request: one `move` to its service location naming the request
    and its case; every problem at once, nothing written; 409 when the request is no longer
    open (another picker fulfilled it)."""
    return picking.pick(db, actor, number, data.serials)


@router.post("/spare-requests/{number}/cancel")
def cancel(number: str, data: CancelIn, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """Cancel an open request, with a reason (case history, audit trail)."""
    return picking.cancel(db, actor, number, data.reason)
