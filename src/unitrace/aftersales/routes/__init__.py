"""After-sales API: the service desk here; warranty, service cases, claim checks, spare-part
requests and figures in their own modules of this package, included below."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from unitrace.aftersales import desk
from unitrace.aftersales.routes import cases, claims, figures, spares, warranty
from unitrace.api.deps import CurrentActor, DatabaseDep

router = APIRouter(tags=["after-sales"])


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


for area in (warranty, cases, claims, spares, figures):
    router.include_router(area.router)
