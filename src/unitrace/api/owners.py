"""Owners API (issue 16, verify/owners.py): a unit's buyer registration and owner history —
personal data: only with `owners.read`, every read audited."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from unitrace.api.deps import CurrentActor, DatabaseDep
from unitrace.verify import owners

router = APIRouter(tags=["verify"])


@router.get("/units/{serial}/owners")
def unit_owners(
    serial: str, db: DatabaseDep, actor: CurrentActor, product: str | None = None
) -> dict[str, Any]:
    """The unit's registration by its buyer (purchase date, region, the buyer's name, phone and
    email) and its owners (since, until; the current one has no until). Needs `owners.read`;
    the read is audited."""
    return owners.history(db, actor, serial, product)
