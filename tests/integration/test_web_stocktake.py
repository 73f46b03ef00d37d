"""Stocktake pages: open a count, scan in scan-station style (counted, already counted, unknown),
close for the report of missing, unexpected and misplaced units, approve as a manager; every
refusal is a message on the page, never a 500."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.pages import field_error, login
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.channel import stocktake
from unitrace.db.engine import Database
from unitrace.ledger import queries


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(db), raise_server_exceptions=False) as test_client:
        yield test_client


def scanner(client: TestClient, csrf: str, code: str = "ST-1") -> Any:
    def scan(serial: str, where: str) -> str:
        answer = client.post(f"/stocktakes/{code}/scan", data={"serial": serial, "location": where},
                             headers={"X-CSRF-Token": csrf})  # fmt: skip
        assert answer.status_code == 200, answer.text
        found = re.search(r'data-testid="scan-(\w+)"', answer.text)
        assert found, answer.text
        return found.group(1)

    return scan


def serials_in(html: str, table: str) -> list[str]:
    body = html.split(f'data-testid="{table}"')[1].split("</table>")[0]
    return re.findall(r"<tr><td>(?:<a [^>]*>)?([^<\s]+)", body)


def location(db: Database, serial: str) -> str | None:
    found: str | None = queries.dossier(db, SYSTEM, serial, "TV")["location"]
    return found


def test_open_scan_close_and_approve_through_the_pages(
    client: TestClient,
    db: Database,
    shelves: list[str],  # noqa: F811
) -> None:
    csrf = login(client, db, "warehouse")
    page = client.get("/stocktakes")
    assert page.status_code == 200 and 'data-testid="stocktake-new"' in page.text
    assert '<option value="FAR"' in page.text
    bad = client.post("/stocktakes", data={"csrf_token": csrf, "code": "ST 1", "locations": "A"})
    assert bad.status_code == 422 and field_error(bad.text, "code")
    none = client.post("/stocktakes", data={"csrf_token": csrf, "code": "ST-1"})
    assert none.status_code == 422
    assert field_error(none.text, "locations") == "choose at least one location"
    wanted = {"csrf_token": csrf, "code": "ST-1", "locations": ["A", "B"]}
    opened = client.post("/stocktakes", data=wanted, follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == "/stocktakes/ST-1"
    count = client.get("/stocktakes/ST-1")
    assert re.search(r'data-testid="count-expected">30<', count.text)
    assert 'action="/stocktakes/ST-1/scan" data-count-scan' in count.text
    assert 'data-testid="approve"' not in count.text
    twice = client.post("/stocktakes", data={"csrf_token": csrf, "code": "ST-1", "locations": "A"})
    assert twice.status_code == 409 and "already exists" in twice.text

    scan = scanner(client, csrf)
    assert {scan(s, "A") for s in shelves[3:20]} == {"counted"}
    assert {scan(s, "B") for s in shelves[21:30]} == {"counted"}
    assert scan("T020", "A") == "counted"  # expected on B: misplaced
    assert scan("T030", "B") == "counted"  # known, in another warehouse: unexpected
    assert scan("NOT-OURS-1", "A") == "unknown"
    assert scan("T005", "A") == "again"
    assert scan("T006", "FAR") == "fail"  # FAR is not counted in ST-1
    assert scan("  ", "A") == "fail"
    assert stocktake.get_count(db, SYSTEM, "ST-1")["scanned"] == 17 + 9 + 3

    closed = client.post("/stocktakes/ST-1/close", data={"csrf_token": csrf})
    assert closed.status_code == 200 and 'data-testid="report"' in closed.text
    assert serials_in(closed.text, "missing-table") == ["T000", "T001", "T002"]
    assert sorted(serials_in(closed.text, "unexpected-table")) == ["NOT-OURS-1", "T030"]
    assert serials_in(closed.text, "misplaced-table") == ["T020"]
    assert 'data-testid="possible-loss"' not in closed.text
    assert scan("T007", "A") == "fail"  # the count is closed
    again = client.post("/stocktakes/ST-1/close", data={"csrf_token": csrf})
    assert again.status_code == 422 and 'data-testid="form-error"' in again.text

    refused = client.post("/stocktakes/ST-1/approve", data={"csrf_token": csrf})
    assert refused.status_code == 403 and "may not approve stocktake" in refused.text
    assert location(db, "T020") == "B"
    assert stocktake.get_count(db, SYSTEM, "ST-1")["status"] == "closed"

    admin = login(client, db, "admin")
    assert 'data-testid="approve"' in client.get("/stocktakes/ST-1").text
    approved = client.post("/stocktakes/ST-1/approve", data={"csrf_token": admin})
    assert approved.status_code == 200, approved.text
    assert "2 units moved" in approved.text and "3 units recorded as missing" in approved.text
    assert (location(db, "T020"), location(db, "T030")) == ("A", "B")
    assert client.post("/stocktakes/ST-1/approve", data={"csrf_token": admin}).status_code == 422


def test_wrong_csrf_is_refused_and_changes_nothing(
    client: TestClient,
    db: Database,
    shelves: list[str],  # noqa: F811
) -> None:
    login(client, db, "admin")
    form = {"csrf_token": "forged", "code": "ST-9", "locations": "A"}
    assert client.post("/stocktakes", data=form).status_code == 400
    assert client.get("/stocktakes/ST-9").status_code == 404
    stocktake.open_count(db, SYSTEM, "ST-2", ["A"])
    scan = client.post("/stocktakes/ST-2/scan", data={"csrf_token": "forged", "serial": "T003",
                                                      "location": "A"})  # fmt: skip
    assert scan.status_code == 400
    assert client.post("/stocktakes/ST-2/close", data={"csrf_token": "forged"}).status_code == 400
    assert stocktake.get_count(db, SYSTEM, "ST-2")["scanned"] == 0
    stocktake.close_count(db, SYSTEM, "ST-2")
    assert client.post("/stocktakes/ST-2/approve", data={"csrf_token": "x"}).status_code == 400
    assert stocktake.get_count(db, SYSTEM, "ST-2")["status"] == "closed"


def test_who_sees_what(client: TestClient, db: Database, shelves: list[str]) -> None:  # noqa: F811
    csrf = login(client, db, "readonly")
    page = client.get("/stocktakes")
    assert page.status_code == 200 and 'data-testid="stocktake-new"' not in page.text
    refused = client.post("/stocktakes", data={"csrf_token": csrf, "code": "ST-5",
                                               "locations": "A"})  # fmt: skip
    assert refused.status_code == 403 and 'data-testid="form-error"' in refused.text
    unknown = client.get("/stocktakes?code=NOPE")
    assert unknown.status_code == 404 and 'data-testid="count-missing"' in unknown.text
    stocktake.open_count(db, SYSTEM, "ST-3", ["A"])
    shown = client.get("/stocktakes/ST-3")
    assert shown.status_code == 200 and "data-count-scan" not in shown.text  # may look, not scan
    login(client, db, "partner")
    assert client.get("/stocktakes").status_code == 403
    assert client.get("/stocktakes/ST-3").status_code == 403
