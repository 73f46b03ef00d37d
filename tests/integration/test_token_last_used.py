"""An API token's `last_used_at` is set when it is used — through the routes and the scan fast
path alike — to the minute: a scanner's many requests a minute make one write, not one each."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event as sa_event
from sqlalchemy import update

from tests.factories import in_stock
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.db.engine import Database
from unitrace.db.tables import api_tokens


@pytest.fixture
def scanner(db: Database) -> Iterator[tuple[TestClient, dict[str, str]]]:
    access.create_user(db, SYSTEM, "scanner", "correct horse battery", "warehouse")
    token = access.create_token(db, SYSTEM, "scanner", "gun")["token"]
    access.forget_tokens()
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        yield client, {"Authorization": f"Bearer {token}"}


def last_used(db: Database) -> str | None:
    [token] = access.list_tokens(db, SYSTEM, "scanner")
    return token["last_used_at"]


def token_writes(db: Database) -> list[str]:
    seen: list[str] = []

    def spy(conn, cursor, statement, parameters, context, many):  # type: ignore[no-untyped-def]
        if statement.startswith("UPDATE api_tokens") and "last_used_at IS NULL" in statement:
            seen.append(statement)

    sa_event.listen(db.engine, "before_cursor_execute", spy)
    return seen


def test_a_token_in_use_gets_its_last_use_once_a_minute(
    db: Database, scanner: tuple[TestClient, dict[str, str]]
) -> None:
    client, auth = scanner
    serials = in_stock(db, 3)
    assert last_used(db) is None
    writes = token_writes(db)
    for serial in serials:  # the scan fast path
        event = {"type": "move", "product": "AC1", "serials": [serial], "location": "WH1"}
        assert client.post("/api/v1/events", json=event, headers=auth).status_code == 201
        access.forget_tokens()  # every request a lookup, as after the cache's seconds
    first = last_used(db)
    assert first is not None and len(writes) == 1, writes
    with db.write() as conn:  # a minute and more later
        old = access._now() - timedelta(minutes=2)
        conn.execute(update(api_tokens).values(last_used_at=old))
    assert client.get("/api/v1/units", headers=auth).status_code == 200  # a route
    assert len(writes) == 2 and last_used(db) is not None and last_used(db) > old.isoformat()
