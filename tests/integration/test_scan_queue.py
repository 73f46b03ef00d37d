"""The scan station's offline queue (issue 15, camera): every scan the page queues carries its own
event id and the time it was scanned, so that a scan sent twice — its answer lost, the tab closed
while it was on its way, two tabs sending one queue — is written once, also when the copies
arrive at the same moment; and it is written at the time it was scanned, not when it arrived."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.factories import make_location, make_party, make_product, make_units
from tests.integration.test_scan_entry import PASSWORD, log_in_as
from tests.integration.test_web import csrf_of
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.db import tables
from unitrace.db.engine import Database

SCANNED_AT = "2026-12-01T08:15:30.250000+00:00"
EVENT_ID = "3f1c8a52-8d7e-4b0e-9a53-1d2b6c7e9f10"


def _station(db: Database) -> TestClient:
    make_product(db, "AC1", rule=None)
    make_location(db)
    make_party(db)
    made = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # before the scans
    make_units(db, "AC1", None, serials=["Q-1", "Q-2"], event_time=made)
    access.create_user(db, SYSTEM, "station", PASSWORD, "warehouse")
    return TestClient(create_app(db))


def _queued_scan(
    client: TestClient, token: str, event_id: str = EVENT_ID, serial: str = "Q-1"
) -> Any:
    form = {"action": "receive", "serial": serial, "location": "WH1", "event_id": event_id,
            "event_time": SCANNED_AT}  # fmt: skip
    return client.post("/scan", data=form, headers={"X-CSRF-Token": token})


def _written(db: Database, event_id: str) -> list[Any]:
    with db.engine.connect() as conn:
        return list(conn.execute(select(tables.events).where(tables.events.c.event_id == event_id)))


def _receives(db: Database) -> int:
    query = select(func.count()).select_from(tables.events).where(tables.events.c.type == "receive")
    with db.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def test_a_queued_scan_sent_twice_is_written_once_at_the_time_it_was_scanned(
    db: Database,
) -> None:
    with _station(db) as browser:
        log_in_as(browser, "station")
        token = csrf_of(browser.get("/scan").text)
        first, again = _queued_scan(browser, token), _queued_scan(browser, token)
    assert 'data-testid="scan-ok"' in first.text and 'data-testid="scan-ok"' in again.text
    rows = _written(db, EVENT_ID)
    assert len(rows) == 1 and _receives(db) == 1
    assert rows[0].event_time.isoformat().startswith("2026-12-01T08:15:30.25")


def test_copies_of_one_queued_scan_arriving_together_are_written_once(db: Database) -> None:
    """Eight copies at once (the group writer may take them into one batch): one event, and
    every copy is answered as recorded."""
    answers: list[Any] = []
    with _station(db) as browser:
        log_in_as(browser, "station")
        token = csrf_of(browser.get("/scan").text)
        start = threading.Barrier(8)

        def send() -> None:
            with TestClient(browser.app, cookies=browser.cookies) as client:
                start.wait(10)
                answers.append(_queued_scan(client, token))

        threads = [threading.Thread(target=send) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert len(answers) == 8
    assert all('data-testid="scan-ok"' in a.text for a in answers), [a.text for a in answers]
    assert len(_written(db, EVENT_ID)) == 1 and _receives(db) == 1


def test_an_event_id_reused_for_another_scan_is_refused_and_named(db: Database) -> None:
    with _station(db) as browser:
        log_in_as(browser, "station")
        token = csrf_of(browser.get("/scan").text)
        _queued_scan(browser, token)
        other = _queued_scan(browser, token, serial="Q-2")
    assert 'data-testid="scan-fail"' in other.text and EVENT_ID in other.text
    assert len(_written(db, EVENT_ID)) == 1 and _receives(db) == 1


def test_scans_without_an_event_id_are_each_written(db: Database) -> None:
    """The station's ids are its own: two scans of the page without one are two events."""
    with _station(db) as browser:
        log_in_as(browser, "station")
        token = csrf_of(browser.get("/scan").text)
        for serial in ("Q-1", "Q-2"):
            form = {"action": "receive", "serial": serial, "location": "WH1"}
            answer = browser.post("/scan", data=form, headers={"X-CSRF-Token": token})
            assert 'data-testid="scan-ok"' in answer.text
    assert _receives(db) == 2


def test_the_scan_worker_is_served_as_a_script(db: Database) -> None:
    with _station(db) as client:
        answer = client.get("/scan-worker.js")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/javascript")
    assert "caches" in answer.text and answer.headers["cache-control"] == "no-cache"
