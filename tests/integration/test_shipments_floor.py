"""Shipments on the floor (issue 13): a range of check-character serials steps through the
serials of the product's rule; every ship event is in the shipments list, however it was sent
(the demo ships through the event write path); a printable delivery note."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient

from tests.clients import Api
from tests.factories import make_location, make_party, make_product, record
from tests.pages import login
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.channel import service as channel
from unitrace.channel.service import ShipmentIn
from unitrace.core.errors import ValidationError
from unitrace.core.serials import GenerationContext, SerialTemplate
from unitrace.db.engine import Database
from unitrace.ledger import queries
from unitrace.ledger.schemas import BizTransaction, CommissionIn, EventIn
from unitrace.ledger.service import commission_units, record_events

RULE = "SN{seq:5}{check:luhn}"


def _serial(seq: int) -> str:
    return SerialTemplate.parse(RULE).render(GenerationContext(date.today()), seq, 1)[0]


@pytest.fixture
def luhn_stock(db: Database) -> list[str]:
    """Sequences 1 … 400 of `SN{seq:5}{check:luhn}` in stock at WH1."""
    make_product(db, "CAM", rule=RULE)
    make_location(db, "WH1")
    make_party(db, "D-EAST", regions=["CN-31"])
    made = commission_units(db, SYSTEM, CommissionIn(product="CAM", count=400)).serials
    record(db, type="receive", product="CAM", serials=made, location="WH1")
    return made


def test_a_range_of_check_character_serials_steps_through_the_rule(
    db: Database, luhn_stock: list[str]
) -> None:
    first, last = _serial(10), _serial(300)
    assert (first, last) == ("SN000109", "SN003004")
    wanted = ShipmentIn(party="D-EAST", ranges=[{"from": first, "to": last}])  # no product
    made = channel.create_shipment(db, SYSTEM, wanted)
    assert made["unit_count"] == 291  # sequences 10 … 300, every one a unit
    assert queries.dossier(db, SYSTEM, _serial(150), "CAM")["status"] == "in_transit"
    assert queries.dossier(db, SYSTEM, _serial(301), "CAM")["status"] == "in_stock"


def test_a_range_whose_ends_are_not_serials_of_the_rule_is_refused_clearly(
    db: Database, luhn_stock: list[str]
) -> None:
    wanted = ShipmentIn(
        party="D-EAST",
        product="CAM",
        ranges=[{"from": "SN000101", "to": _serial(20)}, {"from": _serial(5), "to": "SN03"}],
    )
    with pytest.raises(ValidationError) as refused:
        channel.create_shipment(db, SYSTEM, wanted)
    problems = {e.field: (e.message, e.value) for e in refused.value.errors}
    assert problems == {  # both ranges' problems at once
        "ranges.0": ("an end of the range has a wrong check character", "SN000101"),
        "ranges.1": ("an end of the range is not a serial of the product's serial rule", "SN03"),
    }
    no_product = ShipmentIn(party="D-EAST", ranges=[{"from": "SN000101", "to": _serial(20)}])
    with pytest.raises(ValidationError, match="wrong check character"):  # the rule's shape
        channel.create_shipment(db, SYSTEM, no_product)
    backwards = ShipmentIn(
        party="D-EAST", product="CAM", ranges=[{"from": _serial(20), "to": _serial(10)}]
    )
    with pytest.raises(ValidationError, match="ends before it starts"):
        channel.create_shipment(db, SYSTEM, backwards)


def test_a_rule_with_random_characters_has_no_ranges() -> None:
    rule = SerialTemplate.parse("R{random:6}")
    with pytest.raises(ValueError, match="random characters"):
        rule.range_serials("RABCDEF", "RABCDEG")


def test_ship_events_sent_like_the_demo_are_in_the_shipments_list(
    db: Database, luhn_stock: list[str]
) -> None:
    note = BizTransaction(type="desadv", id="DN-D-EAST-1")
    record_events(db, SYSTEM, [EventIn(type="ship", product="CAM", serials=luhn_stock[:5],
                                       party="D-EAST", biz_transactions=[note])])  # fmt: skip
    channel.create_shipment(db, SYSTEM, ShipmentIn(number="DN-9", party="D-EAST",
                                                   serials=luhn_stock[5:7]))  # fmt: skip
    listed = channel.list_shipments(db, SYSTEM)
    assert listed["total"] == 2
    assert [(s["number"], s["unit_count"]) for s in listed["items"]] == [
        ("DN-9", 2),
        ("DN-D-EAST-1", 5),
    ]
    assert listed["items"][1]["party"] == "D-EAST"


@pytest.fixture
def shop(db: Database, luhn_stock: list[str]) -> Iterator[tuple[TestClient, Database, list[str]]]:
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        yield client, db, luhn_stock


def test_the_delivery_note_prints_shipper_consignee_cartons_and_serials(
    shop: tuple[TestClient, Database, list[str]],
) -> None:
    client, db, stock = shop
    make_location(db, "SZ", kind="site")
    record(db, type="pack", product="CAM", serials=stock[:12], container="CTN-1")
    csrf = login(client, db, "sales")
    form = {"csrf_token": csrf, "party": "D-EAST", "number": "DN-42"}
    made = client.post("/shipments", data={**form, "containers": "CTN-1",
                                           "serials": f"{stock[20]}\n{stock[21]}"})  # fmt: skip
    assert made.status_code == 201, made.text
    assert 'href="/shipments/DN-42/note"' in made.text
    note = client.get("/shipments/DN-42/note")
    assert note.status_code == 200
    html = note.text
    assert 'data-testid="note-number">DN-42<' in html
    assert "SZ" in html.split('data-testid="shipper"')[1].split("</dd>")[0]
    assert "D-EAST" in html.split('data-testid="consignee"')[1].split("</dd>")[0]
    carton = html.split('data-testid="note-carton"')[1].split("</section>")[0]
    assert "CTN-1" in carton and carton.count("<li>") == 12 and stock[0] in carton
    loose = html.split('data-testid="note-loose"')[1].split("</section>")[0]
    assert loose.count("<li>") == 2 and stock[21] in loose
    assert 'data-testid="note-total">14<' in html
    assert "@media print" in client.get("/static/style.css").text
    assert client.get("/shipments/DN-404/note").status_code == 404


def test_the_delivery_note_of_a_ship_event_and_in_the_api(
    db: Database, luhn_stock: list[str], api: Api
) -> None:
    done = record(db, type="ship", product="CAM", serials=luhn_stock[:3], party="D-EAST")
    found = api.get(f"/shipments/{done.event_id}")
    assert found.status_code == 200, found.text
    assert found.json()["unit_count"] == 3 and found.json()["consignee"]["code"] == "D-EAST"
    listed = api.get("/shipments")
    assert listed.headers["x-total-count"] == "1" and listed.json()[0]["event_id"] == done.event_id
