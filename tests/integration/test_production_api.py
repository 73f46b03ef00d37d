"""Production over HTTP and the CLI: BOM and route, trace, recalls and quality with their
downloads; errors are problem JSON naming the field, or one clear CLI line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.clients import Api, assert_problem
from tests.factories import make_location, make_lot, make_party, make_product, make_units, record
from unitrace.db.engine import Database


@pytest.fixture
def built(db: Database) -> dict[str, list[str]]:
    make_location(db, "WH1")
    make_party(db, "SUP-A", "supplier")
    make_product(db, "MACHINE", rule="M{seq:5}")
    make_product(db, "BOARD", rule="B{seq:5}")
    make_lot(db, "BOARD", "B-LOT", supplier="SUP-A")
    machines = make_units(db, "MACHINE", 3)
    boards = make_units(db, "BOARD", 3, lot="B-LOT")
    for m, b in zip(machines, boards, strict=True):
        record(db, type="assemble", product="BOARD", serials=[b],
               parent={"product": "MACHINE", "serial": m})  # fmt: skip
    return {"machines": machines, "boards": boards}


def test_bom_route_trace_recall_quality_over_http(api: Api, built: dict[str, list[str]]) -> None:
    bom = api.client.put("/api/v1/products/MACHINE/bom", headers=api.admin,
                         json={"lines": [{"component": "BOARD", "quantity": 1}]})  # fmt: skip
    assert bom.status_code == 200 and bom.json()["lines"][0]["component"] == "BOARD"
    assert_problem(api.client.put("/api/v1/products/MACHINE/bom", headers=api.admin,
                                  json={"lines": [{"component": "NOPE"}]}), 404,
                   "lines.0.component")  # fmt: skip
    assert_problem(api.client.put("/api/v1/products/MACHINE/route", headers=api.admin,
                                  json={"steps": [{"code": "A", "name": "a"},
                                                  {"code": "A", "name": "b"}]}),
                   422, "steps.1.code")  # fmt: skip
    back = api.get("/trace/backward", serial=built["machines"][0])
    assert back.json()["components"][0]["lot"] == "B-LOT"
    forward = api.get("/trace/forward", product="BOARD", lot="B-LOT")
    assert forward.json()["total"] == 3
    page = api.get("/trace/forward", product="BOARD", lot="B-LOT", limit=1, offset=2).json()
    assert (page["total"], len(page["items"])) == (3, 1)
    assert_problem(api.get("/trace/forward", lot="B-LOT"), 422)
    assert_problem(api.get("/trace/forward", equipment="X", since="2026-01-01T00:00:00"), 422)
    xlsx = api.get("/trace/forward", product="BOARD", lot="B-LOT", format="xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None and sheet.max_row == 4 and sheet.cell(1, 1).value == "serial"

    opened = api.post("/recalls", {"code": "RC-1", "title": "caps",
                                   "trace": {"product": "BOARD", "lot": "B-LOT"}})  # fmt: skip
    assert opened.status_code == 201 and opened.json()["units"] == 3
    assert_problem(api.post("/recalls", {"code": "RC-1", "title": "again",
                                         "trace": {"supplier": "SUP-A"}}), 409, "code")  # fmt: skip
    assert_problem(api.post("/recalls", {"code": "RC-2", "title": "x", "trace": {}}), 422)
    assert api.post("/recalls/RC-1/mark", {}).json()["marked"] == 3
    progress = api.get("/recalls/RC-1").json()
    assert progress["outcomes"]["in_stock"] == 3
    notices = api.get("/recalls/RC-1/notices", format="csv")
    assert notices.headers["content-type"].startswith("text/csv")
    assert notices.text.count("\n") == 4
    assert_problem(api.get("/recalls/NOPE"), 404)
    assert api.post("/recalls/RC-1/close", {}).json()["status"] == "closed"
    assert_problem(api.post("/recalls/RC-1/mark", {}), 422, "code")

    assert api.get("/quality/yield", by="operator").json()["items"] == []
    assert_problem(api.get("/quality/yield", by="colour"), 422, "by")
    assert_problem(api.get("/quality/defects", since="2026-01-01T00:00:00"), 422)
    assert api.get("/quality/defects", format="csv").text.startswith("defect_code,count")


def test_cli_trace_and_recall(cli, built: dict[str, list[str]], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    back = cli("trace", "back", built["machines"][1])
    assert back.exit_code == 0 and built["boards"][1] in back.output and "B-LOT" in back.output
    tree = json.loads(cli("trace", "back", built["machines"][1], "--json").stdout)
    assert tree["components"][0]["serial"] == built["boards"][1]
    out = tmp_path / "affected.csv"
    forward = cli("trace", "forward", "--product", "BOARD", "--lot", "B-LOT", "--out", str(out))
    assert forward.exit_code == 0 and "3 affected" in forward.output
    assert out.read_text().count("\n") == 4
    bad = cli("trace", "forward", "--lot", "B-LOT")
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    made = cli("recall", "create", "RC-9", "--title", "caps", "--supplier", "SUP-A")
    assert made.exit_code == 0 and "3 units" in made.output
    assert "3 units marked" in cli("recall", "mark", "RC-9").output
    show = cli("recall", "show", "RC-9")
    assert show.exit_code == 0 and "RC-9" in show.output
    assert cli("recall", "show", "NOPE").exit_code == 3
    route = tmp_path / "route.json"
    route.write_text('{"steps": [{"code": "FQC", "name": "Final QC"}]}')
    assert cli("product", "route", "MACHINE", str(route)).exit_code == 0
    broken = tmp_path / "broken.json"
    broken.write_text("{nope")
    failed = cli("product", "bom", "MACHINE", str(broken))
    assert failed.exit_code == 2 and "cannot read JSON" in failed.output
    assert cli("quality", "yield", "--by", "operator").exit_code == 0
    assert cli("ledger", "verify").exit_code == 0
