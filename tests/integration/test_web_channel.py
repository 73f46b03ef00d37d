"""Channel pages: inventory with drill-down, shipments with ranges, diversion alerts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.factories import make_location, make_party, make_product, record
from tests.pages import login
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.channel import service as channel
from unitrace.db.engine import Database
from unitrace.ledger import queries
from unitrace.ledger.schemas import CommissionIn
from unitrace.ledger.service import commission_units


@pytest.fixture
def shop(db: Database) -> Iterator[tuple[TestClient, Database]]:
    make_product(db, "TV", rule=None)
    make_location(db, "WH1")
    make_party(db, "D-EAST", regions=["CN-31"])
    serials = commission_units(db, SYSTEM, CommissionIn(
        product="TV", serials=[f"SN{n:06d}" for n in range(100, 130)])).serials  # fmt: skip
    record(db, type="receive", product="TV", serials=serials, location="WH1")
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        yield client, db


def test_inventory_page_and_drill_down(shop: tuple[TestClient, Database]) -> None:
    client, db = shop
    login(client, db, "warehouse")
    page = client.get("/inventory?by=product,location")
    table = page.text.split('data-testid="inventory-table"')[1]
    assert "WH1" in table and ">30</a>" in table
    serials = client.get("/inventory/units?product=TV&status=in_stock&location=WH1")
    assert serials.text.count('<li><a href="/units/') == 30
    assert client.get("/inventory?status=lost").status_code == 422


def test_shipment_page_ships_a_range_or_names_what_blocks_it(
    shop: tuple[TestClient, Database],
) -> None:
    client, db = shop
    csrf = login(client, db, "sales")
    record(db, type="ship", product="TV", serials=["SN000105"], party="D-EAST")
    form = {"csrf_token": csrf, "party": "D-EAST", "product": "TV"}
    blocked = client.post("/shipments", data={**form, "ranges": "SN000100-SN000109"})
    assert blocked.status_code == 409 and "SN000105" in blocked.text
    assert queries.dossier(db, SYSTEM, "SN000100", "TV")["status"] == "in_stock"
    bad = client.post("/shipments", data={"csrf_token": csrf, "party": "D-EAST",
                                          "ranges": "SN000100-XY000109"})  # fmt: skip
    assert bad.status_code == 422 and "same prefix" in bad.text
    done = client.post("/shipments", data={**form, "number": "DN-9", "serials": "SN000100",
                                           "ranges": "SN000110 – SN000119"})  # fmt: skip
    assert done.status_code == 201 and 'data-testid="shipped"' in done.text and "DN-9" in done.text
    assert "11 units shipped" in done.text


def test_diversion_page_lists_and_closes_alerts(shop: tuple[TestClient, Database]) -> None:
    client, db = shop
    record(db, type="ship", product="TV", serials=["SN000100"], party="D-EAST")
    record(db, type="deliver", product="TV", serials=["SN000100"])
    record(db, type="sell", product="TV", serials=["SN000100"], region="CN-44")
    csrf = login(client, db, "sales")
    page = client.get("/diversions")
    table = page.text.split('data-testid="alert-table"')[1]
    assert "SN000100" in table and "CN-44" in table and "D-EAST" in table
    alert = channel.list_alerts(db, SYSTEM)[0]["id"]
    client.post(f"/diversions/{alert}/close", data={"csrf_token": csrf, "note": ""})
    assert channel.list_alerts(db, SYSTEM)  # a close needs a note: still open
    client.post(f"/diversions/{alert}/close", data={"csrf_token": csrf, "note": "warned"})
    assert channel.list_alerts(db, SYSTEM) == []
    login(client, db, "partner")
    assert client.get("/diversions").status_code == 403
    assert client.get("/shipments").status_code == 403
    assert client.get("/inventory").status_code == 403


def test_scan_station_packs_and_moves_a_carton_by_one_scan(
    shop: tuple[TestClient, Database],
) -> None:
    client, db = shop
    csrf = login(client, db, "warehouse")
    make_location(db, "WH2")
    head = {"X-CSRF-Token": csrf}
    for n in range(100, 124):
        packed = client.post("/scan", headers=head, data={"action": "pack", "serial": f"SN{n:06d}",
                                                          "container": "CTN-9"})  # fmt: skip
        assert 'data-testid="scan-ok"' in packed.text, packed.text
    no_box = client.post("/scan", headers=head, data={"action": "pack", "serial": "SN000125"})
    assert 'data-testid="scan-fail"' in no_box.text and "carton or pallet first" in no_box.text
    moved = client.post("/scan", headers=head, data={"action": "move", "serial": "CTN-9",
                                                     "location": "WH2"})  # fmt: skip
    assert 'data-testid="scan-ok"' in moved.text and "24 units" in moved.text
    assert channel.container(db, SYSTEM, "CTN-9")["location"] == "WH2"
    assert queries.dossier(db, SYSTEM, "SN000123", "TV")["location"] == "WH2"
    received = client.post(
        "/scan",
        headers=head,
        data={"action": "receive", "serial": "SN000124", "location": "WH1", "po": "PO-77"},
    )
    assert 'data-testid="scan-fail"' in received.text  # already in stock: refused, says why
    assert "in_stock" in received.text
    commission_units(db, SYSTEM, CommissionIn(product="TV", serials=["SN000200"]))
    received = client.post(
        "/scan",
        headers=head,
        data={"action": "receive", "serial": "SN000200", "location": "WH1", "po": "PO-77"},
    )
    assert 'data-testid="scan-ok"' in received.text
    last = queries.dossier(db, SYSTEM, "SN000200", "TV")["events"][-1]
    assert last["type"] == "receive" and last["biz_transactions"] == [{"type": "po", "id": "PO-77"}]
    emptied = client.post("/scan", headers=head, data={"action": "unpack", "serial": "CTN-9",
                                                       "container": "CTN-9"})  # fmt: skip
    assert 'data-testid="scan-ok"' in emptied.text and "24 units" in emptied.text
    assert channel.container(db, SYSTEM, "CTN-9")["unit_count"] == 0
