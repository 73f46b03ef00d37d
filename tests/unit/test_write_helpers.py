"""Small helpers of the write path, against what they replaced (strftime, uuid)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from unitrace.ledger.write import json_text, new_event_id, utc_offset


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (timedelta(hours=8), "+08:00"),
        (timedelta(hours=-3, minutes=-30), "-03:30"),
        (timedelta(hours=5, minutes=45), "+05:45"),
        (timedelta(minutes=-30, seconds=-30), "-00:30"),
        (timedelta(0), "+00:00"),
    ],
)
def test_utc_offset_is_the_events_own_offset(offset: timedelta, expected: str) -> None:
    moment = datetime(2026, 11, 24, 12, 0, tzinfo=timezone(offset))
    assert utc_offset(moment) == expected
    assert utc_offset(moment) == f"{moment.strftime('%z')[:3]}:{moment.strftime('%z')[3:5]}"


def test_utc_offset_of_utc_and_naive_times() -> None:
    assert utc_offset(datetime.now(UTC)) == "+00:00"
    assert utc_offset(datetime(2026, 1, 1)) == "+00:00"


def test_new_event_ids_are_uuid7_urns_in_time_order() -> None:
    ids = [new_event_id() for _ in range(2000)]
    parsed = [uuid.UUID(i.removeprefix("urn:uuid:")) for i in ids]
    assert [f"urn:uuid:{p}" for p in parsed] == ids
    assert {p.version for p in parsed} == {7} and {p.variant for p in parsed} == {uuid.RFC_4122}
    assert len(set(ids)) == len(ids)
    millis = [p.int >> 80 for p in parsed]
    assert millis == sorted(millis)


@pytest.mark.parametrize(
    "value", [[], {}, [{"type": "po", "id": "PO-1"}], {"温度": 21.5, "ok": True}]
)
def test_json_text_is_what_the_column_would_store(value: object) -> None:
    # the text SQLAlchemy's JSON type would store on SQLite (on PostgreSQL the statement casts
    # the text to JSON; the integration tests read such events back on both databases)
    from sqlalchemy.dialects import sqlite

    from unitrace.db.tables import events

    dialect = sqlite.dialect()
    stored = events.c.data.type.dialect_impl(dialect).bind_processor(dialect)(value)
    assert json_text(value) == stored and json.loads(stored) == value
