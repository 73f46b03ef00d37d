"""Service cases (售后工单): a unit's repair, return (RMA), maintenance, installation or
inspection, from opening to closing, with every step on the unit's ledger.

States: open → diagnosed → waiting_for_parts → in_repair → testing → closed (outcome resolved,
rejected or no_fault_found); each change is kept in `case_history` with who and when.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from unitrace.access import audit
from unitrace.access.principal import Actor
from unitrace.aftersales import claims, spares
from unitrace.aftersales.schemas import CaseIn, DiagnosisIn
from unitrace.core.errors import FieldError, InvalidTransition, NotFound, UnitraceError, report
from unitrace.db.engine import Database
from unitrace.db.tables import case_history, products, service_cases, service_codes
from unitrace.ledger.queries import find_unit
from unitrace.ledger.scope import named_location, named_party

KINDS = ("repair", "return", "maintenance", "installation", "inspection")
STATES = ("open", "diagnosed", "waiting_for_parts", "in_repair", "testing", "closed")
OUTCOMES = ("resolved", "rejected", "no_fault_found")
# where each state may go next; any open state may close (rejected, no fault found …)
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"diagnosed", "closed"}),
    "diagnosed": frozenset({"waiting_for_parts", "in_repair", "testing", "closed"}),
    "waiting_for_parts": frozenset({"in_repair", "closed"}),
    "in_repair": frozenset({"waiting_for_parts", "testing", "closed"}),
    "testing": frozenset({"in_repair", "closed"}),
    "closed": frozenset(),
}


def case_row(conn: Connection, number: str) -> Any:
    row = conn.execute(select(service_cases).where(service_cases.c.number == number)).first()
    if row is None:
        raise NotFound(f"no service case {number!r}")
    return row


def move(conn: Connection, case_id: int, to: str, by: str, at: datetime, note: str = "") -> None:
    """Move a case to state `to` (the machine above), keeping who and when in its history."""
    row = conn.execute(
        select(service_cases.c.state, service_cases.c.number).where(service_cases.c.id == case_id)
    ).one()
    case, state = row.number, row.state
    if to not in TRANSITIONS[state]:
        allowed = ", ".join(sorted(TRANSITIONS[state])) or "nothing"
        raise InvalidTransition(f"case {case} is {state}; it may go to {allowed}, not {to}")
    changed = conn.execute(
        update(service_cases)
        .where(service_cases.c.id == case_id, service_cases.c.state == state)
        .values(state=to, updated_at=at, **({"closed_at": at} if to == "closed" else {}))
    ).rowcount
    if changed != 1:  # another writer moved it first
        raise InvalidTransition(f"case {case} changed meanwhile; look again")
    conn.execute(
        insert(case_history).values(
            case_id=case_id, at=at, by=by, kind="state", from_state=state, to_state=to,
            text=note,
        )
    )  # fmt: skip


def for_unit(conn: Connection, unit_id: int) -> list[dict[str, Any]]:
    """The unit's service cases, newest first (the service desk, the dossier)."""
    rows = conn.execute(
        select(service_cases)
        .where(service_cases.c.unit_id == unit_id)
        .order_by(service_cases.c.opened_at.desc(), service_cases.c.id.desc())
    ).all()
    return [
        {
            "number": r.number,
            "kind": r.kind,
            "state": r.state,
            "outcome": r.outcome,
            "warranty_claim": r.warranty_claim,
            "opened_at": r.opened_at.isoformat(),
            "closed_at": r.closed_at.isoformat() if r.closed_at else None,
        }
        for r in rows
    ]


def _number(case_id: int) -> str:
    return f"SC-{case_id:06d}"


def summary(row: Any) -> dict[str, Any]:
    return {
        "number": row.number,
        "kind": row.kind,
        "state": row.state,
        "outcome": row.outcome,
        "warranty_claim": row.warranty_claim,
        "checks": row.checks,
        "override_reason": row.override_reason,
        "opened_at": row.opened_at.isoformat(),
        "opened_by": row.opened_by,
    }


def _code_problem(
    conn: Connection, problems: list[FieldError], field: str, code: str | None, kind: str
) -> None:
    if code is None:
        return
    found = conn.execute(
        select(service_codes.c.kind, service_codes.c.active).where(service_codes.c.code == code)
    ).first()
    if found is None or found.kind != kind or not found.active:
        if kind == "symptom":
            problems.append(FieldError(field, f"no symptom code {code!r}", code))
        else:
            problems.append(FieldError(field, f"no defect code {code!r}", code))


def _collect(problems: list[FieldError], field: str, lookup: Any) -> Any:
    """The value of a lookup, or None with its problems kept (every problem is told at once)."""
    try:
        return lookup()
    except UnitraceError as error:
        problems.extend(error.errors or [FieldError(field, error.detail)])
        return None


def open_case(db: Database, actor: Actor, data: CaseIn) -> dict[str, Any]:
    """Open a case for a unit the actor may see. A warranty claim meets the claim checks
    (`claims.judge`): a refusal is answered with every check, and nothing is written."""
    actor.require("service.write")
    now = datetime.now(UTC)
    with db.write() as conn:
        unit = find_unit(conn, actor, data.serial, data.product)
        problems: list[FieldError] = []
        _code_problem(conn, problems, "symptom_code", data.symptom_code, "symptom")
        reporter = location = None
        if data.reporter_party is not None:
            party = data.reporter_party
            reporter = _collect(
                problems,
                "reporter_party",
                lambda: named_party(conn, actor, party, "reporter_party"),
            )
        if data.location is not None:
            place = data.location
            location = _collect(
                problems, "location", lambda: named_location(conn, actor, place, "location")
            )
        if problems:
            raise report("the case cannot be opened", problems)
        checks: list[claims.Check] = []
        if data.warranty_claim:
            claim = claims.Claim(unit.serial, unit.product_code, data.region)
            checks = claims.judge(conn, actor, claim, data.override_reason)
        case_id = conn.execute(
            insert(service_cases)
            .values(
                number=f"new-{now.timestamp()}-{actor.username}"[:20],
                unit_id=unit.id,
                kind=data.kind,
                state="open",
                warranty_claim=data.warranty_claim,
                checks=[c.as_dict() for c in checks],
                override_reason=data.override_reason if claims.refused(checks) else None,
                override_by=actor.username if claims.refused(checks) else None,
                reporter_party_id=reporter,
                reporter_contact=data.reporter_contact,
                symptom_code=data.symptom_code,
                description=data.description,
                region=data.region,
                location_id=location,
                party_id=actor.party_id if actor.is_partner else None,
                opened_at=now,
                opened_by=actor.username,
                updated_at=now,
            )
            .returning(service_cases.c.id)
        ).scalar_one()
        number = _number(case_id)
        conn.execute(
            update(service_cases).where(service_cases.c.id == case_id).values(number=number)
        )
        conn.execute(
            insert(case_history).values(
                case_id=case_id, at=now, by=actor.username, kind="state", to_state="open",
                text=data.description,
            )
        )  # fmt: skip
        row = case_row(conn, number)
        audit.append(
            conn, actor, "create", "case", number, None, summary(row) | {"serial": unit.serial}
        )
    return summary(row) | {"serial": unit.serial, "product": unit.product_code}


def diagnose(db: Database, actor: Actor, number: str, data: DiagnosisIn) -> dict[str, Any]:
    """Record the diagnosis: the defect code, the components found in the unit (checked
    against its genealogy) and the parts the repair needs. Parts the service location does not
    have become spare-part requests, and the case waits for them."""
    actor.require("service.write")
    now = datetime.now(UTC)
    with db.write() as conn:
        case = _visible_case(conn, actor, number)
        problems: list[FieldError] = []
        _code_problem(conn, problems, "defect_code", data.defect_code, "defect")
        needs: list[tuple[int, int]] = []
        for index, need in enumerate(data.parts_needed):
            product_id = conn.execute(
                select(products.c.id).where(products.c.code == need.product)
            ).scalar()
            if product_id is None:
                code = need.product
                problems.append(
                    FieldError(f"parts_needed.{index}.product", f"no product {code!r}", code)
                )
            else:
                needs.append((product_id, need.quantity))
        if needs and case.location_id is None:
            problems.append(
                FieldError("parts_needed", "the case has no service location to send parts to")
            )
        if problems:
            raise report("the diagnosis cannot be recorded", problems)
        move(conn, case.id, "diagnosed", actor.username, now, data.note)
        values: dict[str, Any] = {"updated_at": now}
        if data.defect_code is not None:
            values["defect_code"] = data.defect_code
        conn.execute(update(service_cases).where(service_cases.c.id == case.id).values(values))
        found = None
        if data.found_components is not None:
            found = claims.genealogy_check(conn, case.unit_id, data.found_components)
            conn.execute(
                insert(case_history).values(
                    case_id=case.id, at=now, by=actor.username, kind="check",
                    text=found.reason,
                )
            )  # fmt: skip
        requests = (
            spares.request_missing(conn, case.id, case.location_id, needs, now) if needs else []
        )
        if requests:
            move(conn, case.id, "waiting_for_parts", "system", now, "spare parts requested")
        row = case_row(conn, number)
        audit.append(
            conn,
            actor,
            "diagnose",
            "case",
            number,
            None,
            {"defect_code": data.defect_code, "requests": requests},
        )
    return summary(row) | {
        "components": found.as_dict() if found else None,
        "spare_requests": requests,
    }


def _visible_case(conn: Connection, actor: Actor, number: str) -> Any:
    """The case, when the actor may see its unit (a partner: units in its scope); any other
    number is answered as unknown."""
    row = conn.execute(select(service_cases).where(service_cases.c.number == number)).first()
    if row is None or (actor.is_partner and row.party_id != actor.party_id):
        raise NotFound(f"no service case {number!r}")
    return row
