"""The trace and recall pages in the user's language (issue 13): where a trace starts, a
recall's scope and creator, what closing and refused actions answer, and the affected units a
page at a time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.factories import make_location, make_lot, make_party, make_product, make_units, record
from tests.pages import login
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.db.engine import Database
from unitrace.production import recall
from unitrace.production.schemas import RecallIn, TraceQuery


@pytest.fixture
def plant(db: Database) -> Iterator[tuple[TestClient, Database]]:
    make_location(db, "WH1")
    make_party(db, "SUP-A", "supplier")
    make_product(db, "BOARD", rule="B{seq:5}")
    make_lot(db, "BOARD", "B-LOT", supplier="SUP-A")
    boards = make_units(db, "BOARD", 150, lot="B-LOT")
    record(db, type="receive", product="BOARD", serials=boards, location="WH1")
    recall.create_recall(db, SYSTEM, RecallIn(
        code="RC-1", title="板子", trace=TraceQuery(product="BOARD", lot="B-LOT")))  # fmt: skip
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        yield client, db


def test_trace_start_in_chinese_and_affected_units_a_page_at_a_time(
    plant: tuple[TestClient, Database],
) -> None:
    client, db = plant
    login(client, db, "quality", "zh-CN")
    client.headers["Accept-Language"] = "zh-CN"
    first = client.get("/trace?product=BOARD&lot=B-LOT")
    assert 'data-testid="affected-start">批次 BOARD/B-LOT<' in first.text  # was "lot BOARD/…"
    table = first.text.split('data-testid="affected-table"')[1].split("</table>")[0]
    assert table.count("<tr>") == 101  # the header and 100 units
    assert "第 1–100 件，共 150 件，第 1 / 2 页" in first.text
    second = client.get("/trace?product=BOARD&lot=B-LOT&page=2")
    table = second.text.split('data-testid="affected-table"')[1].split("</table>")[0]
    assert table.count("<tr>") == 51 and 'data-testid="affected-prev"' in second.text
    assert 'data-testid="affected-next"' not in second.text
    assert client.get("/trace?product=BOARD&lot=B-LOT&page=x").status_code == 200


def test_a_recall_reads_in_chinese_and_a_refused_action_is_shown_on_its_page(
    plant: tuple[TestClient, Database],
) -> None:
    client, db = plant
    csrf = login(client, db, "quality", "zh-CN")
    client.headers["Accept-Language"] = "zh-CN"
    page = client.get("/recalls/RC-1")
    assert 'data-testid="recall-scope">批次 BOARD/B-LOT<' in page.text  # was raw JSON
    assert "· 系统</dd>" in page.text  # was "system"
    closed = client.post("/recalls/RC-1/close", data={"csrf_token": csrf})
    assert 'data-testid="done">召回活动已关闭。<' in closed.text  # was "完成: closed"
    again = client.post("/recalls/RC-1/mark", data={"csrf_token": csrf})
    assert again.status_code == 409
    assert 'role="alert" data-testid="recall-error"' in again.text  # was a page titled 未找到
    assert "未找到" not in again.text and 'data-testid="holder-table"' in again.text
