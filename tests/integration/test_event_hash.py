"""An event's content hash tells a replay from a reused id — also for events recorded with the
hash of before issue 12 — and free-form JSON hashes the same in any key order; the unit lookups
of the write path find non-ASCII serials and events of more units than one lookup takes."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from sqlalchemy import func, select, update

from tests.clients import Api, assert_problem
from tests.factories import in_stock, make_location, make_party, make_product, record
from unitrace.access.principal import SYSTEM, Actor
from unitrace.core.errors import Conflict, NotFound
from unitrace.core.lifecycle import Status
from unitrace.db import fast
from unitrace.db.engine import Database
from unitrace.db.tables import events, locations, parties, units
from unitrace.ledger import group, queries
from unitrace.ledger import service as ledger
from unitrace.ledger.schemas import CommissionIn, EventIn
from unitrace.ledger.write import event_hash, legacy_event_hash, lookup_units


def _count(db: Database, table: Any) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _old_hash(event: EventIn) -> str:
    """The content hash as the write path computed it before issue 12, word for word."""
    content = event.model_dump(mode="json", exclude={"event_id"}, exclude_none=True)
    if not content.get("containers"):
        content.pop("containers", None)
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _record_with_the_legacy_hash(db: Database, event: EventIn) -> int:
    """Record `event` as the code before issue 12 did: its row keeps the old hash."""
    assert legacy_event_hash(event) == _old_hash(event)
    recorded = ledger.record_events(db, SYSTEM, [event])[0]
    with db.write() as conn:
        conn.execute(
            update(events)
            .where(events.c.event_id == event.event_id)
            .values(payload_hash=_old_hash(event))
        )
    return recorded.id


# --- events recorded with the legacy hash -----------------------------------------------------


def test_an_event_recorded_with_the_legacy_hash_is_a_replay_when_sent_again(db: Database) -> None:
    serials = in_stock(db, 1)
    make_location(db, "WH2")
    event = EventIn(
        event_id="old-1",
        type="move",
        product="AC1",
        serials=serials,
        location="WH2",
        biz_transactions=[{"type": "po", "id": "PO-1"}],
    )
    assert event_hash(event) != legacy_event_hash(event)  # else this test proves nothing
    pk = _record_with_the_legacy_hash(db, event)
    before = _count(db, events)
    again = ledger.record_events(db, SYSTEM, [event])[0]
    assert again.replayed and again.id == pk and again.event_id == "old-1"
    queued = group.submit(db, SYSTEM, event).result(timeout=30)  # the group writer's way
    assert queued.replayed and queued.id == pk
    assert _count(db, events) == before


def test_other_content_under_a_legacy_hashed_id_is_still_a_conflict(db: Database) -> None:
    serials = in_stock(db, 2)
    make_location(db, "WH2")
    event = EventIn(
        event_id="old-2", type="move", product="AC1", serials=[serials[0]], location="WH2"
    )
    _record_with_the_legacy_hash(db, event)
    before = _count(db, events)
    for changed in (
        event.model_copy(update={"location": "WH1"}),
        event.model_copy(update={"serials": [serials[1]]}),
    ):
        with pytest.raises(Conflict) as caught:
            ledger.record_events(db, SYSTEM, [changed])
        assert caught.value.errors[0].field == "event_id"
        with pytest.raises(Conflict):
            group.submit(db, SYSTEM, changed).result(timeout=30)
    assert _count(db, events) == before
    assert queries.dossier(db, SYSTEM, serials[1], "AC1")["location"] == "WH1"


def test_the_api_answers_a_legacy_hashed_event_as_a_replay_and_other_content_with_409(
    api: Api, db: Database
) -> None:
    serials = in_stock(db, 1)
    make_location(db, "WH2")
    body = {
        "event_id": "old-3",
        "type": "move",
        "product": "AC1",
        "serials": serials,
        "location": "WH2",
    }
    _record_with_the_legacy_hash(db, EventIn(**body))
    again = api.post("/events", body)
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert_problem(api.post("/events", {**body, "location": "WH1"}), 409, "event_id")


# --- free-form JSON in any key order ----------------------------------------------------------


def test_an_events_data_hashes_the_same_whatever_the_key_order() -> None:
    common = {"type": "inspect", "product": "AC1", "serials": ["SN1"]}
    one = EventIn(**common, data={"torque": 1.5, "notes": {"by": "li", "at": "L2"}, "ok": [1, 2]})
    other = EventIn(**common, data={"ok": [1, 2], "notes": {"at": "L2", "by": "li"}, "torque": 1.5})
    assert list(one.data) != list(other.data)
    assert event_hash(one) == event_hash(other)
    assert event_hash(one) != event_hash(EventIn(**common, data={**one.data, "torque": 1.6}))
    assert event_hash(one) != event_hash(EventIn(**common, data={**one.data, "ok": [2, 1]}))


def test_unit_attributes_hash_the_same_whatever_the_key_order() -> None:
    common = {"type": "commission", "product": "AC1", "serials": ["SN1"]}
    one = EventIn(**common, attributes={"colour": "red", "size": {"w": 1, "h": 2}})
    other = EventIn(**common, attributes={"size": {"h": 2, "w": 1}, "colour": "red"})
    assert event_hash(one) == event_hash(other)
    assert event_hash(one) != event_hash(EventIn(**common, attributes={"colour": "blue"}))


def test_an_event_sent_again_with_its_data_in_another_order_is_a_replay(
    api: Api, db: Database
) -> None:
    serials = in_stock(db, 1)
    body = {"event_id": "insp-1", "type": "inspect", "product": "AC1", "serials": serials}
    first = api.post("/events", {**body, "data": {"a": 1, "b": {"x": 1, "y": [1, 2]}}})
    assert first.status_code == 201, first.text
    again = api.post("/events", {**body, "data": {"b": {"y": [1, 2], "x": 1}, "a": 1}})
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert_problem(api.post("/events", {**body, "data": {"a": 2, "b": {"x": 1, "y": [1, 2]}}}), 409)


# --- lookups: non-ASCII serials and many units -------------------------------------------------

NON_ASCII = ["序列号-001", "Größe-2", "ΩMEGA-3", "Ñandú-5", "ア-6", "שלום-7", "Ünit-8"]


def _id_of(db: Database, table: Any, code: str) -> int:
    with db.read() as conn:
        return int(conn.execute(select(table.c.id).where(table.c.code == code)).scalar_one())


def test_lookups_find_units_with_non_ascii_serials(db: Database) -> None:
    make_product(db, "AC1", rule=None)
    make_product(db, "AC2", rule=None)
    make_location(db)
    make_party(db)
    ledger.commission_units(db, SYSTEM, CommissionIn(product="AC1", serials=NON_ASCII))
    ledger.commission_units(db, SYSTEM, CommissionIn(product="AC2", serials=["Größe-2"]))
    holder = _id_of(db, parties, "D-EAST")
    record(db, type="receive", product="AC1", serials=NON_ASCII, location="WH1")
    record(db, type="ship", product="AC1", serials=NON_ASCII[:4], party="D-EAST")
    with db.read() as conn:
        for held, wanted in ((None, NON_ASCII), (holder, NON_ASCII[:4])):
            by_product = [(f"serials.{i}", "AC1", s) for i, s in enumerate(wanted)]
            found = lookup_units(conn, by_product, held).take(by_product)  # many rows
            assert [u.serial for u in found] == wanted
            assert {u.product for u in found} == {"AC1"}
            for ref in by_product:  # one row: a scan
                assert [u.serial for u in lookup_units(conn, [ref], held).take([ref])] == [ref[2]]
            alone = [(f"units.{i}.serial", None, s) for i, s in enumerate(wanted) if s != "Größe-2"]
            assert [u.serial for u in lookup_units(conn, alone, held).take(alone)] == [
                s for s in wanted if s != "Größe-2"
            ]
        ambiguous = [("units.0.serial", None, "Größe-2"), ("units.1.serial", None, "序列号-001")]
        with pytest.raises(NotFound) as caught:
            lookup_units(conn, ambiguous).take(ambiguous)
        assert (
            caught.value.errors[0].message
            == "serial is used by products AC1, AC2: name the product"
        )
        outside = [("serials.0", "AC1", NON_ASCII[5])]  # not the partner's: like an unknown serial
        with pytest.raises(NotFound, match="no unit with serial"):
            lookup_units(conn, outside, holder).take(outside)


def test_a_partner_writes_on_its_units_with_non_ascii_serials(db: Database) -> None:
    make_product(db, "AC1", rule=None)
    make_location(db)
    make_party(db)
    ledger.commission_units(db, SYSTEM, CommissionIn(product="AC1", serials=NON_ASCII))
    record(db, type="receive", product="AC1", serials=NON_ASCII, location="WH1")
    record(db, type="ship", product="AC1", serials=NON_ASCII, party="D-EAST")
    partner = Actor("d-east", "partner", party_id=_id_of(db, parties, "D-EAST"))
    delivered = ledger.record_events(
        db, partner, [EventIn(type="deliver", product="AC1", serials=NON_ASCII[1:])]
    )[0]
    assert delivered.unit_count == len(NON_ASCII) - 1
    sold = ledger.record_events(
        db, partner, [EventIn(type="sell", units=[{"serial": NON_ASCII[1]}])]
    )[0]
    assert sold.unit_count == 1
    assert queries.dossier(db, SYSTEM, NON_ASCII[1], "AC1")["status"] == Status.SOLD.label
    assert queries.dossier(db, SYSTEM, NON_ASCII[2], "AC1")["status"] == Status.DELIVERED.label


MANY = 20_000 + 37  # more than one lookup takes (`lookup_units` chunks of 20,000)


@pytest.mark.slow
def test_an_event_of_more_units_than_one_lookup_takes_finds_them_all(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_product(db, "AC1", rule=None)
    make_location(db)
    make_location(db, "WH2")
    serials = [f"B{i:06d}" for i in range(MANY)]
    ledger.commission_units(db, SYSTEM, CommissionIn(product="AC1", serials=serials))
    lookups = {"n": 0}
    real = fast.Listed.rows

    def counted(self: fast.Listed, conn: Any, *params: Any) -> list[Any]:
        lookups["n"] += 1
        return real(self, conn, *params)

    monkeypatch.setattr(fast.Listed, "rows", counted)
    received = record(db, type="receive", product="AC1", serials=serials, location="WH1")
    assert received.unit_count == MANY and lookups["n"] == 2
    lookups["n"] = 0
    moved = record(db, type="move", units=[{"serial": s} for s in serials], location="WH2")
    assert moved.unit_count == MANY and lookups["n"] == 2
    wh2 = _id_of(db, locations, "WH2")
    with db.read() as conn:
        there = conn.execute(
            select(func.count()).select_from(units).where(units.c.location_id == wh2)
        ).scalar_one()
    assert there == MANY


def test_an_unknown_serial_past_the_first_chunk_is_named_alone(db: Database) -> None:
    make_product(db, "AC1", rule=None)
    make_location(db)
    serials = [f"B{i:06d}" for i in range(MANY)]
    ledger.commission_units(db, SYSTEM, CommissionIn(product="AC1", serials=serials))
    before = _count(db, events)
    with pytest.raises(NotFound) as caught:
        record(db, type="receive", product="AC1", serials=[*serials, "Z-NONE"], location="WH1")
    assert [(e.field, e.value) for e in caught.value.errors] == [(f"serials.{MANY}", "Z-NONE")]
    assert _count(db, events) == before
