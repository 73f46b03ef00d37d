"""The print-run pages: start a run, watch its progress (htmx polls until it is done),
download it, reprint with a reason; from the commission page; zh-CN and English."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.factories import make_lot, make_product, make_units
from tests.pages import login
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.db.engine import Database
from unitrace.labels import runs

pytestmark = pytest.mark.usefixtures("fast_hashing")
ZH = {"Accept-Language": "zh-CN"}


@pytest.fixture
def client(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("UNITRACE_HOME", str(tmp_path / "home"))
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        yield client


def _start(client: TestClient, csrf: str, headers: dict[str, str], **form: str) -> str:
    answer = client.post(
        "/labels/runs", data={"csrf_token": csrf, **form}, headers=headers, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    number = answer.headers["location"].rsplit("/", 1)[1]
    runs.wait(number)
    return number


def test_a_run_started_in_the_page_polls_its_progress_until_done_then_offers_the_file(
    client: TestClient, db: Database
) -> None:
    make_product(db, "AC1", gtin="09506000134352")
    make_lot(db, "AC1", "L1")
    make_units(db, "AC1", 30, lot="L1")
    csrf = login(client, db, "production", "zh-CN")
    page = client.get("/labels/runs", headers=ZH)
    assert page.status_code == 200 and "标签打印任务" in page.text and "还没有打印任务" in page.text
    number = _start(client, csrf, ZH, source="lot", product="AC1", lot="L1", format="zpl")
    shown = client.get(f"/labels/runs/{number}", headers=ZH)
    assert shown.status_code == 200 and f"打印任务 {number}" in shown.text
    fragment = client.get(f"/labels/runs/{number}/progress", headers=ZH).text
    assert 'data-status="done"' in fragment and "hx-trigger" not in fragment  # polling stops
    assert "已打印" in fragment and "已完成 30 / 共 30 张标签" in fragment
    got = client.get(f"/labels/runs/{number}/file")
    assert got.status_code == 200 and got.text.count("^XA") == 30
    listed = client.get("/labels/runs", headers=ZH).text
    assert f'data-testid="run-{number}"' in listed


def test_a_queued_run_polls_its_progress(client: TestClient, db: Database) -> None:
    from unitrace.labels.run_schemas import RunIn

    make_product(db, "AC1")
    serials = make_units(db, "AC1", 2)
    queued = runs.create_run(db, SYSTEM, RunIn(product="AC1", serials=serials))
    login(client, db, "warehouse")
    fragment = client.get(f"/labels/runs/{queued['number']}/progress").text
    assert 'hx-trigger="every 1s"' in fragment and "waiting to print" in fragment
    assert f'hx-get="/labels/runs/{queued["number"]}/progress"' in fragment


def test_a_reprint_needs_a_reason_said_in_chinese(client: TestClient, db: Database) -> None:
    make_product(db, "AC1")
    serials = make_units(db, "AC1", 2)
    csrf = login(client, db, "production", "zh-CN")
    number = _start(client, csrf, ZH, source="serials", product="AC1", serials="\n".join(serials))
    refused = client.post(
        f"/labels/runs/{number}/reprint", data={"csrf_token": csrf, "reason": ""}, headers=ZH
    )
    assert refused.status_code == 422 and "请说明重新打印标签的原因" in refused.text
    again = client.post(
        f"/labels/runs/{number}/reprint",
        data={"csrf_token": csrf, "reason": "标签污损"},
        headers=ZH,
        follow_redirects=False,
    )
    assert again.status_code == 303
    second = again.headers["location"].rsplit("/", 1)[1]
    runs.wait(second)
    page = client.get(f"/labels/runs/{second}", headers=ZH).text
    assert "重印自" in page and number in page and "标签污损" in page


def test_a_bad_source_is_refused_in_the_form(client: TestClient, db: Database) -> None:
    make_product(db, "AC1")
    csrf = login(client, db, "production", "zh-CN")
    answer = client.post(
        "/labels/runs",
        data={"csrf_token": csrf, "source": "lot", "product": "AC1", "lot": "NOPE"},
        headers=ZH,
    )
    assert answer.status_code == 404 and "未知批次" in answer.text


def test_the_commission_page_offers_to_print_what_it_made(client: TestClient, db: Database) -> None:
    make_product(db, "AC1")
    csrf = login(client, db, "production")
    made = client.post("/commission", data={"csrf_token": csrf, "product": "AC1", "count": "5"})
    assert made.status_code == 201 and 'data-testid="print-labels"' in made.text
    event = re.search(r'name="commission" value="([^"]+)"', made.text)
    assert event
    number = _start(client, csrf, {}, source="commission", commission=event.group(1))
    assert runs.get_run(db, SYSTEM, number)["done"] == 5


def test_a_partner_cannot_open_the_print_runs(client: TestClient, db: Database) -> None:
    login(client, db, "partner")
    assert client.get("/labels/runs").status_code == 403
    assert "/labels/runs" not in client.get("/").text  # not in its header
