"""Whatever a scanner sends is accepted wherever a serial is (issue 15): a plain serial, a GS1
element string (FNC1 as GS, or with the symbology identifier ]d2), the bracketed form and a
Digital Link URI (with and without a lot and expiry date) all name the same unit — at the scan
station (page and API), through the API's unit look-up, on the command line, at the service desk
and in a stocktake. A lot or expiry date in the code that is not the unit's is refused naming
both values; a GTIN-13 and its GTIN-14 form are one product; an unknown GTIN is refused naming
it; and a partner reaches no other party's unit through a GS1 code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tests.clients import Api, assert_problem
from tests.factories import make_location, make_lot, make_party, make_product, make_units, record
from tests.pages import login
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.channel import stocktake
from unitrace.core import gs1
from unitrace.core.errors import NotFound, ValidationError
from unitrace.db.engine import Database
from unitrace.ledger import queries

GTIN13 = "9506000134352"  # the product keeps its GTIN-13; codes carry it as 14 digits
GTIN14 = "0" + GTIN13
EXPIRY = date(2027, 12, 31)
SERIAL = "ABC123"


def codes(serial: str = SERIAL, lot: str | None = "L1", expiry: date | None = EXPIRY) -> dict:
    """Every form a scanner may send for the unit `serial` (with this lot and expiry)."""
    full = gs1.unit_elements(GTIN13, serial, lot, expiry)
    bare = gs1.unit_elements(GTIN13, serial)
    return {
        "element string with GS": gs1.element_string(full),
        "element string with ]d2": "]d2" + gs1.element_string(full),
        "bracketed": gs1.bracketed(full),
        "digital link": gs1.digital_link(bare, "https://example.com"),
        "digital link with lot and expiry": gs1.digital_link(full, "https://id.example.com"),
    }


FORMS = list(codes())


@pytest.fixture
def unit(db: Database) -> str:
    """A unit of product MED (GTIN-13 9506000134352), lot L1 expiring 2027-12-31, in stock at
    WH1; another unit in lot L2."""
    make_product(db, "MED", rule=None, gtin=GTIN13)
    make_lot(db, "MED", "L1", expiry_date=EXPIRY)
    make_lot(db, "MED", "L2", expiry_date=date(2028, 6, 30))
    make_location(db, "WH1")
    make_location(db, "WH2")
    make_party(db, "D-P")
    make_units(db, "MED", None, serials=[SERIAL], lot="L1")
    make_units(db, "MED", None, serials=["XYZ789"], lot="L2")
    record(db, type="receive", product="MED", serials=[SERIAL, "XYZ789"], location="WH1")
    return SERIAL


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        yield client


def status_of(db: Database, serial: str) -> str:
    return str(queries.dossier(db, SYSTEM, serial, "MED")["status"])


# --- one function for every edge ------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_every_form_of_the_code_finds_the_unit(db: Database, unit: str, form: str) -> None:
    found = queries.dossier(db, SYSTEM, codes()[form])
    assert (found["serial"], found["product"]["code"]) == (unit, "MED")


@pytest.mark.parametrize("form", FORMS)
def test_every_form_is_recorded_at_the_scan_station_page(
    db: Database, unit: str, client: TestClient, form: str
) -> None:
    csrf = login(client, db, "warehouse")
    answer = client.post(
        "/scan",
        data={"serial": codes()[form], "action": "move", "location": "WH2"},
        headers={"X-CSRF-Token": csrf},
    )
    assert answer.status_code == 200, answer.text
    assert queries.dossier(db, SYSTEM, unit, "MED")["location"] == "WH2", answer.text


@pytest.mark.parametrize("form", FORMS)
def test_every_form_is_recorded_through_the_api(
    db: Database, unit: str, api: Api, form: str
) -> None:
    answer = api.post("/events", {"type": "move", "serials": [codes()[form]], "location": "WH2"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["unit_count"] == 1
    assert queries.dossier(db, SYSTEM, unit, "MED")["location"] == "WH2"


@pytest.mark.parametrize("form", FORMS)
def test_every_form_is_looked_up_by_the_api(unit: str, api: Api, form: str) -> None:
    code = codes()[form]
    in_path = api.get("/units/" + quote(code, safe=""))
    assert in_path.status_code == 200, in_path.text
    assert in_path.json()["serial"] == unit
    as_query = api.get("/units", code=code)
    assert as_query.status_code == 200, as_query.text
    assert as_query.json()["serial"] == unit


@pytest.mark.parametrize("form", FORMS)
def test_every_form_is_shown_by_the_cli(unit: str, cli, form: str) -> None:  # type: ignore[no-untyped-def]
    shown = cli("unit", "show", codes()[form], "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["serial"] == unit


# --- what the code says is checked ----------------------------------------------------------


def test_a_lot_in_the_code_that_is_not_the_units_is_refused_naming_both(
    db: Database, unit: str, api: Api
) -> None:
    code = codes(lot="L2", expiry=None)["element string with GS"]
    with pytest.raises(ValidationError, match="lot in the code is L2, the unit's lot is L1"):
        queries.dossier(db, SYSTEM, code)
    answer = api.post("/events", {"type": "move", "serials": [code], "location": "WH2"})
    body = assert_problem(answer, 422, "serials.0")
    assert "lot in the code is L2, the unit's lot is L1" in json.dumps(body)
    assert queries.dossier(db, SYSTEM, unit, "MED")["location"] == "WH1"  # nothing written


def test_an_expiry_in_the_code_that_is_not_the_lots_is_refused_naming_both(
    db: Database, unit: str, api: Api
) -> None:
    code = codes(expiry=date(2027, 11, 30))["digital link with lot and expiry"]
    said = "expiry in the code is 2027-11-30, the unit's lot expires 2027-12-31"
    with pytest.raises(ValidationError, match=said):
        queries.dossier(db, SYSTEM, code)
    answer = api.post("/events", {"type": "move", "serials": [code], "location": "WH2"})
    assert said in json.dumps(assert_problem(answer, 422, "serials.0"))


def test_a_mismatch_is_said_in_chinese_on_the_scan_station(
    db: Database, unit: str, client: TestClient
) -> None:
    csrf = login(client, db, "warehouse", lang="zh-CN")
    answer = client.post(
        "/scan",
        data={"serial": codes(lot="L2")["bracketed"], "action": "move", "location": "WH2"},
        headers={"X-CSRF-Token": csrf, "Accept-Language": "zh-CN"},
    )
    assert "码中的批次为 L2，该单品的批次为 L1" in answer.text, answer.text
    assert "lot in the code" not in answer.text


def test_a_gtin_13_and_its_gtin_14_form_are_one_product(db: Database, unit: str) -> None:
    for gtin in (GTIN13, GTIN14):
        code = f"(01){gs1.gtin14(gtin)}(21){unit}"
        assert queries.dossier(db, SYSTEM, code)["product"]["code"] == "MED"
    make_product(db, "UPC", rule=None, gtin="036000291452")  # kept as GTIN-12
    make_units(db, "UPC", None, serials=["U1"])
    assert queries.dossier(db, SYSTEM, "(01)00036000291452(21)U1")["product"]["code"] == "UPC"


def test_an_unknown_gtin_is_refused_naming_it(db: Database, unit: str, api: Api) -> None:
    code = "(01)09506000134369(21)ABC123"
    with pytest.raises(NotFound, match="no product has GTIN 09506000134369"):
        queries.dossier(db, SYSTEM, code)
    answer = api.post("/events", {"type": "move", "serials": [code], "location": "WH2"})
    assert "09506000134369" in json.dumps(assert_problem(answer, 404, "serials.0"))


def test_a_plain_serial_is_found_as_before(db: Database, unit: str, api: Api) -> None:
    answer = api.post("/events", {"type": "move", "serials": [unit], "location": "WH2"})
    assert answer.status_code == 201, answer.text
    assert_problem(api.post("/events", {"type": "move", "serials": ["A" * 65]}), 422, "serials.0")


# --- the other edges ------------------------------------------------------------------------


def test_the_service_desk_accepts_a_digital_link(
    db: Database, unit: str, client: TestClient
) -> None:
    login(client, db, "service")
    link = codes()["digital link with lot and expiry"]
    page = client.get("/service", params={"serial": link})
    assert page.status_code == 200, page.text
    assert unit in page.text and "MED" in page.text


def test_a_stocktake_counts_a_digital_link_as_its_unit(db: Database, unit: str) -> None:
    stocktake.open_count(db, SYSTEM, "C1", ["WH1"])
    first = stocktake.scan(db, SYSTEM, "C1", codes()["digital link"], "WH1")
    assert first == {"serial": unit, "counted": True, "known": True}
    again = stocktake.scan(db, SYSTEM, "C1", unit, "WH1")  # the same unit, typed: counted once
    assert again["counted"] is False
    report = stocktake.close_count(db, SYSTEM, "C1")
    assert [m["serial"] for m in report["missing"]] == ["XYZ789"]


def test_a_partner_reaches_no_other_partys_unit_through_a_gs1_code(
    db: Database, unit: str, api: Api
) -> None:
    make_party(db, "D-Q")
    record(db, type="ship", product="MED", serials=["XYZ789"], party="D-P")
    record(db, type="ship", product="MED", serials=[unit], party="D-Q")
    access.create_user(db, SYSTEM, "pat", "correct horse battery", "partner", "D-P")
    token = {"Authorization": "Bearer " + access.create_token(db, SYSTEM, "pat", "t")["token"]}
    theirs = codes()["digital link"]
    mine = gs1.digital_link(gs1.unit_elements(GTIN13, "XYZ789"), "https://example.com")
    assert api.get("/units/" + quote(mine, safe=""), headers=token).status_code == 200
    refused = api.get("/units/" + quote(theirs, safe=""), headers=token)
    unknown = api.get("/units/" + quote(theirs.replace(SERIAL, "NOPE99"), safe=""), headers=token)
    assert refused.status_code == unknown.status_code == 404
    assert refused.json()["detail"] == unknown.json()["detail"].replace("NOPE99", SERIAL)
    sent = api.post("/events", {"type": "deliver", "serials": [theirs]}, headers=token)
    assert_problem(sent, 404, "serials.0")
    assert status_of(db, unit) == "in_transit"  # not delivered by the other party


def test_the_stocktake_page_counts_a_digital_link(
    db: Database, unit: str, client: TestClient
) -> None:
    stocktake.open_count(db, SYSTEM, "C2", ["WH1"])
    csrf = login(client, db, "warehouse")
    link = codes()["digital link with lot and expiry"]
    answer = client.post(
        "/stocktakes/C2/scan", data={"serial": link, "location": "WH1", "csrf_token": csrf}
    )
    assert answer.status_code == 200, answer.text
    assert stocktake.scan(db, SYSTEM, "C2", unit, "WH1")["counted"] is False  # counted by the link


def test_the_search_box_opens_the_dossier_of_a_scanned_code(
    db: Database, unit: str, client: TestClient
) -> None:
    login(client, db, "service")
    answer = client.get("/units", params={"q": codes()["bracketed"]}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/units/{unit}?product=MED"


def test_the_cli_ships_and_counts_gs1_codes(  # type: ignore[no-untyped-def]
    db: Database, unit: str, cli, tmp_path
) -> None:
    stocktake.open_count(db, SYSTEM, "C3", ["WH1"])
    scans = tmp_path / "scans.txt"  # GS inside a line: one code a line, not split at the GS
    scans.write_text(codes()["element string with GS"] + "\n" + "XYZ789\n")
    counted = cli("stocktake", "scan", "C3", "WH1", str(scans))
    assert counted.exit_code == 0, counted.output
    assert "2 serials counted" in counted.output
    shipped = cli("ship", "D-P", codes()["element string with ]d2"])
    assert shipped.exit_code == 0, shipped.output
    assert status_of(db, unit) == "in_transit"
    refused = cli("ship", "D-P", codes(lot="L2")["bracketed"])
    assert refused.exit_code != 0 and "lot in the code is L2" in refused.output
