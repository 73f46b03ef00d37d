from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from tests.factories import in_stock, make_location, make_party, make_product, make_units, record
from unitrace.access.principal import SYSTEM, Actor
from unitrace.core.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationError
from unitrace.db.engine import Database
from unitrace.db.tables import event_units, events
from unitrace.ledger import queries
from unitrace.ledger.schemas import EventIn, UnitRef
from unitrace.ledger.service import record_events


def event_count(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(events)).scalar_one())


def test_shipping_a_unit_not_in_stock_names_unit_state_and_rule(db: Database) -> None:
    serials = in_stock(db, 2)
    fresh = make_units(db, count=1)[0]
    before = event_count(db)
    with pytest.raises(InvalidTransition) as info:
        record(db, type="ship", product="AC1", serials=[serials[0], fresh], party="D-EAST")
    message = info.value.detail
    assert fresh in message and "commissioned" in message and "in_stock" in message
    assert [e.value for e in info.value.errors] == [fresh]
    assert event_count(db) == before
    assert queries.dossier(db, SYSTEM, serials[0])["status"] == "in_stock"


def test_a_batch_is_all_or_nothing(db: Database) -> None:
    serials = in_stock(db, 2)
    before = event_count(db)
    with pytest.raises(InvalidTransition) as info:
        record_events(
            db,
            SYSTEM,
            [
                EventIn(type="ship", product="AC1", serials=[serials[0]], party="D-EAST"),
                EventIn(type="sell", product="AC1", serials=[serials[0]]),  # in transit now
            ],
        )
    assert info.value.errors[0].field.startswith("1.")
    assert event_count(db) == before
    assert queries.dossier(db, SYSTEM, serials[0])["status"] == "in_stock"


def test_selling_twice_and_repairing_scrapped_are_refused(db: Database) -> None:
    a, b = in_stock(db, 2)
    record(db, type="sell", product="AC1", serials=[a])
    with pytest.raises(InvalidTransition, match="sold"):
        record(db, type="sell", product="AC1", serials=[a])
    record(db, type="scrap", product="AC1", serials=[b])
    with pytest.raises(InvalidTransition, match="scrapped"):
        record(db, type="repair", product="AC1", serials=[b])


def test_required_fields_and_unknown_units(db: Database) -> None:
    (a,) = in_stock(db, 1)
    with pytest.raises(ValidationError) as info:
        record(db, type="ship", product="AC1", serials=[a])
    assert info.value.errors[0].field == "party"
    with pytest.raises(ValidationError) as info:
        record(db, type="move", product="AC1", serials=[a])
    assert info.value.errors[0].field == "location"
    with pytest.raises(NotFound) as info:
        record(db, type="inspect", product="AC1", serials=[a, "NOPE-1"])
    assert info.value.errors[0].field == "serials.1"
    with pytest.raises(NotFound) as info:
        record(db, type="inspect", product="NOPRODUCT", serials=[a])
    assert info.value.errors[0].field == "product"
    with pytest.raises(ValidationError, match="more than once"):
        record(db, type="inspect", product="AC1", serials=[a, a])
    with pytest.raises(Forbidden):
        record_events(
            db,
            Actor("viewer", "readonly", 5),
            [EventIn(type="inspect", product="AC1", serials=[a])],
        )


def test_idempotent_by_event_id(db: Database) -> None:
    a, b = in_stock(db, 2)
    event = EventIn(event_id="scan-1", type="move", product="AC1", serials=[a], location="WH1")
    first = record_events(db, SYSTEM, [event])[0]
    again = record_events(db, SYSTEM, [event])[0]
    assert not first.replayed and again.replayed and again.id == first.id
    with db.read() as conn:
        links = conn.execute(
            select(func.count()).select_from(event_units).where(event_units.c.event_id == first.id)
        ).scalar_one()
    assert links == 1
    with pytest.raises(Conflict) as info:
        record_events(db, SYSTEM, [event.model_copy(update={"serials": [b]})])
    assert info.value.errors[0].field == "event_id"


def test_serial_shared_by_two_products_needs_the_product(db: Database) -> None:
    make_product(db, "P1", rule=None)
    make_product(db, "P2", rule=None)
    from unitrace.ledger.schemas import CommissionIn
    from unitrace.ledger.service import commission_units

    for code in ("P1", "P2"):
        commission_units(db, SYSTEM, CommissionIn(product=code, serials=["SAME-1"]))
    with pytest.raises(NotFound, match="name the product"):
        record(db, type="inspect", units=[UnitRef(serial="SAME-1")])
    record(db, type="inspect", units=[UnitRef(serial="SAME-1", product="P2")])
    with pytest.raises(ValidationError) as info:
        queries.dossier(db, SYSTEM, "SAME-1")
    assert info.value.errors[0].field == "product"
    assert len(queries.dossier(db, SYSTEM, "SAME-1", "P2")["events"]) == 2


def test_assembly_genealogy_and_part_replacement(db: Database) -> None:
    make_location(db)
    for code in ("MACHINE", "MODULE", "BOARD"):
        make_product(db, code, rule=code[:2] + "{seq:4}")
    machine = make_units(db, "MACHINE", 1)[0]
    module = make_units(db, "MODULE", 1)[0]
    board, spare = make_units(db, "BOARD", 2)
    record(
        db,
        type="assemble",
        product="BOARD",
        serials=[board],
        parent=UnitRef(product="MODULE", serial=module),
    )
    record(
        db,
        type="assemble",
        product="MODULE",
        serials=[module],
        parent=UnitRef(product="MACHINE", serial=machine),
    )
    # the machine cannot go into its own board
    with pytest.raises(InvalidTransition, match="inside itself"):
        record(
            db,
            type="assemble",
            product="MACHINE",
            serials=[machine],
            parent=UnitRef(product="BOARD", serial=board),
        )
    # a board already installed cannot be installed twice
    with pytest.raises(InvalidTransition, match="installed"):
        record(
            db,
            type="assemble",
            product="BOARD",
            serials=[board],
            parent=UnitRef(product="MACHINE", serial=machine),
        )
    record(
        db,
        type="replace_part",
        product="BOARD",
        serials=[spare],
        parent=UnitRef(product="MODULE", serial=module),
        removed=[UnitRef(product="BOARD", serial=board)],
        data={"defect_code": "CAP"},
    )
    mod = queries.dossier(db, SYSTEM, module)
    assert mod["parent"]["serial"] == machine
    assert [c["serial"] for c in mod["components"]] == [spare]
    old = queries.dossier(db, SYSTEM, board)
    assert old["status"] == "returned" and old["parent"] is None
    assert [(e["type"], e["role"], e["parent"]) for e in old["events"]] == [
        ("commission", "subject", None),
        ("assemble", "subject", module),
        ("replace_part", "removed", module),
    ]
    record(
        db,
        type="disassemble",
        product="MODULE",
        serials=[module],
        parent=UnitRef(product="MACHINE", serial=machine),
        location="WH1",
    )
    assert queries.dossier(db, SYSTEM, machine)["components"] == []


def test_dossier_lists_events_oldest_first_with_offsets(db: Database) -> None:
    make_product(db, warranty_months=12, warranty_start="sale")
    make_location(db)
    make_party(db)
    cst = timezone(timedelta(hours=8))
    t0 = datetime(2026, 3, 1, 9, 0, tzinfo=cst)
    (unit,) = make_units(db, count=1, event_time=t0)
    # recorded out of order: the ship is sent before the receive, with later times
    record(
        db,
        type="receive",
        product="AC1",
        serials=[unit],
        location="WH1",
        event_time=t0 + timedelta(days=1),
    )
    record(
        db,
        type="ship",
        product="AC1",
        serials=[unit],
        party="D-EAST",
        event_time=t0 + timedelta(days=2),
        biz_transactions=[{"type": "desadv", "id": "DN1"}],
    )
    record(db, type="deliver", product="AC1", serials=[unit], event_time=t0 + timedelta(days=3))
    record(db, type="sell", product="AC1", serials=[unit], event_time=t0 + timedelta(days=10))
    found = queries.dossier(db, SYSTEM, unit)
    assert [e["type"] for e in found["events"]] == [
        "commission",
        "receive",
        "ship",
        "deliver",
        "sell",
    ]
    assert found["events"][0]["event_time"] == "2026-03-01T09:00:00+08:00"
    assert found["events"][2]["biz_step"] == "shipping"
    assert found["events"][2]["biz_transactions"] == [{"type": "desadv", "id": "DN1"}]
    assert found["holder"] == "D-EAST" and found["status"] == "sold"
    assert found["warranty"]["start_date"] == "2026-03-11"
    assert found["warranty"]["end_date"] == "2027-03-11"
    assert found["production_date"] == "2026-03-01"


def test_unit_list_filters_and_pages(db: Database) -> None:
    serials = in_stock(db, 7)
    record(db, type="ship", product="AC1", serials=serials[:3], party="D-EAST")
    page = queries.list_units(db, SYSTEM, status="in_stock", limit=2)
    assert [u["serial"] for u in page["items"]] == serials[3:5]
    page2 = queries.list_units(db, SYSTEM, status="in_stock", limit=2, after=int(page["next"]))
    assert [u["serial"] for u in page2["items"]] == serials[5:7] and page2["next"] is None
    held = queries.list_units(db, SYSTEM, holder="D-EAST", product="AC1")
    assert {u["serial"] for u in held["items"]} == set(serials[:3])
    with pytest.raises(ValidationError) as info:
        queries.list_units(db, SYSTEM, status="lost")
    assert info.value.errors[0].field == "status"
