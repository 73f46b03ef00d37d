"""Diversion (窜货) alerts on the floor (issue 13): a page at a time with counts over them all,
bulk acknowledge in one request and one transaction, region codes with their names, a close
without a note refused next to its note field, and the API's ack without a body."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.clients import Api
from tests.factories import make_location, make_party, make_product, record
from tests.pages import login
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.catalog import regions
from unitrace.channel import service as channel
from unitrace.core.errors import Conflict
from unitrace.db.engine import Database
from unitrace.db.tables import audit_log
from unitrace.ledger.schemas import CommissionIn
from unitrace.ledger.service import commission_units

ALERTS = 60


def _diverted(db: Database, count: int = ALERTS) -> list[str]:
    """`count` units shipped to D-EAST (CN-31 only) and sold in Guangdong: one alert each."""
    make_product(db, "TV", rule=None)
    make_location(db, "WH1")
    make_party(db, "D-EAST", regions=["CN-31"])
    serials = commission_units(db, SYSTEM, CommissionIn(
        product="TV", serials=[f"SN{n:06d}" for n in range(count)])).serials  # fmt: skip
    record(db, type="receive", product="TV", serials=serials, location="WH1")
    record(db, type="ship", product="TV", serials=serials, party="D-EAST")
    record(db, type="deliver", product="TV", serials=serials)
    record(db, type="sell", product="TV", serials=serials, region="CN-44")
    return serials


@pytest.fixture
def floor(db: Database) -> Iterator[tuple[TestClient, Database]]:
    _diverted(db)
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        yield client, db


def _rows(html: str) -> int:
    table = html.split('data-testid="alert-table"')[1].split("</table>")[0]
    return table.count('<tr data-testid="alert-')


def test_the_alert_list_comes_a_page_at_a_time_with_the_total(
    floor: tuple[TestClient, Database],
) -> None:
    client, db = floor
    login(client, db, "sales")
    first = client.get("/diversions")
    assert _rows(first.text) == 25
    assert "1 / 3 · 60" in first.text and 'data-testid="page-next"' in first.text
    third = client.get("/diversions?page=3")
    assert _rows(third.text) == 10 and 'data-testid="page-next"' not in third.text
    assert 'data-testid="count-open">60<' in third.text  # counts over every alert, not a page
    chart = third.text.split('id="by-region-data">')[1].split("</script>")[0]
    assert '"CN-44 Guangdong": 60' in chart  # the chart counts all alerts, not the page
    assert _rows(client.get("/diversions?page=99").text) == 10  # past the end: the last page
    assert client.get("/diversions?page=x").status_code == 200


def test_alerts_on_a_page_are_acknowledged_in_one_request_and_one_transaction(
    floor: tuple[TestClient, Database],
) -> None:
    client, db = floor
    csrf = login(client, db, "sales")
    page = client.get("/diversions?page=2")
    ids = [a["id"] for a in channel.list_alerts(db, SYSTEM, limit=25, offset=25)]
    picked = {"csrf_token": csrf, "status": "open", "page": "2", "note": "asked D-EAST"}
    done = client.post(
        "/diversions/ack", data={**picked, "scope": "selected", "ids": ids[:3]},
        follow_redirects=False,
    )  # fmt: skip
    assert done.status_code == 303 and "page=2" in done.headers["location"]
    shown = client.get(done.headers["location"])
    assert 'data-testid="acknowledged">3 alerts acknowledged' in shown.text
    assert 'data-testid="count-open">57<' in shown.text
    assert 'data-testid="count-acknowledged">3<' in shown.text
    whole = client.post("/diversions/ack", data={**picked, "scope": "page", "page_ids": ids})
    assert whole.status_code == 200  # followed to the list
    assert len(channel.list_alerts(db, SYSTEM, status="acknowledged")) == 25
    assert channel.list_alerts(db, SYSTEM, status="acknowledged")[0]["note"] == "asked D-EAST"
    assert "page" in page.text
    nothing = client.post("/diversions/ack", data={**picked, "scope": "selected"})
    assert nothing.status_code == 422 and 'data-testid="error-ids"' in nothing.text


def test_a_bulk_settle_with_one_closed_alert_writes_none(db: Database) -> None:
    _diverted(db, 3)
    first, second, third = (a["id"] for a in channel.list_alerts(db, SYSTEM))
    channel.settle_alert(db, SYSTEM, third, "closed", "warned")
    with db.read() as conn:
        audited = conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
    with pytest.raises(Conflict) as refused:
        channel.settle_alerts(db, SYSTEM, [first, second, third], "acknowledged", "")
    assert [e.value for e in refused.value.errors] == [third]
    assert len(channel.list_alerts(db, SYSTEM, status="open")) == 2
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(audit_log)).scalar_one() == audited


def test_regions_are_named_in_the_pages_language(floor: tuple[TestClient, Database]) -> None:
    client, db = floor
    login(client, db, "sales", lang="zh-CN")
    client.headers["Accept-Language"] = "zh-CN"
    table = client.get("/diversions").text.split('data-testid="alert-table"')[1]
    assert "CN-44 广东" in table and "CN-31 上海" in table
    client.headers["Accept-Language"] = "en"
    login(client, db, "sales")
    assert "CN-44 Guangdong" in client.get("/diversions").text
    assert regions.region_name("CN-GD", "zh-CN") == "广东"
    assert regions.region_name("CN-4403", "zh-CN") == "广东"  # a city: its province
    assert regions.region_label("XX-1", "zh-CN") == "XX-1"


def test_closing_without_a_note_is_a_field_error_next_to_the_note(
    floor: tuple[TestClient, Database],
) -> None:
    client, db = floor
    csrf = login(client, db, "sales", lang="zh-CN")
    client.headers["Accept-Language"] = "zh-CN"
    alert = channel.list_alerts(db, SYSTEM, limit=1, offset=30)[0]["id"]
    page = client.post(
        f"/diversions/{alert}/close", data={"csrf_token": csrf, "note": " ", "page": "2"}
    )
    assert page.status_code == 422
    assert "<title>未找到" not in page.text and "未找到" not in page.text.split("<main")[1]
    row = page.text.split(f'data-testid="alert-{alert}"')[1].split("</tr>")[0]
    assert f'data-testid="error-note-{alert}"' in row and 'aria-invalid="true"' in row
    assert "1 / 3" not in page.text and "2 / 3" in page.text  # still on the page it was on
    assert channel.list_alerts(db, SYSTEM, limit=100)[0]["status"] == "open"


def test_acknowledge_through_the_api_needs_no_body(db: Database, api: Api) -> None:
    _diverted(db, 3)
    first, second, third = (a["id"] for a in channel.list_alerts(db, SYSTEM))
    bare = api.client.post(f"/api/v1/diversions/{first}/ack", headers=api.admin)
    assert bare.status_code == 200, bare.text
    assert api.post(f"/diversions/{second}/ack", {"note": "asked"}).status_code == 200
    many = api.post("/diversions/ack", {"ids": [third]})
    assert many.status_code == 200 and many.json()["count"] == 1
    listed = api.get("/diversions", status="acknowledged", limit=2)
    assert len(listed.json()) == 2 and listed.headers["x-total-count"] == "3"
    unnoted = api.client.post(f"/api/v1/diversions/{first}/close", headers=api.admin)
    assert unnoted.status_code == 422 and "note" in unnoted.text


def test_the_answer_to_an_event_names_the_alerts_it_raised(db: Database, api: Api) -> None:
    make_product(db, "TV", rule=None)
    make_location(db, "WH1")
    make_party(db, "D-EAST", regions=["CN-31"])
    serials = commission_units(db, SYSTEM, CommissionIn(
        product="TV", serials=[f"SN{n:06d}" for n in range(4)])).serials  # fmt: skip
    record(db, type="receive", product="TV", serials=serials, location="WH1")
    record(db, type="ship", product="TV", serials=serials, party="D-EAST")
    record(db, type="deliver", product="TV", serials=serials)
    one = api.post("/events", {"type": "sell", "product": "TV", "serials": [serials[0]],
                               "region": "CN-44"})  # fmt: skip
    assert one.status_code == 201, one.text
    raised = one.json()["diversion_alerts"]
    assert raised["count"] == 1
    [alert] = raised["alerts"]
    assert alert == {
        "id": channel.list_alerts(db, SYSTEM)[0]["id"],
        "product": "TV",
        "serial": serials[0],
        "distributor": "D-EAST",
        "expected_regions": ["CN-31"],
        "seen_region": "CN-44",
    }
    batch = api.post("/events", [
        {"type": "sell", "product": "TV", "serials": serials[1:3], "region": "CN-44"},
        {"type": "sell", "product": "TV", "serials": [serials[3]], "region": "CN-31"},
    ])  # fmt: skip
    assert batch.status_code == 201, batch.text
    first, second = batch.json()
    assert [a["serial"] for a in first["diversion_alerts"]["alerts"]] == serials[1:3]
    assert "diversion_alerts" not in second  # sold where D-EAST may sell
