"""Opening service cases: a warranty claim meets the claim checks; a diagnosis needing a part
the service location lacks requests it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests.clients import Api, assert_problem
from tests.factories import make_location, make_product, make_units, record
from unitrace.db.engine import Database
from unitrace.db.tables import spare_requests


def _sold_unit(db: Database, months_ago: int = 2) -> str:
    make_product(db, warranty_months=24, warranty_start="sale")
    make_location(db)
    made = datetime.now(UTC) - timedelta(days=31 * months_ago + 5)
    serial = make_units(db, count=1, event_time=made)[0]
    record(db, type="receive", serials=[serial], location="WH1", event_time=made)
    record(db, type="sell", serials=[serial], event_time=made + timedelta(days=1))
    return serial


def test_a_second_open_claim_for_the_same_unit_is_refused_naming_the_first(
    db: Database, api: Api
) -> None:
    serial = _sold_unit(db)
    first = api.post("/cases", {"serial": serial, "kind": "repair"})
    assert first.status_code == 201, first.text
    assert first.json()["number"].startswith("SC-")

    second = api.post("/cases", {"serial": serial, "kind": "repair"})

    body = assert_problem(second, 409, "checks.open_case")
    assert first.json()["number"] in body["detail"]


def test_an_expired_claim_is_opened_only_with_an_override_reason(db: Database, api: Api) -> None:
    serial = _sold_unit(db, months_ago=26)
    refused = api.post("/cases", {"serial": serial})
    assert_problem(refused, 409, "checks.warranty")

    overridden = api.post("/cases", {"serial": serial, "override_reason": "goodwill for a VIP"})

    assert overridden.status_code == 201, overridden.text
    assert overridden.json()["override_reason"] == "goodwill for a VIP"


def test_a_diagnosis_needing_a_part_not_on_hand_creates_one_spare_request(
    db: Database, api: Api
) -> None:
    serial = _sold_unit(db)
    make_product(db, "PCB1", rule=None)
    make_location(db, "SVC1", kind="service")
    number = api.post("/cases", {"serial": serial, "location": "SVC1"}).json()["number"]

    answer = api.post(f"/cases/{number}/diagnosis", {"parts_needed": [{"product": "PCB1"}]})

    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "waiting_for_parts"
    with db.read() as conn:
        rows = conn.execute(select(spare_requests.c.quantity, spare_requests.c.status)).all()
    assert [tuple(r) for r in rows] == [(1, "open")]


def test_a_diagnosis_names_every_unknown_part_at_once(db: Database, api: Api) -> None:
    serial = _sold_unit(db)
    number = api.post("/cases", {"serial": serial}).json()["number"]

    answer = api.post(
        f"/cases/{number}/diagnosis",
        {"defect_code": "NOPE", "parts_needed": [{"product": "X1"}, {"product": "X2"}]},
    )

    body = assert_problem(answer, 422)
    fields = {e["field"] for e in body["errors"]}
    assert {"defect_code", "parts_needed.0.product", "parts_needed.1.product"} <= fields
