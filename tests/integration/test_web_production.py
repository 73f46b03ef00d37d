"""Production pages: assembly with the BOM filling up, step recording, trace (both ways, CSV),
recall campaigns, quality, and the dossier's component tree and steps — by role."""

from __future__ import annotations

import io
import re
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
    assert 'data-testid="step-ok"' in failed.text
    wrong = client.post("/steps", data={**form, "step": "PAINT", "result": "pass"})
    assert 'data-testid="step-fail"' in wrong.text and "not on the route" in wrong.text
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


# --- issue 13: the floor pages at their main task -------------------------------------------


def _form(html: str, testid: str) -> str:
    """The HTML of the form marked data-testid=`testid` (up to its end tag)."""
    start = html.index(f'data-testid="{testid}"')
    return html[html.rindex("<form", 0, start) : html.index("</form>", start)]


def test_steps_form_is_sent_by_a_scanners_enter(plant: tuple[TestClient, Database]) -> None:
    """Issue 13: the form had several text fields and no button, so Enter sent nothing (a
    browser submits on Enter only then); and concurrent scans must queue, each its own serial."""
    client, db = plant
    login(client, db, "production")
    form = _form(client.get("/steps?product=MACHINE").text, "step-form")
    assert 'data-testid="step-submit"' in form and "<button" in form
    assert 'hx-sync="this:queue all"' in form and "data-scan-form" in form
    assert 'data-testid="step-serial"' in form and "autofocus" in form


def test_steps_page_answers_each_scan_once_with_its_result(
    plant: tuple[TestClient, Database],
) -> None:
    client, db = plant
    machines = make_units(db, "MACHINE", 3)
    csrf = login(client, db, "production", "zh-CN")
    client.headers["Accept-Language"] = "zh-CN"
    form = {"csrf_token": csrf, "product": "MACHINE", "step": "FQC", "result": "pass"}
    answers = [client.post("/steps", data={**form, "serial": m, "value": "3.2"}) for m in machines]
    assert all('data-result="pass"' in a.text and "合格" in a.text for a in answers)
    assert "测量值 3.2" in answers[0].text
    failed = client.post("/steps", data={**form, "serial": machines[0], "result": "fail",
                                          "defect_code": "LEAK"})  # fmt: skip
    assert 'data-result="fail"' in failed.text and "不合格 · LEAK" in failed.text
    empty = client.post("/steps", data={**form, "serial": ""})
    assert 'data-testid="step-fail"' in empty.text and "未扫描到任何内容" in empty.text
    unknown = client.post("/steps", data={**form, "serial": "NOPE"})
    reason = unknown.text.split("—", 1)[1]
    assert 'data-testid="step-fail"' in unknown.text and reason.count("NOPE") == 1
    steps = client.get(f"/units/{machines[1]}").text.split('data-testid="steps"')[1]
    assert "FQC" in steps.split("</table>")[0]


def test_assembly_focus_moves_to_the_component_field(plant: tuple[TestClient, Database]) -> None:
    """Issue 13: after the parent was opened the focus stayed in the parent field, so the next
    scans were typed onto the parent's serial."""
    client, db = plant
    machine = make_units(db, "MACHINE", 1)[0]
    login(client, db, "production")
    before = client.get("/assembly").text
    assert re.search(r'<input name="parent"[^>]*autofocus', before)
    opened = client.get(f"/assembly?parent={machine}").text
    assert not re.search(r'<input name="parent"[^>]*autofocus', opened)
    assert re.search(
        r'<input name="serial"[^>]*autofocus[^>]*data-testid="component-input"', opened
    )
    assert 'hx-sync="this:queue all"' in opened and 'data-testid="component-submit"' in opened


def test_assembly_refusal_says_its_reason_once(plant: tuple[TestClient, Database]) -> None:
    """Issue 13: the reason was printed twice (the field's message, then the same sentence)."""
    client, db = plant
    machine = make_units(db, "MACHINE", 1)[0]
    boards = make_units(db, "BOARD", 2, lot="B-LOT")
    csrf = login(client, db, "production")
    parent = {"csrf_token": csrf, "parent": machine, "parent_product": "MACHINE"}
    client.post("/assembly", data={**parent, "serial": boards[0]})
    too_many = client.post("/assembly", data={**parent, "serial": boards[1]})
    assert too_many.text.count("more than the 1") == 1
    unknown = client.post("/assembly", data={**parent, "serial": "NOPE"})
    assert unknown.text.count("NOPE") == 2  # the serial in bold, then once in the reason
    lot = client.post("/assembly", data={**parent, "product": "SCREW", "lot": "S-9",
                                          "quantity": "2"})  # fmt: skip
    assert lot.text.count("no lot S-9") == 1
    ok = client.post("/assembly", data={**parent, "serial": ""})
    assert 'data-testid="scan-fail"' in ok.text


def test_assembly_lot_quantity_comes_from_the_bom(plant: tuple[TestClient, Database]) -> None:
    """Issue 13: the lot quantity was 1 where the BOM needs 4 (12 in the demo)."""
    client, db = plant
    machine = make_units(db, "MACHINE", 1)[0]
    csrf = login(client, db, "production")
    lot_form = _form(client.get(f"/assembly?parent={machine}").text, "lot-form")
    assert re.search(r'name="quantity"[^>]*value="4"', lot_form)
    assert 'value="SCREW" data-quantity="4"' in lot_form
    parent = {"csrf_token": csrf, "parent": machine, "parent_product": "MACHINE"}
    client.post("/assembly", data={**parent, "product": "SCREW", "lot": "S-1", "quantity": "3"})
    page = client.get(f"/assembly?parent={machine}").text
    assert re.search(r'name="quantity"[^>]*value="1"', _form(page, "lot-form"))  # 1 still missing
    assert "3 of 5 required parts installed" in page  # a board and four screws


def test_commission_page_counts_and_downloads_every_serial(
    plant: tuple[TestClient, Database],
) -> None:
    """Issue 13: only the first 1,000 serials were listed and they could not be downloaded."""
    client, db = plant
    csrf = login(client, db, "production", "zh-CN")
    client.headers["Accept-Language"] = "zh-CN"
    made = client.post("/commission", data={"csrf_token": csrf, "product": "BOARD",
                                            "count": "1200"})  # fmt: skip
    assert made.status_code == 201
    assert "已生成 1,200 个序列号" in made.text and "前 1,000 个" in made.text
    assert made.text.split('class="serials"')[1].count("<li>") == 1000
    link = re.search(r'href="(/commission/serials\.csv\?event=[^"]+)"', made.text)
    assert link
    csv = client.get(link.group(1).replace("&amp;", "&"))
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    rows = csv.content.decode("utf-8-sig").splitlines()
    assert rows[0] == "序列号,产品" and len(rows) == 1201 and rows[1] == "B00001,BOARD"
    xlsx = client.get(link.group(1).replace(".csv", ".xlsx"))
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx.content), read_only=True).active
    assert sheet is not None and sum(1 for _row in sheet.iter_rows()) == 1201
    assert client.get("/commission/serials.csv?event=urn:uuid:nope").status_code == 404
    login(client, db, "readonly")
    assert client.get(link.group(1)).status_code == 403


def test_commission_page_names_every_refused_serial(plant: tuple[TestClient, Database]) -> None:
    """Issue 13: one existing and one off-rule serial: both are named next to the field."""
    client, db = plant
    made = make_units(db, "BOARD", 1)[0]
    csrf = login(client, db, "production")
    refused = client.post("/commission", data={"csrf_token": csrf, "product": "BOARD",
                                               "serials": f"{made}\nZZ-1"})  # fmt: skip
    assert refused.status_code == 422
    message = field_error(refused.text, "serials")
    assert f"{made}: already exists" in message and "ZZ-1:" in message
