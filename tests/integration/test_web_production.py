"""Production pages: assembly with the BOM filling up, step recording, trace (both ways, CSV),
recall campaigns, quality, and the dossier's component tree and steps — by role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.factories import make_location, make_lot, make_party, make_product, make_units, record
from tests.pages import field_error, login
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.db.engine import Database
from unitrace.ledger import queries
from unitrace.production import recall
from unitrace.production import service as production
from unitrace.production.schemas import BomIn, RouteIn


@pytest.fixture
def plant(db: Database) -> Iterator[tuple[TestClient, Database]]:
    make_location(db, "WH1")
    make_location(db, "QC", kind="station")
    make_party(db, "SUP-A", "supplier")
    make_party(db, "D-EAST", regions=["CN-31"])
    make_product(db, "MACHINE", rule="M{seq:5}")
    make_product(db, "BOARD", rule="B{seq:5}")
    make_product(db, "SCREW", rule=None, tracking="lot")
    make_lot(db, "BOARD", "B-LOT", supplier="SUP-A")
    make_lot(db, "SCREW", "S-1")
    production.set_bom(db, SYSTEM, "MACHINE", BomIn(lines=[
        {"component": "BOARD", "quantity": 1}, {"component": "SCREW", "quantity": 4}]))  # fmt: skip
    production.set_route(db, SYSTEM, "MACHINE", RouteIn(steps=[{"code": "FQC", "name": "QC"}]))
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        yield client, db


def test_assembly_page_fills_the_bom(plant: tuple[TestClient, Database]) -> None:
    client, db = plant
    machine = make_units(db, "MACHINE", 1)[0]
    boards = make_units(db, "BOARD", 2, lot="B-LOT")
    csrf = login(client, db, "production")
    page = client.get(f"/assembly?parent={machine}")
    assert page.status_code == 200 and 'data-testid="bom-BOARD"' in page.text
    parent = {"csrf_token": csrf, "parent": machine, "parent_product": "MACHINE"}
    ok = client.post("/assembly", data={**parent, "serial": boards[0]})
    assert 'data-testid="scan-ok"' in ok.text and ok.headers["HX-Trigger"] == "bom-changed"
    too_many = client.post("/assembly", data={**parent, "serial": boards[1]})
    assert 'data-testid="scan-fail"' in too_many.text and "more than the 1" in too_many.text
    screws = client.post("/assembly", data={**parent, "product": "SCREW", "lot": "S-1",
                                            "quantity": "4"})  # fmt: skip
    assert 'data-testid="scan-ok"' in screws.text
    panel = client.get(f"/assembly/bom?parent={machine}&product=MACHINE")
    assert panel.text.count("✔") == 2  # board 1/1 and screws 4/4
    other = make_units(db, "MACHINE", 1)[0]
    again = client.post("/assembly", data={**parent, "parent": other, "serial": boards[0]})
    assert f"installed in MACHINE/{machine}" in again.text
    garbage = client.post("/assembly", data={**parent, "serial": "", "lot": "S-1",
                                              "product": "SCREW", "quantity": "x"})  # fmt: skip
    assert garbage.status_code == 200 and 'data-testid="scan-fail"' in garbage.text
    assert client.get("/assembly?parent=NOPE").status_code == 404


def test_steps_page_records_results_in_the_dossier(plant: tuple[TestClient, Database]) -> None:
    client, db = plant
    machine = make_units(db, "MACHINE", 1)[0]
    csrf = login(client, db, "quality")
    assert "FQC" in client.get("/steps?product=MACHINE").text
    form = {"csrf_token": csrf, "product": "MACHINE", "step": "FQC", "serial": machine,
            "station": "QC", "equipment": "RIG-1"}  # fmt: skip
    failed = client.post("/steps", data={**form, "result": "fail", "defect_code": "SCRATCH"})
    assert 'data-testid="scan-ok"' in failed.text
    wrong = client.post("/steps", data={**form, "step": "PAINT", "result": "pass"})
    assert 'data-testid="scan-fail"' in wrong.text and "not on the route" in wrong.text
    client.post("/steps", data={**form, "result": "pass"})
    dossier = client.get(f"/units/{machine}")
    steps = dossier.text.split('data-testid="steps"')[1].split("</table>")[0]
    assert steps.count("<tr>") == 3 and "SCRATCH" in steps and "(#2)" in steps


def test_trace_pages_both_ways_and_csv(plant: tuple[TestClient, Database]) -> None:
    client, db = plant
    machines = make_units(db, "MACHINE", 3)
    boards = make_units(db, "BOARD", 3, lot="B-LOT")
    for m, b in zip(machines, boards, strict=True):
        record(db, type="assemble", product="BOARD", serials=[b],
               parent={"product": "MACHINE", "serial": m})  # fmt: skip
    login(client, db, "readonly")
    back = client.get(f"/trace?back={machines[0]}")
    assert back.status_code == 200 and boards[0] in back.text and 'id="genealogy"' in back.text
    forward = client.get("/trace?product=BOARD&lot=B-LOT")
    table = forward.text.split('data-testid="affected-table"')[1]
    assert all(m in table for m in machines) and "trace-recall" not in forward.text
    csv = client.get("/trace/affected.csv?product=BOARD&lot=B-LOT")
    assert csv.headers["content-type"].startswith("text/csv") and csv.text.count("\n") == 4
    bad = client.get("/trace?lot=B-LOT")  # a lot needs its product
    assert bad.status_code == 422 and "needs its product" in bad.text
    two = client.get("/trace?lot=B-LOT&product=BOARD&serial=X")
    assert two.status_code == 422 and "exactly one" in two.text
    assert client.get("/trace?back=NOPE").status_code == 404
    tree = client.get(f"/units/{machines[0]}")
    assert boards[0] in tree.text.split('data-testid="component-tree"')[1]


def test_recall_pages(plant: tuple[TestClient, Database]) -> None:
    client, db = plant
    boards = make_units(db, "BOARD", 2, lot="B-LOT")
    record(db, type="receive", product="BOARD", serials=boards, location="WH1")
    csrf = login(client, db, "readonly")
    refused = client.post("/recalls", data={"csrf_token": csrf, "code": "RC-9", "title": "t",
                                            "product": "BOARD", "lot": "B-LOT"})  # fmt: skip
    assert refused.status_code == 403 and "may not" in refused.text
    csrf = login(client, db, "quality")
    missing = client.post("/recalls", data={"csrf_token": csrf, "code": "RC-1", "title": ""})
    assert missing.status_code == 422 and field_error(missing.text, "title")
    made = client.post("/recalls", data={"csrf_token": csrf, "code": "RC-1", "title": "caps",
                                         "product": "BOARD", "lot": "B-LOT"},
                       follow_redirects=False)  # fmt: skip
    assert made.status_code == 303 and made.headers["location"] == "/recalls/RC-1"
    page = client.get("/recalls/RC-1")
    assert 'data-testid="recall-units">2<' in page.text and 'data-testid="total-in_stock">2<' in (
        page.text)  # fmt: skip
    marked = client.post("/recalls/RC-1/mark", data={"csrf_token": csrf})
    assert 'data-testid="done"' in marked.text
    assert queries.dossier(db, SYSTEM, boards[0], "BOARD")["status"] == "recalled"
    notices = client.get("/recalls/RC-1/notices.csv")
    assert notices.text.count("\n") == 3
    assert "RC-1" in client.get("/recalls").text
    assert recall.progress(db, SYSTEM, "RC-1")["units"] == 2
    assert client.get("/recalls/NOPE").status_code == 404


def test_quality_page(plant: tuple[TestClient, Database]) -> None:
    client, db = plant
    machines = make_units(db, "MACHINE", 2)
    record(db, type="inspect", product="MACHINE", serials=[machines[0]], operator="li",
           step={"code": "FQC", "result": "fail", "defect_code": "SCRATCH"})  # fmt: skip
    record(db, type="inspect", product="MACHINE", serials=machines, operator="li",
           step={"code": "FQC", "result": "pass"})  # fmt: skip
    login(client, db, "auditor")
    page = client.get("/quality?by=operator")
    table = page.text.split('data-testid="yield-table"')[1]
    assert "li" in table and "33.3%" in table and "50.0%" in table  # failure rate, first-pass
    assert "SCRATCH" in page.text
    assert client.get("/quality?by=nonsense").status_code == 422
    bad_day = client.get("/quality?since=yesterday")
    assert bad_day.status_code == 422 and field_error(bad_day.text, "since")
    assert "Nothing found." in client.get("/quality?since=2999-01-01").text
    csv = client.get("/quality/export?by=operator&format=csv")
    assert csv.text.splitlines()[1] == "li,3,1,0.3333,2,1,0.5"
    xlsx = client.get("/quality/export?by=operator&format=xlsx")
    assert xlsx.content[:2] == b"PK"  # a zip: the XLSX container


def test_partner_sees_no_production_pages(plant: tuple[TestClient, Database]) -> None:
    client, db = plant
    login(client, db, "partner")
    for path in ("/trace", "/trace?product=BOARD&lot=B-LOT", "/recalls", "/quality", "/steps",
                 "/assembly",
                 "/trace/affected.csv?product=BOARD&lot=B-LOT"):  # fmt: skip
        answer = client.get(path)
        assert answer.status_code == 403, path
        assert "SUP-A" not in answer.text
