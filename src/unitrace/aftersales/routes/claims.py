"""After-sales API: claim checks — the dry run, the rules that say which checks refuse, and
stolen reports (included by `aftersales.routes`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from unitrace.aftersales import claims
from unitrace.aftersales.schemas import ClaimCheckIn, ClaimRuleIn, StolenIn
from unitrace.api.deps import CurrentActor, DatabaseDep

router = APIRouter(tags=["after-sales"])


@router.post("/claims/check")
def check_claim(data: ClaimCheckIn, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """Every check a warranty claim for the unit would meet now (`result`: the worst of them);
    nothing is written. A serial the actor may not see answers as one we never made."""
    return claims.dry_run(db, actor, data)


@router.get("/claim-rules")
def claim_rules(db: DatabaseDep, actor: CurrentActor, product: str | None = None) -> dict[str, Any]:
    """The rule of every check (for `product`, or for all products) and the rules set."""
    return claims.rules(db, actor, product)


@router.put("/claim-rules")
def set_claim_rule(data: ClaimRuleIn, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """Set what a check does (`refuse`, `flag`, `off`; `inherit` removes the rule), for one
    product or for all. Audited."""
    return claims.set_rule(db, actor, data)


@router.post("/units/{serial}/stolen", status_code=201)
def report_stolen(
    serial: str, db: DatabaseDep, actor: CurrentActor, data: StolenIn | None = None
) -> dict[str, Any]:
    """Report the unit stolen: warranty claims for it are refused until cleared. Audited."""
    return claims.report_stolen(db, actor, serial, data or StolenIn())


@router.post("/units/{serial}/stolen/clear")
def clear_stolen(
    serial: str, db: DatabaseDep, actor: CurrentActor, data: StolenIn | None = None
) -> dict[str, Any]:
    """Clear the unit's stolen report (`warranty.manage`). Audited."""
    return claims.clear_stolen(db, actor, serial, data or StolenIn())
