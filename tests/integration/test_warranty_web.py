"""The warranty box of the unit page (verdict in words, extend/void/unvoid forms by role, errors
next to their fields in Chinese) and the product form's warranty fallback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.factories import make_location, make_product, make_units, record
from tests.pages import field_error, login
from unitrace.access.principal import SYSTEM
from unitrace.aftersales import warranty
from unitrace.api.app import create_app
from unitrace.catalog import service as catalog
from unitrace.db.engine import Database

ZH = {"Accept-Language": "zh-CN"}


@pytest.fixture
def app_client(db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        yield client


def _sold(db: Database, months_ago: int) -> str:
    make_product(db, warranty_months=24, warranty_start="sale")
    make_location(db)
    day = warranty.add_months(datetime.now(UTC).date(), -months_ago)
    sold = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    serial = make_units(db, count=1, event_time=sold - timedelta(days=30))[0]
    record(db, type="receive", serials=[serial], location="WH1", event_time=sold - timedelta(20))
    record(db, type="sell", serials=[serial], event_time=sold)
    return serial


def test_the_unit_page_says_the_verdict_in_chinese_and_a_service_agent_extends_it(
    app_client: TestClient, db: Database
) -> None:
    serial = _sold(db, 25)
    end = warranty.unit_warranty(db, SYSTEM, serial)["end_date"]
    csrf = login(app_client, db, "service", "zh-CN")

    page = app_client.get(f"/units/{serial}", headers=ZH)

    assert page.status_code == 200
    assert f"已过保（{end} 到期）" in page.text
    assert "24 个月，自销售日起" in page.text
    assert 'data-testid="warranty-extend"' in page.text
    assert 'data-testid="warranty-unvoid"' not in page.text

    bad = app_client.post(
        f"/units/{serial}/warranty/extend",
        headers=ZH,
        data={
            "csrf_token": csrf,
            "product": "AC1",
            "months": "0",
            "paid": "goodwill",
            "reason": "",
        },
    )
    assert bad.status_code == 422
    months_error = field_error(bad.text, "months")
    assert "1" in months_error and not months_error.isascii(), months_error  # in Chinese
    assert field_error(bad.text, "reason")
    assert warranty.unit_warranty(db, SYSTEM, serial)["extensions"] == []

    done = app_client.post(
        f"/units/{serial}/warranty/extend",
        headers=ZH,
        data={
            "csrf_token": csrf,
            "product": "AC1",
            "months": "12",
            "paid": "bought",
            "reason": "延保卡",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    shown = app_client.get(done.headers["location"], headers=ZH)
    assert "在保，至" in shown.text and "延保卡" in shown.text and "客户购买" in shown.text


def test_void_and_unvoid_forms_follow_the_role(app_client: TestClient, db: Database) -> None:
    serial = _sold(db, 2)
    csrf = login(app_client, db, "service", "zh-CN")
    voided = app_client.post(
        f"/units/{serial}/warranty/void",
        headers=ZH,
        data={"csrf_token": csrf, "product": "AC1", "reason": "私拆"},
        follow_redirects=False,
    )
    assert voided.status_code == 303
    page = app_client.get(f"/units/{serial}", headers=ZH)
    assert "已作废：私拆" in page.text
    assert 'data-testid="warranty-unvoid"' not in page.text  # service may not lift it
    forged = app_client.post(
        f"/units/{serial}/warranty/unvoid",
        headers=ZH,
        data={"csrf_token": csrf, "product": "AC1", "reason": "x"},
    )
    assert forged.status_code == 403
    assert warranty.unit_warranty(db, SYSTEM, serial)["status"] == "void"

    csrf = login(app_client, db, "admin", "zh-CN")
    page = app_client.get(f"/units/{serial}", headers=ZH)
    assert 'data-testid="warranty-unvoid"' in page.text
    lifted = app_client.post(
        f"/units/{serial}/warranty/unvoid",
        headers=ZH,
        data={"csrf_token": csrf, "product": "AC1", "reason": "误判"},
        follow_redirects=False,
    )
    assert lifted.status_code == 303
    assert warranty.unit_warranty(db, SYSTEM, serial)["status"] == "in_warranty"

    login(app_client, db, "readonly", "zh-CN")
    page = app_client.get(f"/units/{serial}", headers=ZH)
    assert "在保，至" in page.text and 'data-testid="warranty-extend"' not in page.text


def test_a_product_gets_a_fallback_start_from_its_form(
    app_client: TestClient, db: Database
) -> None:
    csrf = login(app_client, db, "admin")
    bad = app_client.post(
        "/products",
        data={
            "csrf_token": csrf,
            "code": "TV1",
            "name": "TV",
            "warranty_start": "sale",
            "warranty_fallback": "sale",
        },
    )
    assert bad.status_code == 422 and field_error(bad.text, "warranty_fallback")
    made = app_client.post(
        "/products",
        data={
            "csrf_token": csrf,
            "code": "TV1",
            "name": "TV",
            "warranty_months": "12",
            "warranty_start": "sale",
            "warranty_fallback": "shipment",
            "warranty_fallback_days": "90",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    product = catalog.get_product(db, SYSTEM, "TV1")
    assert (product["warranty_fallback"], product["warranty_fallback_days"]) == ("shipment", 90)
    cleared = app_client.post(
        "/products/TV1",
        data={
            "csrf_token": csrf,
            "name": "TV",
            "warranty_months": "12",
            "warranty_start": "sale",
            "warranty_fallback": "",
            "warranty_fallback_days": "",
        },
        follow_redirects=False,
    )
    assert cleared.status_code == 303, cleared.text
    product = catalog.get_product(db, SYSTEM, "TV1")
    assert (product["warranty_fallback"], product["warranty_fallback_days"]) == (None, 0)
