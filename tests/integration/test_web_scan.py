"""The scan station (/scan) as each role uses it: the actions its role may record, each with the
fields it takes, refusals that name every missing field in the page's language, a partner
only on its own units, and the warnings of the write path shown with the answer."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.factories import in_stock, make_product, make_units, record
from tests.pages import login
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.db.engine import Database
from unitrace.ledger import queries
from unitrace.production import service as production
from unitrace.production.schemas import BomIn


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        yield client


def offered(page: str) -> list[str]:
    select = re.search(r'<select name="action".*?</select>', page, re.S)
    assert select, page[:400]
    return re.findall(r'<option value="([a-z_]+)"', select.group(0))


def scan(client: TestClient, csrf: str, lang: str = "en", **form: str) -> str:
    answer = client.post(
        "/scan", data=form, headers={"X-CSRF-Token": csrf, "Accept-Language": lang}
    )
    assert answer.status_code == 200, answer.text
    return answer.text


def last_event(db: Database, serial: str) -> dict[str, object]:
    events: list[dict[str, object]] = queries.dossier(db, SYSTEM, serial)["events"]
    return events[-1]


@pytest.mark.parametrize(
    ("role", "has", "lacks"),
    [
        ("warehouse", {"receive", "move", "ship", "deliver", "return", "pack"}, {"sell", "scrap"}),
        ("sales", {"ship", "deliver", "sell", "activate", "return"}, {"receive", "scrap"}),
        ("service", {"return", "repair", "activate", "verify", "receive", "ship", "move"},
         {"sell", "scrap"}),
        ("quality", {"inspect", "scrap", "verify"}, {"receive", "sell"}),
        ("partner", {"deliver", "sell", "activate", "return", "verify", "unpack"},
         {"receive", "move", "ship", "pack", "scrap"}),
    ],
)  # fmt: skip
def test_the_station_offers_the_actions_of_the_role_only(
    client: TestClient, db: Database, role: str, has: set[str], lacks: set[str]
) -> None:
    login(client, db, role)
    actions = set(offered(client.get("/scan").text))
    assert has <= actions and not (lacks & actions), actions


def test_readonly_user_gets_no_scan_form(client: TestClient, db: Database) -> None:
    login(client, db, "readonly")
    page = client.get("/scan").text
    assert 'data-testid="scan-input"' not in page and "records no scans" in page


def test_deliver_sell_return_repair_scrap_each_with_its_fields(
    client: TestClient, db: Database
) -> None:
    serials = in_stock(db, 4)
    record(db, type="ship", product="AC1", serials=serials[:3], party="D-EAST")
    csrf = login(client, db, "sales")
    ok = scan(client, csrf, action="deliver", serial=serials[0], party="D-EAST", location="WH1")
    assert 'data-testid="scan-ok"' in ok, ok
    sold = scan(client, csrf, action="sell", serial=serials[0], region="cn-44", location="WH1")
    assert 'data-testid="scan-ok"' in sold, sold
    event = last_event(db, serials[0])
    assert event["type"] == "sell" and event["region"] == "CN-44"  # typed cn-44
    assert event["location"] is None  # the location field was filled, but sell takes none
    assert queries.dossier(db, SYSTEM, serials[0])["status"] == "sold"
    csrf = login(client, db, "service")
    back = scan(client, csrf, action="return", serial=serials[0], reason="screen broken")
    assert 'data-testid="scan-ok"' in back, back
    assert last_event(db, serials[0])["data"] == {"reason": "screen broken"}
    fixed = scan(client, csrf, action="repair", serial=serials[0], reason="new screen")
    assert 'data-testid="scan-ok"' in fixed, fixed
    csrf = login(client, db, "quality")
    gone = scan(client, csrf, action="scrap", serial=serials[3], reason="dropped")
    assert 'data-testid="scan-ok"' in gone, gone
    assert queries.dossier(db, SYSTEM, serials[3])["status"] == "scrapped"


def test_every_missing_field_is_named_at_once_in_chinese(client: TestClient, db: Database) -> None:
    serials = in_stock(db, 1)
    csrf = login(client, db, "quality", "zh-CN")
    refused = scan(client, csrf, "zh-CN", action="scrap", serial=serials[0], reason="")
    assert 'data-testid="scan-fail"' in refused and "原因：此操作必填" in refused, refused
    csrf = login(client, db, "warehouse", "zh-CN")
    both = scan(client, csrf, "zh-CN", action="ship", serial=serials[0], region="x")
    assert "相关方：此操作必填" in both, both  # region is not read for a shipment
    assert queries.dossier(db, SYSTEM, serials[0])["status"] == "in_stock"  # nothing written


def test_a_region_not_written_like_a_code_is_refused(client: TestClient, db: Database) -> None:
    serials = in_stock(db, 1)
    csrf = login(client, db, "sales")
    refused = scan(client, csrf, action="sell", serial=serials[0], region="Guangdong")
    assert "Region: write a region code like CN-44" in refused, refused


def test_a_partner_scans_only_its_own_units(client: TestClient, db: Database) -> None:
    serials = in_stock(db, 2)
    csrf = login(client, db, "partner")  # makes party D-P
    record(db, type="ship", product="AC1", serials=[serials[0]], party="D-P")
    ok = scan(client, csrf, action="deliver", serial=serials[0])
    assert 'data-testid="scan-ok"' in ok, ok
    sold = scan(client, csrf, action="sell", serial=serials[0], region="CN-44")
    assert 'data-testid="scan-ok"' in sold, sold
    other = scan(client, csrf, action="sell", serial=serials[1], region="CN-44")
    assert 'data-testid="scan-fail"' in other and "Not found" in other, other
    warehouse = scan(client, csrf, action="receive", serial=serials[1], location="WH1")
    assert 'data-testid="scan-fail"' in warehouse and "Not permitted" in warehouse, warehouse
    assert queries.dossier(db, SYSTEM, serials[1])["status"] == "in_stock"


def test_the_write_paths_warnings_are_shown_with_the_answer(
    client: TestClient, db: Database
) -> None:
    make_product(db, "MODULE")
    in_stock(db, 1)  # AC1, WH1, D-EAST
    production.set_bom(
        db, SYSTEM, "AC1", BomIn(policy="warn", lines=[{"component": "MODULE", "quantity": 1}])
    )
    fresh = make_units(db, "AC1", 1)
    csrf = login(client, db, "warehouse")
    answer = scan(client, csrf, action="receive", serial=fresh[0], location="WH1")
    assert 'data-testid="scan-ok"' in answer and 'data-testid="scan-warning"' in answer, answer
    assert "MODULE" in answer
