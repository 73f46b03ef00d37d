"""After-sales API: warranty (included by `aftersales.routes`) — a unit's verdict, its
extensions and voids, and a product's overrides by region or channel party."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from unitrace.aftersales import warranty
from unitrace.aftersales.schemas import ExtensionIn, OverridesIn, UnvoidIn, VoidIn
from unitrace.api.deps import CurrentActor, DatabaseDep

router = APIRouter(tags=["after-sales"])


@router.get("/units/{serial}/warranty")
def unit_warranty(
    serial: str, db: DatabaseDep, actor: CurrentActor, product: str | None = None
) -> dict[str, Any]:
    """The unit's warranty: status (in_warranty, expired, not_started, void, none), start and
    end dates, the policy that applies, the event that started it, extensions and void."""
    return warranty.unit_warranty(db, actor, serial, product)


@router.post("/units/{serial}/warranty/extensions", status_code=201)
def extend(serial: str, data: ExtensionIn, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """Add months to the unit's warranty (bought or goodwill, with a reason); audited."""
    return warranty.extend(db, actor, serial, data)


@router.post("/units/{serial}/warranty/void")
def void(serial: str, data: VoidIn, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """Void the unit's warranty with a reason (tampering, misuse …); audited."""
    return warranty.void(db, actor, serial, data)


@router.post("/units/{serial}/warranty/unvoid")
def unvoid(serial: str, data: UnvoidIn, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """Lift the void (`warranty.unvoid`), with a reason; audited."""
    return warranty.unvoid(db, actor, serial, data)


@router.get("/products/{code}/warranty")
def product_warranty(code: str, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """The product's warranty policy and its overrides by region and channel party."""
    return warranty.policy(db, actor, code)


@router.put("/products/{code}/warranty")
def set_overrides(
    code: str, data: OverridesIn, db: DatabaseDep, actor: CurrentActor
) -> dict[str, Any]:
    """Replace the product's overrides (`{"overrides": [{"region"|"party", "months"}]}`)."""
    return warranty.set_overrides(db, actor, code, data)


@router.delete("/products/{code}/warranty")
def delete_override(
    code: str,
    db: DatabaseDep,
    actor: CurrentActor,
    region: str | None = None,
    party: str | None = None,
) -> dict[str, Any]:
    """Remove the override of `region` or `party` (neither: every override of the product)."""
    return warranty.delete_override(db, actor, code, region, party)
