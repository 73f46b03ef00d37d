"""Cartons and pallets: pack, scan the carton to move what is in it, unpack; refusals name
the unit or carton and why; two packers racing for one unit."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import func, select

from tests.factories import make_location, make_party, make_product, record
from unitrace.access.principal import SYSTEM, Actor
from unitrace.channel import service as channel
from unitrace.core.errors import Conflict, InvalidTransition, NotFound, ValidationError
from unitrace.db.engine import Database
from unitrace.db.tables import event_containers, units
from unitrace.ledger import queries
from unitrace.ledger.schemas import CommissionIn
from unitrace.ledger.service import commission_units

SSCC = "012345670000000015"  # GS1 check digit 5 is right for these 17 digits


@pytest.fixture
def stock(db: Database) -> list[str]:
    """TV00001 … TV00060 received into WH1."""
    make_product(db, "TV", rule=None)
    make_location(db, "WH1")
    make_location(db, "WH2")
    make_party(db, "D-EAST", regions=["CN-31"])
    serials = commission_units(db, SYSTEM, CommissionIn(
        product="TV", serials=[f"TV{n:05d}" for n in range(1, 61)])).serials  # fmt: skip
    record(db, type="receive", product="TV", serials=serials, location="WH1")
    return serials


def where(db: Database, serial: str) -> tuple[str, str | None]:
    unit = queries.dossier(db, SYSTEM, serial, "TV")
    return unit["status"], unit["location"]


def test_a_carton_of_24_moved_by_one_scan_moves_24_units(db: Database, stock: list[str]) -> None:
    packed = record(db, type="pack", product="TV", serials=stock[:24], container="CTN-1")
    assert packed.unit_count == 24
    moved = record(db, type="move", containers=["CTN-1"], location="WH2")
    assert moved.unit_count == 24
    assert {where(db, s) for s in stock[:24]} == {("in_stock", "WH2")}
    assert where(db, stock[24]) == ("in_stock", "WH1")  # not in the carton: not moved
    carton = channel.container(db, SYSTEM, "CTN-1")
    assert carton["location"] == "WH2" and carton["unit_count"] == 24
    assert [e["type"] for e in carton["events"]] == ["pack", "move"]
    assert queries.dossier(db, SYSTEM, stock[0], "TV")["container"] == "CTN-1"
    with db.read() as conn:
        linked = conn.execute(select(func.count()).select_from(event_containers)).scalar()
    assert linked == 2


def test_a_pallet_of_cartons_ships_whole_and_the_partner_unpacks_it(
    db: Database, stock: list[str]
) -> None:
    record(db, type="pack", product="TV", serials=stock[:24], container="CTN-1")
    record(db, type="pack", product="TV", serials=stock[24:48], container="CTN-2")
    record(db, type="pack", containers=["CTN-1", "CTN-2"], container=SSCC,
           container_kind="pallet")  # fmt: skip
    shipped = record(db, type="ship", containers=[f"(00){SSCC}"], party="D-EAST")
    assert shipped.unit_count == 48
    assert where(db, stock[47]) == ("in_transit", None)
    assert where(db, stock[48]) == ("in_stock", "WH1")
    pallet = channel.container(db, SYSTEM, SSCC)
    assert pallet["kind"] == "pallet" and pallet["holder"] == "D-EAST"
    assert [c["code"] for c in pallet["containers"]] == ["CTN-1", "CTN-2"]
    assert pallet["unit_count"] == 48
    record(db, type="deliver", containers=[SSCC])
    partner = Actor("d-east", "partner", party_id=_party_id(db, "D-EAST"))
    from unitrace.ledger import service as ledger
    from unitrace.ledger.schemas import EventIn

    [off] = ledger.record_events(db, partner, [EventIn(type="unpack", container=SSCC)])
    assert off.unit_count == 0  # two cartons come off; their units stay in them
    assert channel.container(db, SYSTEM, "CTN-1")["pallet"] is None
    [sold] = ledger.record_events(db, partner, [EventIn(type="sell", product="TV",
                                                        serials=[stock[0]])])  # fmt: skip
    assert sold.unit_count == 1
    assert channel.container(db, SYSTEM, "CTN-1")["unit_count"] == 23  # sold alone: it left


def _party_id(db: Database, code: str) -> int:
    from unitrace.db.tables import parties

    with db.read() as conn:
        return int(conn.execute(select(parties.c.id).where(parties.c.code == code)).scalar_one())


def test_a_unit_shipped_alone_leaves_its_carton(db: Database, stock: list[str]) -> None:
    record(db, type="pack", product="TV", serials=stock[:3], container="CTN-1")
    record(db, type="ship", product="TV", serials=[stock[0]], party="D-EAST")
    assert channel.container(db, SYSTEM, "CTN-1")["unit_count"] == 2
    assert queries.dossier(db, SYSTEM, stock[0], "TV")["container"] is None
    record(db, type="inspect", product="TV", serials=[stock[1]])  # looking is not taking out
    assert channel.container(db, SYSTEM, "CTN-1")["unit_count"] == 2


def test_refusals_name_the_unit_or_carton_and_write_nothing(db: Database, stock: list[str]) -> None:
    record(db, type="pack", product="TV", serials=stock[:3], container="CTN-1")
    with pytest.raises(InvalidTransition, match="already in CTN-1"):
        record(db, type="pack", product="TV", serials=[stock[2], stock[3]], container="CTN-2")
    assert channel.container(db, SYSTEM, "CTN-2", missing_ok=True) is None
    record(db, type="ship", product="TV", serials=[stock[5]], party="D-EAST")
    record(db, type="return", product="TV", serials=[stock[5]])  # back, not in stock yet
    record(db, type="pack", product="TV", serials=[stock[4]], container="CTN-3")
    with pytest.raises(InvalidTransition, match="different places"):
        record(db, type="pack", product="TV", serials=[stock[5]], container="CTN-3")
    # a carton holding a unit that may not be shipped: nothing of it ships
    record(db, type="pack", product="TV", serials=[stock[6], stock[7]], container="CTN-4")
    record(db, type="recall", product="TV", serials=[stock[7]])  # held, stays in its carton
    with pytest.raises(InvalidTransition) as held:
        record(db, type="ship", containers=["CTN-4"], party="D-EAST")
    assert stock[7] in held.value.detail and "recalled" in held.value.detail
    assert where(db, stock[6]) == ("in_stock", "WH1")
    with pytest.raises(NotFound) as unknown:
        record(db, type="move", containers=["CTN-9"], location="WH2")
    assert unknown.value.errors[0].field == "containers.0"
    with pytest.raises(ValidationError, match="check digit"):
        record(db, type="move", containers=["012345670000000017"], location="WH2")
    with pytest.raises(ValidationError, match="named twice"):
        record(db, type="move", product="TV", serials=[stock[0]], containers=["CTN-1"],
               location="WH2")  # fmt: skip
    with pytest.raises(ValidationError, match="only pack and unpack"):
        record(db, type="move", product="TV", serials=[stock[10]], container="CTN-1",
               location="WH2")  # fmt: skip
    with pytest.raises(InvalidTransition, match="not in carton CTN-1"):
        record(db, type="unpack", product="TV", serials=[stock[10]], container="CTN-1")
    with pytest.raises(ValidationError, match="a carton holds units"):
        record(db, type="pack", containers=["CTN-3"], container="CTN-1")
    record(db, type="unpack", container="CTN-3")
    with pytest.raises(ValidationError, match="is empty"):
        record(db, type="move", containers=["CTN-3"], location="WH2")
    with pytest.raises(ValidationError, match="is empty"):
        record(db, type="unpack", container="CTN-3")


def test_pack_is_idempotent_by_event_id(db: Database, stock: list[str]) -> None:
    first = record(db, event_id="pack-1", type="pack", product="TV", serials=stock[:2],
                   container="CTN-1")  # fmt: skip
    again = record(db, event_id="pack-1", type="pack", product="TV", serials=stock[:2],
                   container="CTN-1")  # fmt: skip
    assert not first.replayed and again.replayed
    with pytest.raises(Conflict):
        record(db, event_id="pack-1", type="pack", product="TV", serials=stock[:3],
               container="CTN-1")  # fmt: skip


def test_two_packers_racing_for_one_unit_pack_it_once(db: Database, stock: list[str]) -> None:
    barrier = threading.Barrier(2)
    results: list[str] = []

    def packer(carton: str) -> None:
        barrier.wait()
        try:
            record(db, type="pack", product="TV", serials=[stock[0], stock[1]], container=carton)
            results.append("packed")
        except (Conflict, InvalidTransition):
            results.append("refused")

    threads = [threading.Thread(target=packer, args=(c,)) for c in ("CTN-A", "CTN-B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["packed", "refused"]
    with db.read() as conn:
        homes = conn.execute(select(units.c.container_id).where(
            units.c.serial.in_(stock[:2]))).scalars().all()  # fmt: skip
    assert len(set(homes)) == 1 and None not in homes


def test_packing_from_the_cli(db: Database, stock: list[str], cli) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    packed = cli("pack", "CTN-1", *stock[:24], "--product", "TV")
    assert packed.exit_code == 0 and "24 units" in packed.output, packed.output
    assert cli("pack", "CTN-2", stock[30], "--product", "TV").exit_code == 0
    onto = cli("pack", "PAL-1", "--carton", "CTN-1", "--carton", "CTN-2", "--pallet")
    assert onto.exit_code == 0, onto.output
    shown = cli("container", "PAL-1")
    assert shown.exit_code == 0 and "pallet PAL-1 at WH1: 25 units" in shown.output
    shipped = cli("ship", "D-EAST", "--carton", "PAL-1", "--number", "DN-P")
    assert shipped.exit_code == 0 and "25 units shipped" in shipped.output, shipped.output
    again = cli("pack", "CTN-3", stock[0], "--product", "TV")
    assert again.exit_code != 0 and "already in CTN-1" in again.output
    unknown = cli("unpack", "NO-SUCH")
    assert unknown.exit_code != 0 and "no carton or pallet" in unknown.output
    out = cli("unpack", "PAL-1")
    assert out.exit_code == 0 and "0 units out" in out.output
    assert json.loads(cli("container", "CTN-1", "--json").stdout)["pallet"] is None
