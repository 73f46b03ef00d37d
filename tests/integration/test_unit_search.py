"""Unit search by the beginning of a serial, in the page and the API: prefix, upper case for a
lower-case typed serial where the product's rule makes only upper-case serials (not for
products with free serials), paged, a partner only among its units; on a serial index."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.clients import Api
from tests.factories import make_location, make_party, make_product, make_units, record
from tests.pages import login
from tests.plans import assert_no_full_scan, plan
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.db.engine import Database
from unitrace.db.tables import units
from unitrace.ledger import queries


@pytest.fixture
def shelf(db: Database) -> Database:
    make_product(db, "AC1", rule="AC{seq:5}")
    make_product(db, "FREE", rule=None)
    make_location(db)
    make_party(db)
    make_units(db, "AC1", 30)  # AC00001 … AC00030
    make_units(db, "FREE", None, serials=["ac00001-x", "AC-free"])
    return db


def serials(found: dict[str, object]) -> list[str]:
    return [u["serial"] for u in found["items"]]  # type: ignore[attr-defined,index]


def test_a_prefix_finds_units_in_serial_order_page_by_page(shelf: Database) -> None:
    first = queries.search_units(shelf, SYSTEM, "AC0001", limit=5)
    assert serials(first) == ["AC00010", "AC00011", "AC00012", "AC00013", "AC00014"]
    second = queries.search_units(shelf, SYSTEM, "AC0001", limit=5, after=int(first["next"]))
    assert serials(second) == ["AC00015", "AC00016", "AC00017", "AC00018", "AC00019"]
    assert second["next"] is None


def test_lower_case_finds_upper_case_serials_where_the_rule_allows(shelf: Database) -> None:
    found = serials(queries.search_units(shelf, SYSTEM, "ac0000"))
    assert found[:2] == ["AC00001", "AC00002"] and "ac00001-x" in found
    assert "AC-free" not in serials(queries.search_units(shelf, SYSTEM, "ac-"))  # free serials
    assert serials(queries.search_units(shelf, SYSTEM, "ac00001-")) == ["ac00001-x"]


def test_like_wildcards_are_plain_characters(shelf: Database) -> None:
    assert serials(queries.search_units(shelf, SYSTEM, "AC%")) == []
    assert serials(queries.search_units(shelf, SYSTEM, "AC_0")) == []


def test_the_api_searches_with_q(api: Api, shelf: Database) -> None:
    answer = api.get("/units", q="ac0003", limit=10)
    assert answer.status_code == 200, answer.text
    assert [u["serial"] for u in answer.json()["items"]] == ["AC00030"]
    mixed = api.get("/units", q="AC", status="in_stock")
    assert mixed.status_code == 422 and "status" in mixed.text


@pytest.fixture
def client(shelf: Database) -> Iterator[TestClient]:
    with TestClient(create_app(shelf), raise_server_exceptions=False) as client:
        yield client


def test_the_page_lists_matches_and_opens_a_whole_serial(client: TestClient, db: Database) -> None:
    login(client, db, "warehouse", "zh-CN")
    listed = client.get("/units?q=ac0002", headers={"Accept-Language": "zh-CN"})
    assert listed.status_code == 200 and "AC00020" in listed.text and "AC00029" in listed.text
    assert "序列号以 ac0002 开头的单品" in listed.text
    opened = client.get("/units?q=ac00007", follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == "/units/AC00007?product=AC1"
    none = client.get("/units?q=ZZ", headers={"Accept-Language": "zh-CN"})
    assert none.status_code == 404 and "没有序列号以 ZZ 开头的单品" in none.text


def test_a_partner_finds_only_its_units(client: TestClient, db: Database) -> None:
    login(client, db, "partner")  # party D-P
    record(db, type="receive", product="AC1", serials=["AC00001", "AC00002"], location="WH1")
    record(db, type="ship", product="AC1", serials=["AC00002"], party="D-P")
    page = client.get("/units?q=AC0000")
    table = page.text.split('data-testid="search-results"')[1]
    assert "AC00002" in table and "AC00001" not in table and "AC00003" not in table


def test_the_prefix_search_uses_the_serial_index(shelf: Database) -> None:
    conditions = queries._prefix_range(units.c.serial, "AC0001")
    statement = queries.unit_list_query(conditions).order_by(None).order_by(units.c.serial)
    assert_no_full_scan(shelf, statement, "units")
    assert "ix_units_serial" in plan(shelf, statement) or "uq_units" in plan(shelf, statement)
