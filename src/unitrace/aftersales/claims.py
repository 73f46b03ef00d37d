"""Claim checks: run on every case opened as a warranty claim, and on the service desk.

Each check answers pass, flag or refuse with a reason an agent can read; all are shown
together. Which checks refuse and which only flag is set per product or for all
(`claim_rules`); an authorised role (`claim.override`) may open a refused claim with a reason.

    Check(name="warranty", result="refuse", reason="warranty expired on 2026-10-01", link=None)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal

from sqlalchemy import Connection, func, select

from unitrace.access import audit
from unitrace.access.principal import Actor
from unitrace.aftersales import warranty
from unitrace.core.errors import Conflict, FieldError
from unitrace.db.tables import products, service_cases, units

Result = Literal["pass", "flag", "refuse"]
OPEN_STATES = ("open", "diagnosed", "waiting_for_parts", "in_repair", "testing")


@dataclass(frozen=True)
class Check:
    name: str
    result: Result
    reason: str
    link: dict[str, Any] | None = field(default=None)  # what the check found: an alert, a case

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Claim:
    """What a claim is about: the serial as given (and its product when ambiguous), the region
    the claim comes from, and the component serials a technician found in the unit."""

    serial: str
    product: str | None = None
    region: str | None = None
    found_components: tuple[str, ...] | None = None
    on: date | None = None


def _unit(conn: Connection, claim: Claim) -> Any:
    query = select(units.c.id, units.c.status, units.c.product_id).where(
        units.c.serial == claim.serial
    )
    if claim.product is not None:
        query = query.join(products, products.c.id == units.c.product_id).where(
            products.c.code == claim.product
        )
    return conn.execute(query.limit(2)).all()


def unknown(serial: str) -> Check:
    return Check(
        "unknown_serial", "refuse", f"serial {serial!r} was never made by us: possibly counterfeit"
    )


def evaluate_unknown(serial: str) -> list[dict[str, Any]]:
    """The checks of a serial that is not ours (or not the actor's to see)."""
    return [unknown(serial).as_dict()]


def evaluate(conn: Connection, claim: Claim) -> list[Check]:
    """Every check of a warranty claim, in a fixed order (read only). The caller has found the
    unit in the actor's scope; a serial it could not find is `evaluate_unknown`."""
    found = _unit(conn, claim)
    if not found:
        return [unknown(claim.serial)]
    if len(found) > 1:
        serial = claim.serial
        reason = f"serial {serial!r} is used by more than one product; name the product"
        return [Check("unknown_serial", "refuse", reason)]
    unit = found[0]
    checks = [Check("unknown_serial", "pass", "the serial is ours")]
    verdict = warranty.verdict(conn, unit.id, claim.on)
    status, end = verdict["status"], verdict["end_date"]
    if status == "in_warranty":
        checks.append(Check("warranty", "pass", f"in warranty until {end}"))
    elif status == "expired":
        checks.append(Check("warranty", "refuse", f"warranty expired on {end}"))
    elif status == "void":
        why = verdict["void"]["reason"]
        checks.append(Check("warranty", "refuse", f"warranty void: {why}"))
    elif status == "not_started":
        checks.append(Check("warranty", "refuse", "warranty has not started"))
    else:
        checks.append(Check("warranty", "refuse", "the product has no warranty"))
    open_case = conn.execute(
        select(service_cases.c.number)
        .where(
            service_cases.c.unit_id == unit.id,
            service_cases.c.state.in_(OPEN_STATES),
            service_cases.c.warranty_claim.is_(True),
        )
        .order_by(service_cases.c.id)
        .limit(1)
    ).scalar()
    if open_case is not None:
        checks.append(
            Check("open_case", "refuse", f"case {open_case} is already open for this unit",
                  {"case": open_case})
        )  # fmt: skip
    else:
        checks.append(Check("open_case", "pass", "no other open claim"))
    return checks


def refused(checks: list[Check]) -> list[Check]:
    return [c for c in checks if c.result == "refuse"]


def claims_in(conn: Connection, unit_id: int) -> int:
    """How many warranty claims the unit has had (any state)."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(service_cases)
            .where(service_cases.c.unit_id == unit_id, service_cases.c.warranty_claim.is_(True))
        ).scalar_one()
    )


class ClaimRefused(Conflict):
    """A warranty claim that a check refuses: every check is in `checks`, the refusing ones
    also in the errors (field `checks.NAME`)."""

    checks: list[Check]


def refusal(checks: list[Check]) -> ClaimRefused:
    refusing = refused(checks)
    error = ClaimRefused(
        "the warranty claim is refused: " + "; ".join(c.reason for c in refusing),
        [FieldError(f"checks.{c.name}", c.reason) for c in refusing],
    )
    error.checks = checks
    return error


def judge(
    conn: Connection,
    actor: Actor,
    claim: Claim,
    override_reason: str | None = None,
    case_number: str | None = None,
) -> list[Check]:
    """The checks of a claim being opened. A refusal raises `ClaimRefused`, unless the actor
    may override (`claim.override`) and gives a reason: then the override is audited (on the
    case, when its number is known) and the checks are returned as they are."""
    checks = evaluate(conn, claim)
    refusing = refused(checks)
    if not refusing:
        return checks
    if not override_reason or not override_reason.strip():
        raise refusal(checks)
    actor.require("claim.override")
    audit.append(
        conn,
        actor,
        "override",
        "claim",
        case_number or claim.serial,
        before={"refused": [c.as_dict() for c in refusing]},
        after={"reason": override_reason.strip()},
    )
    return checks


def genealogy_check(conn: Connection, unit_id: int, found: list[str]) -> Check:
    """The component serials a technician finds in the unit against its genealogy: which are
    missing and which are not the unit's (parts swapped)."""
    installed = set(
        conn.execute(select(units.c.serial).where(units.c.parent_id == unit_id)).scalars()
    )
    given = {s.strip() for s in found if s.strip()}
    missing, foreign = sorted(installed - given), sorted(given - installed)
    if not missing and not foreign:
        return Check("components", "pass", "the components found are the unit's")
    absent, strange = ", ".join(missing) or "-", ", ".join(foreign) or "-"
    return Check(
        "components",
        "flag",
        f"parts swapped: missing from the unit {absent}; not the unit's own {strange}",
        {"missing": missing, "foreign": foreign},
    )
