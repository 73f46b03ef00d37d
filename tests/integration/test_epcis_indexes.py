"""The EPCIS queries people wait on use indexes (EXPLAIN on SQLite and PostgreSQL): MATCH_epc
through the repository's index key and the ledger's event_units key, time ranges through the
time indexes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.factories import in_stock
from tests.plans import assert_no_full_scan, plan
from unitrace.access.principal import SYSTEM
from unitrace.db.engine import Database
from unitrace.interop.epcis import capture, query

GTIN = "09506000134352"


def _document(count: int) -> dict[str, Any]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    events = [
        {
            "type": "ObjectEvent",
            "action": "OBSERVE",
            "bizStep": "inspecting",
            "eventTime": (start + timedelta(minutes=i)).isoformat(),
            "eventTimeZoneOffset": "+00:00",
            "epcList": [f"urn:epc:id:sgtin:0614141.107346.{i}"],
        }
        for i in range(count)
    ]
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-01-01T00:00:00Z",
        "epcisBody": {"eventList": events},
    }


@pytest.fixture
def held(db: Database) -> Database:
    in_stock(db, 5)
    capture.capture(db, SYSTEM, _document(300))
    if not db.is_sqlite:
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    return db


def test_match_epc_finds_captured_events_by_the_index_key(held: Database) -> None:
    params = query.parse({"MATCH_epc": ["urn:epc:id:sgtin:0614141.107346.7"]})
    statement = query.repository_select(query.repository_conditions(params), None)
    assert_no_full_scan(held, statement, "epcis_events", "epcis_index")
    shown = plan(held, statement)
    reads = ("SCAN", "SEARCH", "Scan")  # the lines that read a table (not Group Key, Sort …)
    keyed = [
        line
        for line in shown.splitlines()
        if "epcis_index" in line and any(r in line for r in reads)
    ]
    assert keyed and all("SEARCH" in line or "Index" in line for line in keyed), shown


def test_a_time_range_uses_a_time_index(held: Database) -> None:
    params = query.parse(
        {"GE_eventTime": ["2026-01-01T01:00:00Z"], "LT_eventTime": ["2026-01-01T02:00:00Z"]}
    )
    statement = query.repository_select(query.repository_conditions(params), None)
    assert_no_full_scan(held, statement, "epcis_events")


def test_match_epc_on_the_ledger_goes_by_its_units(held: Database) -> None:
    with held.read() as conn:
        serial = conn.exec_driver_sql("SELECT serial FROM units LIMIT 1").scalar_one()
        conditions = query.ledger_conditions(
            conn, SYSTEM, query.parse({"MATCH_epc": [f"urn:unitrace:unit:AC1:{serial}"]})
        )
    assert conditions is not None
    assert_no_full_scan(held, query.ledger_select(conditions, None), "events", "event_units")
