"""Nothing happens to a unit before it exists: an event dated before the commission of a unit it
names is refused — one rule in the write pipeline, so the API (a scan through the group
writer, a list in one transaction), the sell-through import and the use cases all refuse it,
with an error naming event_time and the commission time, and nothing is written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.clients import Api, assert_problem
from tests.factories import make_location, make_party, make_product, make_units, record
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM
from unitrace.core.errors import ValidationError
from unitrace.db.engine import Database
from unitrace.ledger import queries

MADE = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
BEFORE = "2026-03-01T15:59:00+08:00"  # one minute before MADE, said at +08:00


@pytest.fixture
def made(db: Database) -> list[str]:
    make_product(db, "AC1", rule=None)
    make_location(db)
    make_party(db)
    return make_units(db, "AC1", None, serials=["A-1", "A-2"], event_time=MADE)


def timeline(db: Database, serial: str) -> list[str]:
    return [e["type"] for e in queries.dossier(db, SYSTEM, serial)["events"]]


def test_a_scan_dated_before_the_commission_is_refused(
    api: Api, db: Database, made: list[str]
) -> None:
    answer = api.post("/events", {"type": "receive", "product": "AC1", "serials": ["A-1"],
                                  "location": "WH1", "event_time": BEFORE})  # fmt: skip
    body = assert_problem(answer, 422, "event_time")
    assert body["detail"] == (
        "event_time 2026-03-01 15:59:00+08:00 is before the commission of AC1/A-1 at "
        "2026-03-01 16:00:00+08:00"
    ), body
    assert timeline(db, "A-1") == ["commission"]


def test_a_list_refuses_the_early_event_and_writes_none(
    api: Api, db: Database, made: list[str]
) -> None:
    on_time = {"type": "receive", "product": "AC1", "serials": ["A-2"], "location": "WH1"}
    early = {**on_time, "serials": ["A-1"], "event_time": BEFORE}
    assert_problem(api.post("/events", [on_time, early]), 422, "1.event_time")
    assert timeline(db, "A-2") == ["commission"]  # all or nothing


def test_the_commission_time_itself_and_later_are_accepted(db: Database, made: list[str]) -> None:
    record(db, type="receive", product="AC1", serials=["A-1"], location="WH1", event_time=MADE)
    later = MADE + timedelta(minutes=1)
    record(db, type="move", product="AC1", serials=["A-1"], location="WH1", event_time=later)
    assert timeline(db, "A-1") == ["commission", "receive", "move"]


def test_every_early_unit_is_named_and_a_parent_counts(db: Database, made: list[str]) -> None:
    with pytest.raises(ValidationError) as refused:
        record(db, type="receive", product="AC1", serials=["A-1", "A-2"], location="WH1",
               event_time=MADE - timedelta(days=1))  # fmt: skip
    assert [e.value for e in refused.value.errors] == ["A-1", "A-2"]
    make_product(db, "BOX", rule=None)
    box = make_units(db, "BOX", None, serials=["B-1"])  # commissioned now
    with pytest.raises(ValidationError, match="commission of BOX/B-1"):
        record(db, type="assemble", product="AC1", serials=["A-1"],
               parent={"product": "BOX", "serial": box[0]},
               event_time=MADE + timedelta(days=1))  # fmt: skip


def test_a_sell_through_row_dated_before_the_commission_is_refused(
    api: Api, db: Database, made: list[str]
) -> None:
    record(db, type="receive", product="AC1", serials=made, location="WH1", event_time=MADE)
    record(db, type="ship", product="AC1", serials=made, party="D-EAST")
    record(db, type="deliver", product="AC1", serials=made)
    access.create_user(db, SYSTEM, "east", "correct horse battery", "partner", "D-EAST")
    token = access.create_token(db, SYSTEM, "east", "upload")["token"]
    sheet = "serial,product,sold_at,region\nA-1,AC1,2026-02-28,CN-44\n"
    answer = api.client.post(
        "/api/v1/sell-through",
        files={"file": ("sales.csv", sheet.encode(), "text/csv")},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 422, answer.text
    assert "commission" in answer.text and "event_time" in answer.text, answer.text
    assert "sell" not in timeline(db, "A-1")
