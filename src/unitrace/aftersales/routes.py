"""After-sales API: warranty, service cases, claim checks, spare-part requests, the service desk.

Each area of after-sales has its own section below."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from unitrace.aftersales import desk
from unitrace.api.deps import CurrentActor, DatabaseDep

router = APIRouter(tags=["after-sales"])


# --- the service desk ------------------------------------------------------------------------


@router.get("/service-desk/{serial}")
def service_desk(
    serial: str,
    db: DatabaseDep,
    actor: CurrentActor,
    product: str | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    """One look at a unit for a service agent: dossier, warranty verdict, the claim checks a
    warranty claim would meet, and its service cases."""
    return desk.answer(db, actor, serial, product, region)


# --- warranty --------------------------------------------------------------------------------


# --- service cases ---------------------------------------------------------------------------


# --- claim checks ----------------------------------------------------------------------------


# --- spare-part requests ---------------------------------------------------------------------


# --- figures ---------------------------------------------------------------------------------
