"""Inventory figures that add up: a warehouse counts what its bins hold, recalled units on the
shelf are still counted (flagged), and the page drills down warehouse → bins → units."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.factories import make_product, make_units, record
from tests.pages import login
from tests.plans import assert_no_full_scan
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.catalog import service as catalog
from unitrace.catalog.schemas import LocationCreate
from unitrace.channel import service as channel
from unitrace.channel.inventory import inventory_query
from unitrace.db.engine import Database


@pytest.fixture
def bins(db: Database) -> list[str]:
    """Site SZ → warehouse SZ-FG → bins A01 (30 units, 4 recalled) and A02 (10); 5 at SZ-QC."""
    for code, kind, parent in (
        ("SZ", "site", None),
        ("SZ-FG", "warehouse", "SZ"),
        ("SZ-FG-A01", "bin", "SZ-FG"),
        ("SZ-FG-A02", "bin", "SZ-FG"),
        ("SZ-QC", "station", "SZ"),
    ):
        location = LocationCreate(code=code, name=f"库位 {code}", kind=kind, parent=parent)
        catalog.create_location(db, SYSTEM, location)
    make_product(db)
    serials = make_units(db, count=45)
    record(db, type="receive", product="AC1", serials=serials[:30], location="SZ-FG-A01")
    record(db, type="receive", product="AC1", serials=serials[30:40], location="SZ-FG-A02")
    record(db, type="receive", product="AC1", serials=serials[40:], location="SZ-QC")
    record(db, type="recall", product="AC1", serials=serials[:4])
    return serials


def test_a_warehouse_counts_what_its_bins_hold_and_recalled_units_stay_counted(
    db: Database, bins: list[str]
) -> None:
    found = channel.inventory(db, SYSTEM, ["location"])
    rows = {i["location"]: i for i in found["items"]}
    assert [i["location"] for i in found["items"]] == [
        "SZ", "SZ-FG", "SZ-FG-A01", "SZ-FG-A02", "SZ-QC"
    ]  # fmt: skip
    assert (rows["SZ-FG"]["units"], rows["SZ-FG"]["total"]) == (0, 40)
    assert (rows["SZ"]["total"], rows["SZ"]["total_recalled"]) == (45, 4)
    assert (rows["SZ-FG-A01"]["units"], rows["SZ-FG-A01"]["recalled"]) == (30, 4)
    assert rows["SZ-FG-A01"]["parent"] == "SZ-FG" and rows["SZ-FG-A01"]["depth"] == 2
    assert found["total"] == 45  # each unit once, the recalled four included
    below = channel.inventory(db, SYSTEM, ["product", "location"], location="SZ-FG")
    assert [(i["location"], i["units"], i["total"]) for i in below["items"]] == [
        ("SZ-FG", 0, 40), ("SZ-FG-A01", 30, 30), ("SZ-FG-A02", 10, 10)
    ]  # fmt: skip
    assert below["total"] == 40
    recalled = channel.inventory(db, SYSTEM, ["status"], status="recalled")
    assert recalled["items"] == [{"status": "recalled", "units": 4, "recalled": 4}]


def test_inventory_reads_use_indexes(db: Database, bins: list[str]) -> None:
    by_place = inventory_query(["product", "location"], None, {3, 4})
    assert_no_full_scan(db, by_place, "units")


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(db), raise_server_exceptions=False) as c:
        yield c


def test_the_page_drills_down_warehouse_to_bins_to_units(
    client: TestClient, db: Database, bins: list[str]
) -> None:
    login(client, db, "warehouse", "zh-CN")
    page = client.get("/inventory?by=location").text
    warehouse = re.search(r'data-location="SZ-FG">(.*?)</tr>', page, re.S)
    assert warehouse is not None
    below = re.search(r'href="/inventory\?([^"]+)" data-testid="inventory-below">40<', warehouse[1])
    assert below is not None, warehouse[1]
    bins_page = client.get("/inventory?" + below[1].replace("&amp;", "&")).text
    a01 = re.search(r'data-location="SZ-FG-A01">(.*?)</tr>', bins_page, re.S)
    assert a01 is not None and 'data-testid="inventory-recalled">4<' in a01[1]
    own = re.search(r'href="/inventory/units\?([^"]+)" data-testid="inventory-own">30<', a01[1])
    assert own is not None
    listed = client.get("/inventory/units?" + own[1].replace("&amp;", "&")).text
    assert sum(s in listed for s in bins[4:30]) == 26 and bins[0] not in listed
    recalled = re.search(
        r'href="/inventory/units\?([^"]+)" data-testid="inventory-recalled"', a01[1]
    )
    assert recalled is not None
    flagged = client.get("/inventory/units?" + recalled[1].replace("&amp;", "&")).text
    assert all(s in flagged for s in bins[:4])
