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
from unitrace.aftersales.schemas import CaseIn, CaseStepIn, ConsumedIn, DiagnosisIn, PartIn, StateIn
from unitrace.catalog.service import lot_id, product_row
from unitrace.core import signals
from unitrace.core.errors import (
    Conflict,
    FieldError,
    InvalidTransition,
    NotFound,
    UnitraceError,
    invalid,
    report,
)
from unitrace.core.lifecycle import Status
from unitrace.db.engine import Database
from unitrace.db.tables import (
    case_history,
    case_parts,
    locations,
    parties,
    products,
    service_cases,
    service_codes,
    units,
)
from unitrace.ledger.pipeline import record_in
from unitrace.ledger.queries import find_unit
from unitrace.ledger.schemas import BizTransaction, EventIn, LotUseIn, UnitRef
from unitrace.ledger.scope import named_location, named_party
from unitrace.ledger.write import Recorded

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
            case_id=case_id,
            at=at,
            by=by,
            kind="state",
            from_state=state,
            to_state=to,
            text=note,
        )
    )


def visible(actor: Actor) -> Any:
    """The cases an actor may see: a partner only those its party opened."""
    if actor.is_partner:
        return service_cases.c.party_id == actor.party_id
    return service_cases.c.id.is_not(None)


def for_unit(conn: Connection, actor: Actor, unit_id: int) -> list[dict[str, Any]]:
    """The unit's service cases the actor may see, newest first (the service desk)."""
    rows = conn.execute(
        select(service_cases)
        .where(service_cases.c.unit_id == unit_id, visible(actor))
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
        # two claims for one unit at the same instant: the second waits here until the first
        # is written, and its open-case check then sees it (SQLite writes one at a time)
        conn.execute(select(units.c.id).where(units.c.id == unit.id).with_for_update())
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
                case_id=case_id,
                at=now,
                by=actor.username,
                kind="state",
                to_state="open",
                text=data.description,
            )
        )
        row = case_row(conn, number)
        audit.append(
            conn, actor, "create", "case", number, None, summary(row) | {"serial": unit.serial}
        )
        if data.warranty_claim:  # webhooks hear of warranty claims
            signals.emit(conn, "claim", {"id": number, "unit_id": unit.id, "region": data.region})
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
                    case_id=case.id,
                    at=now,
                    by=actor.username,
                    kind="check",
                    text=found.reason,
                )
            )
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
    row = conn.execute(
        select(service_cases).where(service_cases.c.number == number, visible(actor))
    ).first()
    if row is None:
        raise NotFound(f"no service case {number!r}")
    return row


def visible_case(conn: Connection, actor: Actor, number: str) -> Any:
    """The case by its number when the actor may see it (a partner: the cases its party
    opened); any other number is answered as unknown, word for word."""
    return _visible_case(conn, actor, number)


# --- the lifecycle after opening: state changes, steps on the ledger, parts -------------------

# the business transaction that links a step's ledger events to its case (CBV `rma`: the
# case number is the return/repair authorisation; `steps.CaseLink` writes the history row)
BIZ_TYPE = "rma"


def link(number: str) -> list[BizTransaction]:
    return [BizTransaction(type=BIZ_TYPE, id=number)]


def change_state(db: Database, actor: Actor, number: str, data: StateIn) -> dict[str, Any]:
    """Move a case on (the machine in `TRANSITIONS`); closing names its outcome. Two agents
    moving one case: the first wins, the other is answered 409 (the guarded update of `move`,
    or `from_state` when the client says which state it saw)."""
    actor.require("service.write")
    problems: list[FieldError] = []
    if data.to == "closed" and data.outcome is None:
        problems.append(
            FieldError(
                "outcome", "closing a case needs its outcome: resolved, rejected or no_fault_found"
            )
        )
    if data.to != "closed" and data.outcome is not None:
        problems.append(FieldError("outcome", "only a closed case has an outcome", data.outcome))
    if problems:
        raise report("the case's state cannot be changed", problems)
    now = datetime.now(UTC)
    with db.write() as conn:
        case = _visible_case(conn, actor, number)
        if data.from_state is not None and case.state != data.from_state:
            state, seen = case.state, data.from_state
            raise Conflict(f"case {number} is {state} now, not {seen}: it changed meanwhile")
        move(conn, case.id, data.to, actor.username, now, data.note)
        cancelled: list[str] = []
        if data.to == "closed":
            conn.execute(
                update(service_cases)
                .where(service_cases.c.id == case.id)
                .values(outcome=data.outcome)
            )
            cancelled = spares.cancel_open(conn, case.id, now)
            if cancelled:
                text = f"{', '.join(cancelled)} cancelled: the case was closed"
                conn.execute(
                    insert(case_history).values(
                        case_id=case.id, at=now, by=actor.username, kind="spare", text=text
                    )
                )
        row = case_row(conn, number)
        after = {"state": row.state, "outcome": row.outcome, "note": data.note}
        audit.append(
            conn,
            actor,
            "update",
            "case",
            number,
            {"state": case.state},
            after | ({"cancelled_requests": cancelled} if cancelled else {}),
        )
    return summary(row) | {"closed_at": row.closed_at.isoformat() if row.closed_at else None}


def _open_case_of(conn: Connection, actor: Actor, number: str) -> Any:
    case = _visible_case(conn, actor, number)
    if case.state == "closed":
        raise InvalidTransition(
            f"case {number} is closed; nothing more is recorded on it",
            [FieldError("number", "the case is closed", number)],
        )
    return case


def _case_unit(conn: Connection, case: Any) -> Any:
    return conn.execute(
        select(
            units.c.id,
            units.c.serial,
            units.c.status,
            units.c.location_id,
            products.c.code.label("product_code"),
        )
        .join(products, products.c.id == units.c.product_id)
        .where(units.c.id == case.unit_id)
    ).one()


def _code_of(conn: Connection, table: Any, row_id: int | None) -> str | None:
    if row_id is None:
        return None
    return conn.execute(select(table.c.code).where(table.c.id == row_id)).scalar()


def _step_events(
    conn: Connection, actor: Actor, case: Any, unit: Any, data: CaseStepIn
) -> list[EventIn]:
    """The ledger events of one step (a ship back of a returned unit: receive, then ship)."""
    me = [UnitRef(serial=unit.serial, product=unit.product_code)]
    number = case.number
    note: dict[str, Any] = {"case": number, "action": data.action}
    if data.note:
        note["note"] = data.note
    common: dict[str, Any] = {"units": me, "biz_transactions": link(number)}
    problems: list[FieldError] = []
    if data.action != "inspect" and data.result is not None:
        problems.append(FieldError("result", "only an inspect step has a test result"))
    if data.action not in ("receive_return", "ship_back") and data.location is not None:
        problems.append(FieldError("location", f"a {data.action} step takes no location"))
    if data.action != "ship_back" and data.party is not None:
        problems.append(FieldError("party", "only a ship_back step goes to a party"))
    service_location = None if actor.is_partner else _code_of(conn, locations, case.location_id)
    made: list[EventIn] = []
    if data.action == "receive_return":
        where = data.location or service_location
        if where is None and not actor.is_partner:
            problems.append(
                FieldError(
                    "location",
                    "name the location the unit comes back to: the case has no service location",
                )
            )
        made.append(EventIn(type="return", location=where, data=data.data | note, **common))
    elif data.action == "repair":
        made.append(EventIn(type="repair", data=data.data | note, **common))
    elif data.action == "inspect":
        if data.result is None:
            problems.append(
                FieldError("result", "an inspect step needs the test result: pass or fail")
            )
        made.append(
            EventIn(type="inspect", data=data.data | note | {"result": data.result}, **common)
        )
    else:  # ship_back
        party = data.party or _code_of(conn, parties, case.reporter_party_id)
        if party is None:
            problems.append(
                FieldError(
                    "party", "name the party the unit goes back to: the case has no reporter party"
                )
            )
        if unit.status == Status.RETURNED:  # back in our stock before it may ship
            where = data.location or _code_of(conn, locations, unit.location_id) or service_location
            if where is None:
                problems.append(
                    FieldError("location", "name the location the returned unit is shipped from")
                )
            restock = note | {"action": "ship_back", "restock": True}
            made.append(EventIn(type="receive", location=where, data=restock, **common))
        made.append(EventIn(type="ship", party=party, data=data.data | note, **common))
    if problems:
        raise report(f"the {data.action} step cannot be recorded", problems)
    if data.event_id is not None:
        last = made[-1]
        made[-1] = last.model_copy(update={"event_id": data.event_id})
        for i, event in enumerate(made[:-1]):
            made[i] = event.model_copy(update={"event_id": f"{data.event_id}.{event.type}"})
    return made


def record_step(db: Database, actor: Actor, number: str, data: CaseStepIn) -> dict[str, Any]:
    """Record one physical step of a case on the unit's ledger, through the one write path,
    linked to the case (`biz_transactions` rma = the case number; the case's history gets a
    row naming each event). Refused as the ledger refuses it: a unit not in a state the step
    may start from, an event type the actor's role may not record."""
    actor.require("service.write")
    with db.write() as conn:
        case = _open_case_of(conn, actor, number)
        unit = _case_unit(conn, case)
        recorded = [
            record_in(conn, actor, event) for event in _step_events(conn, actor, case, unit, data)
        ]
        conn.execute(
            update(service_cases)
            .where(service_cases.c.id == case.id)
            .values(updated_at=datetime.now(UTC))
        )
        row = case_row(conn, number)
    return summary(row) | {
        "action": data.action,
        "serial": unit.serial,
        "events": [r.public() for r in recorded],
    }


def _returns_location(conn: Connection, actor: Actor, code: str | None) -> Any:
    """The location a removed part goes to: the one named (of kind returns), else the only
    returns location there is."""
    if code is not None:
        found = named_location(conn, actor, code, "returns_location")
        kind = conn.execute(select(locations.c.kind).where(locations.c.id == found)).scalar()
        if kind != "returns":
            raise invalid("returns_location", f"{code} is a {kind} location, not returns", code)
        return code
    codes = list(
        conn.execute(
            select(locations.c.code).where(locations.c.kind == "returns").limit(2)
        ).scalars()
    )
    if not codes:
        raise invalid("returns_location", "there is no returns location to send the part to")
    if len(codes) > 1:
        raise invalid("returns_location", "name the returns location the part goes to")
    return codes[0]


def _part(
    conn: Connection,
    actor: Actor,
    problems: list[FieldError],
    field: str,
    serial: str,
    product: str | None,
) -> Any:
    """A part named by serial (in the actor's scope), or None with its problem kept under
    `field` (a serial that is not there reads as unknown)."""
    try:
        return find_unit(conn, actor, serial, product)
    except NotFound:
        problems.append(FieldError(field, "unknown serial", serial))
    except UnitraceError as error:
        problems.extend(FieldError(f"{field}_product", e.message, e.value) for e in error.errors)
    return None


def _consumables(
    conn: Connection, problems: list[FieldError], consumed: list[ConsumedIn]
) -> list[tuple[int, int, int]]:
    """(product id, lot id, quantity) of the consumables named, their problems kept."""
    out = []
    for index, use in enumerate(consumed):
        field = f"consumed.{index}"
        product = _collect(
            problems,
            f"{field}.product",
            lambda u=use, f=field: product_row(conn, u.product, f"{f}.product"),
        )
        if product is None:
            continue
        lot = _collect(
            problems,
            f"{field}.lot",
            lambda u=use, p=product, f=field: lot_id(conn, p.id, u.lot, f"{f}.lot"),
        )
        if lot is not None:
            out.append((int(product.id), int(lot), use.quantity))
    return out


def replace_part(db: Database, actor: Actor, number: str, data: PartIn) -> dict[str, Any]:
    """A part replaced in a case: one `replace_part` event (the old component out of the unit,
    the new one in, consumables by lot and quantity), then the old part moved to a returns
    location where it stays `returned` (its own status), and a `case_parts` row for each.
    Consumables used without a replacement are one `repair` event naming them."""
    actor.require("service.write")
    with db.write() as conn:
        case = _open_case_of(conn, actor, number)
        unit = _case_unit(conn, case)
        problems: list[FieldError] = []
        removed = installed = returns = None
        if data.removed is not None and data.installed is not None:
            old, new = data.removed, data.installed
            removed = _part(conn, actor, problems, "removed", old, data.removed_product)
            installed = _part(conn, actor, problems, "installed", new, data.installed_product)
            if removed is not None and removed.parent_id != unit.id:
                problems.append(
                    FieldError("removed", f"{old} is not installed in {unit.serial}", old)
                )
            if installed is not None and removed is not None and installed.id == removed.id:
                problems.append(FieldError("installed", "the part put in is the one taken out"))
            code = data.returns_location
            returns = _collect(
                problems, "returns_location", lambda: _returns_location(conn, actor, code)
            )
        used = _consumables(conn, problems, data.consumed)
        if problems:
            raise report("the part cannot be replaced", problems)
        parent = UnitRef(serial=unit.serial, product=unit.product_code)
        note = {"case": number, "action": "replace_part"} | (
            {"reason": data.reason} if data.reason else {}
        )
        lots = [LotUseIn(product=c.product, lot=c.lot, quantity=c.quantity) for c in data.consumed]
        rows: list[dict[str, Any]] = []
        events: list[Recorded] = []
        if removed is not None and installed is not None:
            replaced = record_in(
                conn,
                actor,
                EventIn(
                    type="replace_part",
                    units=[UnitRef(serial=installed.serial, product=installed.product_code)],
                    parent=parent,
                    removed=[UnitRef(serial=removed.serial, product=removed.product_code)],
                    consumed=lots,
                    biz_transactions=link(number),
                    data=note,
                ),
            )
            events.append(replaced)
            rows.append(
                {
                    "event_id": replaced.id,
                    "product_id": removed.product_id,
                    "removed_unit_id": removed.id,
                    "installed_unit_id": installed.id,
                    "quantity": 1,
                    "reason": data.reason,
                }
            )
            part = UnitRef(serial=removed.serial, product=removed.product_code)
            events.append(
                record_in(
                    conn,
                    actor,
                    EventIn(
                        type="move",
                        units=[part],
                        location=returns,
                        biz_transactions=link(number),
                        data={"case": number, "action": "removed_part", "reason": data.reason},
                    ),
                )
            )
        else:
            events.append(
                record_in(
                    conn,
                    actor,
                    EventIn(
                        type="repair",
                        units=[parent],
                        biz_transactions=link(number),
                        data=note | {"consumed": [c.model_dump() for c in data.consumed]},
                    ),
                )
            )
        rows += [
            {
                "event_id": events[0].id,
                "product_id": product_id,
                "lot_id": lot,
                "quantity": quantity,
                "reason": data.reason,
            }
            for product_id, lot, quantity in used
        ]
        blank = {"removed_unit_id": None, "installed_unit_id": None, "lot_id": None}
        conn.execute(insert(case_parts), [{"case_id": case.id} | blank | r for r in rows])
        now = datetime.now(UTC)
        conn.execute(
            update(service_cases).where(service_cases.c.id == case.id).values(updated_at=now)
        )
        audit.append(
            conn,
            actor,
            "replace_part",
            "case",
            number,
            None,
            {
                "removed": data.removed,
                "installed": data.installed,
                "reason": data.reason,
                "returns_location": returns,
                "consumed": [c.model_dump() for c in data.consumed],
            },
        )
        row = case_row(conn, number)
    return summary(row) | {
        "removed": data.removed,
        "installed": data.installed,
        "returns_location": returns,
        "consumed": [c.model_dump() for c in data.consumed],
        "events": [e.public() for e in events],
    }
