"""Schemathesis generates requests from our OpenAPI schema: none may give a 500, and every
error must be a problem document. Runs on SQLite with a small catalog and a few units."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.factories import in_stock, make_lot
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.db import migrate
from unitrace.db.engine import Database

# CI runs a fixed, repeatable set; UNITRACE_FUZZ_EXPLORE=1 searches new random cases.
EXPLORE = os.environ.get("UNITRACE_FUZZ_EXPLORE") == "1"
EXAMPLES = 300 if EXPLORE else 50


@pytest.fixture(scope="module")
def app_and_token(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    path: Path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    in_stock(db, 5)
    make_lot(db, "AC1", "L1")
    access.create_user(db, SYSTEM, "fuzzer", "correct horse battery", "admin")
    token = access.create_token(db, SYSTEM, "fuzzer", "fuzz")["token"]
    yield create_app(db), token
    db.dispose()


@pytest.mark.slow
def test_no_request_makes_a_server_error(app_and_token) -> None:  # type: ignore[no-untyped-def]
    app, token = app_and_token
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), derandomize=not EXPLORE)  # fmt: skip
        def run(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            assert response.status_code < 500, (case.method, case.path, response.text)
            if response.status_code >= 400:
                content_type = response.headers["content-type"]
                if isinstance(content_type, list):
                    content_type = content_type[0]
                assert content_type.startswith("application/problem+json"), response.text
                body = response.json()
                assert body["status"] == response.status_code and body["detail"]

        run()
