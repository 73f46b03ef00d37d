"""Service cases (售后工单): a unit's repair, return (RMA), maintenance, installation or
inspection, from opening to closing, with every step on the unit's ledger.

States: open → diagnosed → waiting_for_parts → in_repair → testing → closed (outcome resolved,
rejected or no_fault_found); each change is kept in `case_history` with who and when.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from unitrace.core.errors import InvalidTransition, NotFound
from unitrace.db.tables import case_history, service_cases

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
