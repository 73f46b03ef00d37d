"""Schemathesis generates requests from our OpenAPI schema: none may give a 500, and every
error must be a problem document. Runs on SQLite with a small catalog and a few units."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import _truncate as truncate
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
    token = access.create_token(db, SYSTEM, "fuzzer", "fuzz", trusted=True)["token"]
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


def _with_nul(value: Any) -> Any:
    """Every string of a generated value with a NUL in it (keys too)."""
    if isinstance(value, str):
        return value[: len(value) // 2] + "\x00" + value[len(value) // 2 :]
    if isinstance(value, dict):
        return {_with_nul(k): _with_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_nul(v) for v in value]
    return value


def _nul_case(case: Any) -> Any:
    for name in ("path_parameters", "query"):
        container = getattr(case, name)
        if container:  # the values: the names are the operation's
            setattr(case, name, {k: _with_nul(v) for k, v in container.items()})
    if isinstance(case.body, dict | list | str):
        case.body = _with_nul(case.body)
    return case


@pytest.fixture(scope="module")
def pg_app_and_token(pg_database: Database):  # type: ignore[no-untyped-def]
    truncate(pg_database)
    in_stock(pg_database, 5)
    make_lot(pg_database, "AC1", "L1")
    access.create_user(pg_database, SYSTEM, "fuzzer", "correct horse battery", "admin")
    token = access.create_token(pg_database, SYSTEM, "fuzzer", "fuzz", trusted=True)["token"]
    yield create_app(pg_database), token
    truncate(pg_database)


@pytest.mark.slow
@pytest.mark.postgres
def test_nul_in_any_string_makes_no_server_error_on_postgresql(pg_app_and_token) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL text cannot hold NUL: each string of each generated request carries one, in
    the path, the query and the JSON body; every answer must be a 4xx problem, never a 5xx."""
    app, token = pg_app_and_token
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    refused = 0
    for operation in operations:

        @given(case=operation.as_strategy().map(_nul_case))
        @settings(max_examples=EXAMPLES // 2, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), derandomize=not EXPLORE)  # fmt: skip
        def run(case) -> None:  # type: ignore[no-untyped-def]
            nonlocal refused
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            assert response.status_code < 500, (case.method, case.path, response.text)
            refused += response.status_code == 422

        run()
    assert refused > 0
