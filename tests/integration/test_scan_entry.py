"""One HTTP entry for a scan (issue 12): POST /api/v1/events answers the same, byte for byte,
through the scan fast path and through the route; the fast path is an app setting; the web scan
station writes through the group writer like the API."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import make_location, make_party, make_product, make_units, record
from tests.integration.test_web import csrf_of
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.api.fastpath import ScanFastPath
from unitrace.config import Limits
from unitrace.db.engine import Database
from unitrace.ledger import group
from unitrace.ledger.group import GroupWriter

PASSWORD = "correct horse battery"
SERIALS = ["E-1", "E-2", "E-3", "E-4"]
LIMITS = Limits(max_body_bytes=4096, rate_per_token=0, rate_per_address=0)


def _ready(db: Database) -> dict[str, str]:
    """The same catalog, units and users in every database; the tokens of the users."""
    make_product(db, "AC1", rule=None)
    make_location(db)
    make_party(db)
    make_units(db, "AC1", None, serials=SERIALS)
    record(db, type="receive", product="AC1", serials=SERIALS[:3], location="WH1")
    tokens = {}
    for name, role in (("clerk", "warehouse"), ("viewer", "readonly")):
        access.create_user(db, SYSTEM, name, PASSWORD, role)
        tokens[name] = access.create_token(db, SYSTEM, name, "tests")["token"]
    return tokens


@pytest.fixture
def twins(sqlite_template: Path, tmp_path: Path) -> Iterator[list[tuple[Database, dict[str, str]]]]:
    """Two databases alike, one for each door."""
    made = []
    for name in ("fast", "route"):
        path = tmp_path / f"{name}.db"
        shutil.copy(sqlite_template, path)
        db = Database(f"sqlite:///{path}")
        made.append((db, _ready(db)))
    yield made
    for db, _tokens in made:
        db.dispose()


def _event(kind: str, serial: str, event_id: str, **more: Any) -> bytes:
    body = {"type": kind, "product": "AC1", "serials": [serial], "event_id": event_id, **more}
    return json.dumps(body).encode()


# (what, the user whose token is sent — None for none, "bad" for a wrong one — the body)
REQUESTS: list[tuple[str, str | None, bytes]] = [
    ("201 written", "clerk", _event("move", "E-1", "ev-1", location="WH1")),
    ("200 replayed", "clerk", _event("move", "E-1", "ev-1", location="WH1")),
    ("201 a list", "clerk", b"[" + _event("ship", "E-2", "ev-2", party="D-EAST") + b"]"),
    ("401 no token", None, _event("move", "E-1", "ev-3", location="WH1")),
    ("401 bad token", "bad", _event("move", "E-1", "ev-3", location="WH1")),
    ("403 role", "viewer", _event("move", "E-1", "ev-3", location="WH1")),
    ("422 not JSON", "clerk", b'{"type": "move", '),
    ("422 bad field", "clerk", b'{"type": "move", "serials": "E-1", "colour": 1}'),
    ("422 empty", "clerk", b""),
    ("404 unknown serial", "clerk", _event("move", "NO-SUCH", "ev-4", location="WH1")),
    ("409 state", "clerk", _event("ship", "E-2", "ev-5", party="D-EAST")),
    ("409 reused id", "clerk", _event("move", "E-3", "ev-1", location="WH1")),
    ("413 too large", "clerk", _event("move", "E-1", "ev-6", note="n" * 5000)),
]


def _answers(
    db: Database, tokens: dict[str, str], fast: bool, spy: list[str]
) -> list[tuple[int, list[tuple[bytes, bytes]], bytes]]:
    app = create_app(db, LIMITS, scan_fast_path=fast)
    answers = []
    with TestClient(app, raise_server_exceptions=False) as client:
        for what, user, body in REQUESTS:
            headers = {"Content-Type": "application/json"}
            if user is not None:
                headers["Authorization"] = f"Bearer {tokens.get(user, 'ut_not-a-token')}"
            before = len(spy)
            answer = client.post("/api/v1/events", content=body, headers=headers)
            assert answer.status_code == int(what[:3]), (what, answer.text)
            # the fast path answers whatever it is handed; what the limits refuse never
            # reaches either door
            reached = what[:3] not in ("401", "413")
            assert len(spy) - before == (1 if fast and reached else 0), what
            answers.append((answer.status_code, answer.headers.raw, answer.content))
    return answers


def test_the_fast_path_and_the_route_answer_byte_for_byte_alike(
    twins: list[tuple[Database, dict[str, str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    spy: list[str] = []
    answer = ScanFastPath.__call__

    async def counted(self: ScanFastPath, scope: Any, receive: Any, send: Any) -> None:
        spy.append(scope["path"])
        await answer(self, scope, receive, send)

    monkeypatch.setattr(ScanFastPath, "__call__", counted)
    (fast_db, fast_tokens), (route_db, route_tokens) = twins
    fast = _answers(fast_db, fast_tokens, True, spy)
    route = _answers(route_db, route_tokens, False, spy)
    for (what, _user, _body), one, other in zip(REQUESTS, fast, route, strict=True):
        assert one == other, what
    problem = json.loads(fast[9][2])
    assert problem["status"] == 404 and fast[9][1][1] == (
        b"content-type",
        b"application/problem+json",
    )


# --- the web scan station and the group writer -------------------------------------------


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[list[tuple[str, str]]]:
    """Each batch the group writer writes, as (user, serial) pairs."""
    batches: list[list[tuple[str, str]]] = []
    write = GroupWriter._write

    def spied(self: GroupWriter, jobs: list[Any], held: Any = None) -> None:
        batches.append([(job.actor.username, (job.event.serials or ["∅"])[0]) for job in jobs])
        write(self, jobs, held)

    monkeypatch.setattr(GroupWriter, "_write", spied)
    return batches


def _web_scan(client: TestClient, token: str, **form: str) -> Any:
    return client.post("/scan", data=form, headers={"X-CSRF-Token": token})


def test_web_scan_errors_come_from_the_group_writer_and_show_as_before(
    db: Database, writes: list[list[tuple[str, str]]]
) -> None:
    _ready(db)
    access.create_user(db, SYSTEM, "reader", PASSWORD, "readonly")
    with TestClient(create_app(db), raise_server_exceptions=False) as browser:
        log_in_as(browser, "clerk")
        token = csrf_of(browser.get("/scan").text)
        ok = _web_scan(browser, token, action="ship", serial="E-1", party="D-EAST")
        assert 'data-testid="scan-ok"' in ok.text
        again = _web_scan(browser, token, action="ship", serial="E-1", party="D-EAST")
        assert 'data-testid="scan-fail"' in again.text and "in_transit" in again.text
        unknown = _web_scan(browser, token, action="receive", serial="NOPE", location="WH1")
        assert 'data-testid="scan-fail"' in unknown.text and "Not found" in unknown.text
        long_po = _web_scan(
            browser, token, action="receive", serial="E-4", location="WH1", po="x" * 200
        )
        assert "Invalid input" in long_po.text and "at most 120 characters" in long_po.text
        browser.cookies.clear()
        log_in_as(browser, "reader")
        token = csrf_of(browser.get("/scan").text)
        refused = _web_scan(browser, token, action="receive", serial="E-4", location="WH1")
        assert (
            'data-testid="scan-fail"' in refused.text and "may not record receive" in refused.text
        )
    # written or refused by the group writer; the bad field never made an event
    assert [pair for batch in writes for pair in batch] == [
        ("clerk", "E-1"),
        ("clerk", "E-1"),
        ("clerk", "NOPE"),
        ("reader", "E-4"),
    ]


def log_in_as(client: TestClient, username: str) -> None:
    page = client.get("/login")
    answer = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def _until(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_web_scans_and_api_scans_are_written_in_one_batch(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the writer is busy, a web scan and an API scan queue; the next batch holds both,
    and both land."""
    tokens = _ready(db)
    access.create_user(db, SYSTEM, "station", PASSWORD, "warehouse")
    batches: list[list[tuple[str, str]]] = []
    busy, go_on = threading.Event(), threading.Event()
    write = GroupWriter._write

    def held(self: GroupWriter, jobs: list[Any], connections: Any = None) -> None:
        batches.append([(job.actor.username, job.event.serials[0]) for job in jobs])
        if len(batches) == 1:  # the first batch waits until the others have queued
            busy.set()
            assert go_on.wait(30)
        write(self, jobs, connections)

    monkeypatch.setattr(GroupWriter, "_write", held)
    app = create_app(db)
    api_headers = {"Authorization": f"Bearer {tokens['clerk']}"}
    answers: dict[str, Any] = {}

    def api_scan(serial: str) -> None:
        with TestClient(app) as client:
            body = {"type": "move", "product": "AC1", "serials": [serial], "location": "WH1"}
            answers[serial] = client.post("/api/v1/events", json=body, headers=api_headers)

    with TestClient(app) as browser:
        log_in_as(browser, "station")
        token = csrf_of(browser.get("/scan").text)

        def web_scan() -> None:
            form = {"action": "ship", "serial": "E-3", "party": "D-EAST"}
            answers["web"] = _web_scan(browser, token, **form)

        first = threading.Thread(target=api_scan, args=("E-1",))
        first.start()
        _until(busy.is_set)
        queued = [
            threading.Thread(target=web_scan),
            threading.Thread(target=api_scan, args=("E-2",)),
        ]
        for thread in queued:
            thread.start()
        _until(lambda: group._writer(db)._queue.qsize() == 2)
        go_on.set()
        for thread in (first, *queued):
            thread.join(30)
    assert answers["E-1"].status_code == 201 and answers["E-2"].status_code == 201
    assert 'data-testid="scan-ok"' in answers["web"].text
    assert batches[0] == [("clerk", "E-1")]
    assert sorted(batches[1]) == [("clerk", "E-2"), ("station", "E-3")]
    with TestClient(app) as client:
        for serial, status in (("E-1", "in_stock"), ("E-2", "in_stock"), ("E-3", "in_transit")):
            unit = client.get(f"/api/v1/units/{serial}", headers=api_headers).json()
            assert unit["status"] == status, unit
