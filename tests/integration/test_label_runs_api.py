"""The print-run API: 202 with the run, its progress, its file, reprints with a reason."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from tests.clients import Api, assert_problem
from tests.factories import make_lot, make_product, make_units
from unitrace.access import audit
from unitrace.access.principal import SYSTEM
from unitrace.db.engine import Database
from unitrace.labels import runs


@pytest.fixture(autouse=True)
def labels_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNITRACE_HOME", str(tmp_path / "home"))


def _finished(api: Api, made: dict[str, object]) -> dict[str, object]:
    runs.wait(str(made["number"]))
    answer = api.get(f"/label-runs/{made['number']}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_post_answers_202_at_once_and_the_run_prints_in_the_background(
    api: Api, db: Database
) -> None:
    make_product(db, "AC1", gtin="09506000134352")
    make_lot(db, "AC1", "L1", expiry_date=date(2027, 12, 31))
    serials = make_units(db, "AC1", 100, lot="L1")
    answer = api.post("/label-runs", {"product": "AC1", "lot": "L1", "format": "zpl"})
    assert answer.status_code == 202, answer.text
    made = answer.json()
    assert made["total"] == 100 and made["status"] in ("queued", "running", "done")
    assert answer.headers["location"] == f"/api/v1/label-runs/{made['number']}"
    run = _finished(api, made)
    assert (run["status"], run["done"], run["percent"]) == ("done", 100, 100)
    assert run["file"] == f"/api/v1/label-runs/{made['id']}/file"
    got = api.client.get(str(run["file"]), headers=api.admin)
    assert got.status_code == 200 and got.headers["content-type"] == "application/zpl"
    assert f"{made['number']}.zpl" in got.headers["content-disposition"]
    blocks = re.findall(r"\^XA.*?\^XZ", got.text, flags=re.S)
    assert sorted(next(s for s in serials if f"/21/{s}" in b) for b in blocks) == sorted(serials)


def test_reprint_needs_a_reason_and_is_recorded(api: Api, db: Database) -> None:
    make_product(db, "AC1")
    serials = make_units(db, "AC1", 2)
    made = api.post("/label-runs", {"product": "AC1", "serials": serials}).json()
    _finished(api, made)
    assert_problem(api.post(f"/label-runs/{made['number']}/reprint", {}), 422)
    assert_problem(
        api.post(f"/label-runs/{made['number']}/reprint", {"reason": " "}), 422, "reason"
    )
    again = api.post(f"/label-runs/{made['number']}/reprint", {"reason": "torn"})
    assert again.status_code == 202, again.text
    run = _finished(api, again.json())
    assert (run["reprint_of"], run["reason"], run["status"]) == (made["number"], "torn", "done")
    trail = audit.list_records(db, SYSTEM, entity="label_run", entity_key=run["number"])
    assert [(r["action"], r["after"]["reason"]) for r in trail["items"]] == [("reprint", "torn")]


def test_bad_requests_are_named_problems_never_500(api: Api, db: Database) -> None:
    make_product(db, "AC1")
    assert_problem(api.post("/label-runs", {"product": "AC1"}), 422, "source")
    assert_problem(api.post("/label-runs", {"product": "AC1", "lot": "NOPE"}), 404, "lot")
    assert_problem(api.post("/label-runs", {"container": "CTN-NONE"}), 404, "container")
    assert_problem(api.post("/label-runs", {"commission": "nope"}), 404, "commission")
    assert_problem(api.post("/label-runs", {"lot": "L", "product": "AC1", "format": "x"}), 422)
    assert_problem(api.get("/label-runs/LR-999999"), 404, "run")
    assert_problem(api.get("/label-runs/junk/file"), 404, "run")


def test_the_file_of_a_run_not_printed_yet_is_a_conflict(api: Api, db: Database) -> None:
    from unitrace.labels.run_schemas import RunIn

    make_product(db, "AC1")
    serials = make_units(db, "AC1", 1)
    queued = runs.create_run(db, SYSTEM, RunIn(product="AC1", serials=serials))
    assert_problem(api.get(f"/label-runs/{queued['number']}/file"), 409, "run")
    listed = api.get("/label-runs").json()
    assert [r["number"] for r in listed] == [queued["number"]]
