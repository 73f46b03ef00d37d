"""A service case after opening: state changes with who and when, every physical step on the
unit's ledger linked to the case, part replacement that keeps the trace true, partner scope on
every write, and two agents moving one case."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.clients import Api, assert_problem
from tests.factories import make_location, make_lot, make_party, make_product, make_units, record
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM, Actor
from unitrace.aftersales import cases, claims
from unitrace.aftersales.schemas import CaseIn, StateIn
from unitrace.core.errors import Conflict, InvalidTransition
from unitrace.db.engine import Database
from unitrace.db.tables import case_history, case_parts, lot_uses, service_cases, units
from unitrace.ledger import queries
from unitrace.ledger.replay import verify_ledger
from unitrace.production import trace
from unitrace.production.schemas import TraceQuery

PASSWORD = "correct horse battery"


def _world(db: Database) -> str:
    """A sold unit AC1 with board PCB-1 inside, a spare board PCB-2 at the service location
    SVC1, a returns location RET1, a distributor D-EAST; the unit's serial."""
    make_product(db, warranty_months=24, warranty_start="sale")
    make_product(db, "PCB", rule=None)
    make_product(db, "GLUE", rule=None, tracking="lot")
    make_lot(db, "GLUE", "G1")
    make_location(db)
    make_location(db, "SVC1", kind="service")
    make_location(db, "RET1", kind="returns")
    make_party(db)
    made = datetime.now(UTC) - timedelta(days=60)
    serial = make_units(db, count=1, event_time=made)[0]
    make_units(db, "PCB", count=None, serials=["PCB-1"], event_time=made)
    make_units(db, "PCB", count=None, serials=["PCB-2"], event_time=made)
    record(db, type="receive", product="PCB", serials=["PCB-1"], location="WH1", event_time=made)
    record(db, type="receive", product="PCB", serials=["PCB-2"], location="SVC1", event_time=made)
    record(db, type="receive", serials=[serial], location="WH1", event_time=made)
    parent = {"serial": serial, "product": "AC1"}
    record(db, type="assemble", product="PCB", serials=["PCB-1"], parent=parent, event_time=made)
    record(db, type="ship", serials=[serial], party="D-EAST", event_time=made)
    record(db, type="deliver", serials=[serial], event_time=made)
    record(db, type="sell", serials=[serial], event_time=made + timedelta(days=1))
    return serial


def _open(api: Api, serial: str, **extra: Any) -> str:
    body = {"serial": serial, "location": "SVC1", "reporter_party": "D-EAST", **extra}
    answer = api.post("/cases", body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["number"])


def _history(db: Database, number: str) -> list[Any]:
    with db.read() as conn:
        return list(
            conn.execute(
                select(case_history)
                .join(service_cases, service_cases.c.id == case_history.c.case_id)
                .where(service_cases.c.number == number)
                .order_by(case_history.c.id)
            ).all()
        )


def _state(db: Database, number: str) -> str:
    with db.read() as conn:
        return str(cases.case_row(conn, number).state)


# --- states ------------------------------------------------------------------------------------


def test_a_case_goes_through_its_states_with_who_and_when_and_closes_with_an_outcome(
    db: Database, api: Api
) -> None:
    number = _open(api, _world(db))
    for to in ("diagnosed", "in_repair", "testing"):
        answer = api.post(f"/cases/{number}/state", {"to": to, "note": f"now {to}"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["state"] == to

    closed = api.post(f"/cases/{number}/state", {"to": "closed", "outcome": "resolved"})

    assert closed.status_code == 200, closed.text
    assert (closed.json()["state"], closed.json()["outcome"]) == ("closed", "resolved")
    assert closed.json()["closed_at"]
    moves = [(h.from_state, h.to_state, h.by) for h in _history(db, number) if h.kind == "state"]
    assert moves == [
        (None, "open", "alice"),
        ("open", "diagnosed", "alice"),
        ("diagnosed", "in_repair", "alice"),
        ("in_repair", "testing", "alice"),
        ("testing", "closed", "alice"),
    ]
    assert all(h.at is not None for h in _history(db, number))


def test_closing_needs_an_outcome_and_only_closing_takes_one(db: Database, api: Api) -> None:
    number = _open(api, _world(db))

    no_outcome = api.post(f"/cases/{number}/state", {"to": "closed"})
    early = api.post(f"/cases/{number}/state", {"to": "diagnosed", "outcome": "rejected"})
    wrong = api.post(f"/cases/{number}/state", {"to": "closed", "outcome": "fixed"})

    assert "outcome" in assert_problem(no_outcome, 422, "outcome")["errors"][0]["message"]
    assert_problem(early, 422, "outcome")
    assert_problem(wrong, 422, "outcome")
    assert [h.kind for h in _history(db, number)] == ["state"]  # nothing written


def test_a_move_the_case_machine_forbids_is_a_409_naming_both_states(
    db: Database, api: Api
) -> None:
    number = _open(api, _world(db))

    answer = api.post(f"/cases/{number}/state", {"to": "testing"})

    body = assert_problem(answer, 409)
    assert "is open" in body["detail"] and "testing" in body["detail"]


def test_a_closed_case_may_go_nowhere_and_takes_no_more_steps(db: Database, api: Api) -> None:
    number = _open(api, _world(db), warranty_claim=False)
    api.post(f"/cases/{number}/state", {"to": "closed", "outcome": "no_fault_found"})

    again = api.post(f"/cases/{number}/state", {"to": "diagnosed"})
    step = api.post(f"/cases/{number}/steps", {"action": "repair"})

    assert_problem(again, 409)
    assert_problem(step, 409, "number")


def test_a_state_the_client_saw_that_moved_on_meanwhile_is_a_409(db: Database, api: Api) -> None:
    number = _open(api, _world(db))
    api.post(f"/cases/{number}/state", {"to": "diagnosed"})

    stale = api.post(
        f"/cases/{number}/state", {"to": "closed", "outcome": "rejected", "from_state": "open"}
    )

    assert "changed meanwhile" in assert_problem(stale, 409)["detail"]
    assert _state(db, number) == "diagnosed"


def _race(db: Database, number: str, actors: list[Actor], wanted: list[StateIn]) -> list[object]:
    """Each actor changes the case's state at the same instant; what each was answered."""
    barrier = threading.Barrier(len(actors))
    outcomes: list[object] = [None] * len(actors)

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = cases.change_state(db, actors[i], number, wanted[i])
        except (Conflict, InvalidTransition) as error:
            outcomes[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actors))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes


def test_two_agents_moving_one_case_at_once_one_wins_the_other_gets_a_409(db: Database) -> None:
    serial = _world(db)
    agent = Actor("agent", "service")
    numbers = [
        cases.open_case(db, SYSTEM, CaseIn(serial=serial, warranty_claim=False))["number"]
        for _ in range(3)
    ]
    wanted = [StateIn(to="closed", outcome="resolved"), StateIn(to="closed", outcome="rejected")]
    for number in numbers:
        outcomes = _race(db, number, [SYSTEM, agent], wanted)
        errors = [o for o in outcomes if isinstance(o, Exception)]
        assert len(errors) == 1, outcomes
        won = next(o for o in outcomes if isinstance(o, dict))
        assert _state(db, number) == "closed"
        closes = [h for h in _history(db, number) if h.to_state == "closed"]
        assert len(closes) == 1
        with db.read() as conn:
            outcome = conn.execute(
                select(service_cases.c.outcome).where(service_cases.c.number == number)
            ).scalar()
        assert outcome == won["outcome"]


# --- steps on the ledger -----------------------------------------------------------------------


def test_every_step_is_a_ledger_event_linked_to_the_case_with_a_history_row(
    db: Database, api: Api
) -> None:
    serial = _world(db)
    number = _open(api, serial)
    steps = [
        {"action": "receive_return", "note": "customer brought it"},
        {"action": "repair", "note": "resoldered"},
        {"action": "inspect", "result": "pass", "data": {"leak_ppm": 2}},
        {"action": "ship_back"},
    ]
    answers = [api.post(f"/cases/{number}/steps", step) for step in steps]

    assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
    written = [e["type"] for a in answers for e in a.json()["events"]]
    assert written == ["return", "repair", "inspect", "receive", "ship"]
    unit = queries.dossier(db, SYSTEM, serial)
    assert (unit["status"], unit["holder"]) == ("in_transit", "D-EAST")
    linked = [e for e in unit["events"] if {"type": "rma", "id": number} in e["biz_transactions"]]
    assert [e["type"] for e in linked] == written
    assert linked[0]["location"] == "SVC1"  # the case's service location by default
    assert linked[2]["data"]["result"] == "pass" and linked[2]["data"]["leak_ppm"] == 2
    history = [h for h in _history(db, number) if h.kind == "event"]
    assert len(history) == 5 and all(h.event_id is not None and h.by == "alice" for h in history)
    assert history[0].text == "customer brought it" and history[3].text == ""


def test_a_step_names_every_problem_at_once_and_writes_nothing(db: Database, api: Api) -> None:
    serial = _world(db)
    number = api.post("/cases", {"serial": serial}).json()["number"]  # no location, no reporter

    inspect = api.post(f"/cases/{number}/steps", {"action": "inspect", "party": "D-EAST"})
    back = api.post(f"/cases/{number}/steps", {"action": "ship_back"})

    fields = {e["field"] for e in assert_problem(inspect, 422)["errors"]}
    assert fields == {"result", "party"}
    assert_problem(back, 422, "party")
    assert len(queries.dossier(db, SYSTEM, serial)["events"]) == 6
    assert [h.kind for h in _history(db, number)] == ["state"]


def test_a_step_the_unit_s_state_forbids_is_refused_by_the_ledger(db: Database, api: Api) -> None:
    number = _open(api, _world(db))

    answer = api.post(f"/cases/{number}/steps", {"action": "ship_back"})  # sold: not in stock

    assert "ship is allowed only from in_stock" in assert_problem(answer, 409)["detail"]


def test_an_event_from_another_edge_naming_the_case_joins_its_history(
    db: Database, api: Api
) -> None:
    serial = _world(db)
    number = _open(api, serial)

    event = {
        "type": "repair",
        "serials": [serial],
        "data": {"note": "at the scan station"},
        "biz_transactions": [{"type": "rma", "id": number}],
    }
    other = {
        "type": "verify",
        "serials": [serial],
        "biz_transactions": [{"type": "rma", "id": "ERP-RMA-77"}],
    }
    assert api.post("/events", event).status_code == 201
    assert api.post("/events", other).status_code == 201

    history = [h for h in _history(db, number) if h.kind == "event"]
    assert [h.text for h in history] == ["at the scan station"]


def test_the_same_step_sent_twice_under_its_event_id_is_written_once(
    db: Database, api: Api
) -> None:
    serial = _world(db)
    number = _open(api, serial)
    step = {"action": "repair", "event_id": "REP-1"}

    first, again = (api.post(f"/cases/{number}/steps", step) for _ in range(2))

    assert first.status_code == again.status_code == 200
    assert again.json()["events"][0]["replayed"] is True
    assert len([h for h in _history(db, number) if h.kind == "event"]) == 1


# --- parts -------------------------------------------------------------------------------------


def _affected(db: Database, part: str) -> list[str]:
    found = trace.forward(db, SYSTEM, TraceQuery(serial=part, product="PCB"))
    return [item["serial"] for item in found["items"]]


def test_a_replacement_in_a_case_changes_the_forward_trace_of_both_parts_and_verifies_clean(
    db: Database, api: Api
) -> None:
    serial = _world(db)
    number = _open(api, serial)
    api.post(f"/cases/{number}/steps", {"action": "receive_return"})
    assert _affected(db, "PCB-1") == [serial] and _affected(db, "PCB-2") == ["PCB-2"]

    answer = api.post(
        f"/cases/{number}/parts",
        {
            "removed": "PCB-1",
            "installed": "PCB-2",
            "reason": "burnt capacitor",
            "consumed": [{"product": "GLUE", "lot": "G1", "quantity": 2}],
        },
    )

    assert answer.status_code == 200, answer.text
    assert [e["type"] for e in answer.json()["events"]] == ["replace_part", "move"]
    assert answer.json()["returns_location"] == "RET1"
    assert _affected(db, "PCB-2") == [serial]
    assert serial not in _affected(db, "PCB-1")
    old = queries.dossier(db, SYSTEM, "PCB-1", "PCB")
    assert (old["status"], old["location"], old["parent"]) == ("returned", "RET1", None)
    assert verify_ledger(db, SYSTEM).ok
    with db.read() as conn:
        parts = conn.execute(select(case_parts).order_by(case_parts.c.id)).all()
        glue = conn.execute(select(lot_uses.c.quantity)).scalars().all()
        ids = dict(conn.execute(select(units.c.serial, units.c.id)).all())
    assert [
        (p.removed_unit_id, p.installed_unit_id, p.lot_id is None, p.reason) for p in parts
    ] == [
        (ids["PCB-1"], ids["PCB-2"], True, "burnt capacitor"),
        (None, None, False, "burnt capacitor"),
    ]
    assert parts[1].quantity == 2 and glue == [2]  # the lot use the trace follows
    texts = [h.text for h in _history(db, number) if h.kind == "event"]
    assert texts[1:] == ["burnt capacitor", "burnt capacitor"]


def test_consumables_without_a_replacement_are_one_repair_event_by_lot_and_quantity(
    db: Database, api: Api
) -> None:
    serial = _world(db)
    number = _open(api, serial)

    answer = api.post(
        f"/cases/{number}/parts", {"consumed": [{"product": "GLUE", "lot": "G1", "quantity": 3}]}
    )

    assert answer.status_code == 200, answer.text
    assert [e["type"] for e in answer.json()["events"]] == ["repair"]
    with db.read() as conn:
        rows = conn.execute(select(case_parts.c.lot_id, case_parts.c.quantity)).all()
    assert len(rows) == 1 and rows[0].quantity == 3 and rows[0].lot_id is not None


def test_a_replacement_names_every_problem_at_once_and_writes_nothing(
    db: Database, api: Api
) -> None:
    serial = _world(db)
    number = _open(api, serial)

    answer = api.post(
        f"/cases/{number}/parts",
        {
            "removed": "PCB-2",
            "installed": "NOPE",
            "returns_location": "SVC1",
            "consumed": [{"product": "GLUE", "lot": "G9", "quantity": 1}],
        },
    )
    half = api.post(f"/cases/{number}/parts", {"removed": "PCB-1"})

    fields = {e["field"] for e in assert_problem(answer, 422)["errors"]}
    assert fields == {"removed", "installed", "returns_location", "consumed.0.lot"}
    assert_problem(half, 422)
    assert len(queries.dossier(db, SYSTEM, serial)["events"]) == 6


# --- partner scope -----------------------------------------------------------------------------


def _partner(db: Database, api: Api, name: str, party: str) -> dict[str, str]:
    access.create_user(db, SYSTEM, name, PASSWORD, "partner", party)
    return {"Authorization": f"Bearer {access.create_token(db, SYSTEM, name, 't')['token']}"}


@pytest.mark.parametrize("path", ["state", "steps", "parts"])
def test_a_partner_writes_only_on_its_own_cases_others_answer_as_unknown(
    db: Database, api: Api, path: str
) -> None:
    serial = _world(db)
    make_party(db, "D-WEST")
    east = _partner(db, api, "east", "D-EAST")
    west = _partner(db, api, "west", "D-WEST")
    theirs = api.post("/cases", {"serial": serial, "warranty_claim": False}, east)
    assert theirs.status_code == 201, theirs.text
    number = theirs.json()["number"]
    glue = [{"product": "GLUE", "lot": "G1", "quantity": 1}]
    body = {
        "state": {"to": "diagnosed"},
        "steps": {"action": "receive_return"},
        "parts": {"consumed": glue},
    }[path]

    other = api.client.post(f"/api/v1/cases/{number}/{path}", json=body, headers=west)
    unknown = api.client.post(f"/api/v1/cases/SC-999999/{path}", json=body, headers=west)
    own = api.client.post(f"/api/v1/cases/{number}/{path}", json=body, headers=east)

    assert other.status_code == unknown.status_code == 404
    assert other.json() | {"detail": ""} == unknown.json() | {"detail": ""}
    assert other.json()["detail"].replace(number, "X") == unknown.json()["detail"].replace(
        "SC-999999", "X"
    )
    expected = {"state": 200, "steps": 200, "parts": 403}[path]  # a partner replaces no parts
    assert own.status_code == expected, own.text


def test_the_case_s_own_partner_cannot_see_cases_of_a_staff_member_on_units_it_no_longer_has(
    db: Database, api: Api
) -> None:
    serial = _world(db)
    east = _partner(db, api, "east", "D-EAST")
    number = _open(api, serial)  # opened by staff

    answer = api.client.post(
        f"/api/v1/cases/{number}/state", json={"to": "diagnosed"}, headers=east
    )

    assert answer.status_code == 404


def test_two_claims_for_one_unit_opened_at_the_same_instant_open_one_case(db: Database) -> None:
    serial = _world(db)
    barrier = threading.Barrier(2)
    outcomes: list[object] = [None, None]

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = cases.open_case(db, SYSTEM, CaseIn(serial=serial))
        except Conflict as error:
            outcomes[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    refused = [o for o in outcomes if isinstance(o, claims.ClaimRefused)]
    assert len(refused) == 1, outcomes
    assert "checks.open_case" in [e.field for e in refused[0].errors]
    with db.read() as conn:
        assert conn.execute(select(service_cases.c.id)).all().__len__() == 1
