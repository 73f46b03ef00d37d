"""The channel: shipments of serials and ranges (all or nothing), item-level inventory from the
projection, and diversion (窜货) alerts raised by sightings outside the authorised regions."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from tests.factories import make_location, make_party, make_product, record
from unitrace.access.principal import SYSTEM
from unitrace.channel import service as channel
from unitrace.channel.service import ShipmentIn
from unitrace.core.errors import Conflict, InvalidTransition, NotFound, ValidationError
from unitrace.db.engine import Database
from unitrace.db.tables import shipments
from unitrace.ledger import queries
from unitrace.ledger.schemas import CommissionIn
from unitrace.ledger.service import commission_units


@pytest.fixture
def stock(db: Database) -> list[str]:
    """SN000100 … SN000299 received into WH1; D-EAST may sell in CN-31 only."""
    make_product(db, "TV", rule=None)
    make_location(db, "WH1", region="CN-44")
    make_location(db, "WH2", region="CN-44")
    make_party(db, "D-EAST", regions=["CN-31"])
    serials = commission_units(db, SYSTEM, CommissionIn(
        product="TV", serials=[f"SN{n:06d}" for n in range(100, 300)])).serials  # fmt: skip
    record(db, type="receive", product="TV", serials=serials, location="WH1")
    return serials


def test_a_range_with_one_unit_not_in_stock_ships_none_and_names_it(
    db: Database, stock: list[str]
) -> None:
    record(db, type="move", product="TV", serials=["SN000150"], location="WH2")
    record(db, type="ship", product="TV", serials=["SN000150"], party="D-EAST")
    wanted = ShipmentIn(party="D-EAST", product="TV", ranges=[{"from": "SN000100",
                                                                "to": "SN000199"}])  # fmt: skip
    with pytest.raises(InvalidTransition) as refused:
        channel.create_shipment(db, SYSTEM, wanted)
    assert "SN000150" in refused.value.detail and "in_transit" in refused.value.detail
    assert queries.dossier(db, SYSTEM, "SN000100", "TV")["status"] == "in_stock"
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(shipments)).scalar() == 0
    twice = ShipmentIn(party="D-EAST", product="TV", serials=["SN000205"],
                       ranges=[{"from": "SN000200", "to": "SN000209"}])  # fmt: skip
    with pytest.raises(ValidationError, match="more than once"):
        channel.create_shipment(db, SYSTEM, twice)
    made = channel.create_shipment(db, SYSTEM, ShipmentIn(
        number="DN-1", party="D-EAST", product="TV", serials=["SN000299"],
        ranges=[{"from": "SN000200", "to": "SN000249"}]))  # fmt: skip
    assert made["unit_count"] == 51
    with pytest.raises(Conflict):
        again = ShipmentIn(number="DN-1", party="D-EAST", product="TV", serials=["SN000250"])
        channel.create_shipment(db, SYSTEM, again)
    missing = ShipmentIn(party="D-EAST", product="TV", ranges=[{"from": "SN000290",
                                                                 "to": "SN000305"}])  # fmt: skip
    with pytest.raises(NotFound) as unknown:
        channel.create_shipment(db, SYSTEM, missing)
    assert "SN000300" in str([e.message for e in unknown.value.errors])


@pytest.mark.parametrize(("first", "last", "why"), [
    ("SN000200", "SN000100", "ends before"), ("SN100", "SN000200", "same number of digits"),
    ("AB000100", "SN000200", "same prefix"), ("SN000000", "SN999999", "at most"),
])  # fmt: skip
def test_bad_ranges_are_refused(first: str, last: str, why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        channel.expand_range(first, last, "ranges.0")


def test_sold_outside_the_authorised_region_raises_one_alert(
    db: Database, stock: list[str]
) -> None:
    channel.create_shipment(db, SYSTEM, ShipmentIn(number="DN-7", party="D-EAST", product="TV",
                                                   serials=stock[:3]))  # fmt: skip
    record(db, type="deliver", product="TV", serials=stock[:3])
    record(db, type="sell", product="TV", serials=[stock[0]], region="CN-31")  # allowed
    record(db, type="sell", product="TV", serials=[stock[1]], region="CN-31-SH")  # inside CN-31
    record(db, type="sell", product="TV", serials=[stock[2]], region="CN-44")  # diverted
    alerts = channel.list_alerts(db, SYSTEM)
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert["serial"], alert["distributor"], alert["shipment"], alert["seen_region"],
            alert["expected_regions"], alert["source"]) == (
        stock[2], "D-EAST", "DN-7", "CN-44", ["CN-31"], "sell")  # fmt: skip
    with pytest.raises(ValidationError, match="note"):
        channel.settle_alert(db, SYSTEM, alert["id"], "closed", "")
    channel.settle_alert(db, SYSTEM, alert["id"], "acknowledged", "asked D-EAST")
    channel.settle_alert(db, SYSTEM, alert["id"], "closed", "sold by sub-dealer; warned")
    assert channel.list_alerts(db, SYSTEM) == []
    assert channel.list_alerts(db, SYSTEM, status="closed")[0]["note"].startswith("sold by")


def test_inventory_is_the_projection(db: Database, stock: list[str]) -> None:
    record(db, type="move", product="TV", serials=stock[:20], location="WH2")
    record(db, type="ship", product="TV", serials=stock[:5], party="D-EAST")
    found = channel.inventory(db, SYSTEM, ["product", "location"])
    assert [(i["product"], i["location"], i["units"], i["total"]) for i in found["items"]] == [
        ("TV", "WH1", 180, 180), ("TV", "WH2", 15, 15)]  # fmt: skip
    shipped = channel.inventory(db, SYSTEM, ["status"], status="in_transit")
    assert shipped["total"] == 5
    with pytest.raises(ValidationError, match="not a status|unknown status"):
        channel.inventory(db, SYSTEM, ["status"], status="lost")


def test_two_clerks_ship_the_same_unit_once(db: Database, stock: list[str]) -> None:
    barrier = threading.Barrier(2)
    results: list[str] = []

    def clerk(number: str) -> None:
        barrier.wait()
        try:
            one = ShipmentIn(number=number, party="D-EAST", product="TV", serials=[stock[0]])
            channel.create_shipment(db, SYSTEM, one)
            results.append("shipped")
        except (Conflict, InvalidTransition):
            results.append("refused")

    threads = [threading.Thread(target=clerk, args=(n,)) for n in ("DN-A", "DN-B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["refused", "shipped"]
    events = [e for e in queries.dossier(db, SYSTEM, stock[0], "TV")["events"]
              if e["type"] == "ship"]  # fmt: skip
    assert len(events) == 1
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(shipments)).scalar() == 1


def test_channel_from_the_cli(db: Database, stock: list[str], cli, tmp_path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    shipped = cli("ship", "D-EAST", "SN000100..SN000109", "SN000150", "--product", "TV",
                  "--number", "DN-C")  # fmt: skip
    assert shipped.exit_code == 0 and "11 units shipped" in shipped.output
    again = cli("ship", "D-EAST", "SN000105", "--product", "TV")
    assert again.exit_code == 4 and "in_transit" in again.output
    stocked = cli("inventory", "--by", "product,location")
    assert stocked.exit_code == 0 and "189" in stocked.output
    record(db, type="deliver", product="TV", serials=["SN000100"])
    record(db, type="sell", product="TV", serials=["SN000100"], region="CN-44")
    listed = cli("diversion", "list")
    assert listed.exit_code == 0 and "SN000100" in listed.output and "DN-C" in listed.output
    alert = channel.list_alerts(db, SYSTEM)[0]["id"]
    assert cli("diversion", "close", str(alert), "--note", "").exit_code == 2
    assert cli("diversion", "close", str(alert), "--note", "warned").exit_code == 0
    scans = tmp_path / "scans.txt"
    scans.write_text("\n".join(stock[20:30]))
    assert cli("stocktake", "open", "ST-C", "WH1").exit_code == 0
    assert "10 serials counted" in cli("stocktake", "scan", "ST-C", "WH1", str(scans)).output
    closed = cli("stocktake", "close", "ST-C")
    assert closed.exit_code == 0 and "missing: 179" in closed.output
