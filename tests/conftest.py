"""Fixtures: a fresh database per test on SQLite and, when available, PostgreSQL.

PostgreSQL tests need UNITRACE_TEST_PG_URL (scripts/test.sh starts a server and sets it).
With UNITRACE_REQUIRE_PG=1 (CI) a missing server fails the run instead of skipping.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import text

from tests.clients import Api
from unitrace.db import migrate
from unitrace.db.engine import Database
from unitrace.db.tables import metadata

PG_URL = os.environ.get("UNITRACE_TEST_PG_URL")
REQUIRE_PG = os.environ.get("UNITRACE_REQUIRE_PG") == "1"

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if PG_URL or REQUIRE_PG:
        return
    skip = pytest.mark.skip(reason="UNITRACE_TEST_PG_URL not set (scripts/test.sh sets it)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[Database]:
    if not PG_URL:
        pytest.fail("UNITRACE_REQUIRE_PG=1 but UNITRACE_TEST_PG_URL is not set")
    db = Database(PG_URL)
    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(db)
    yield db
    db.dispose()


def _truncate(db: Database) -> None:
    names = ", ".join(t.name for t in metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database of each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "unitrace.db"
        shutil.copy(template, path)
        database = Database(f"sqlite:///{path}")
        yield database
        database.dispose()
    else:
        database = request.getfixturevalue("pg_database")
        _truncate(database)
        yield database


@pytest.fixture
def fresh_database(
    db: Database, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], Database]]:
    """Another migrated, empty database of `db`'s backend at each call — to write the same
    thing more than one way and compare. PostgreSQL has one test database: each call after
    the first empties `db` again (read what you need from the last one before)."""
    made: list[Database] = []

    def make() -> Database:
        if not db.is_sqlite:
            if made:
                _truncate(db)
            made.append(db)
            return db
        path = tmp_path / f"fresh-{len(made)}.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        made.append(Database(f"sqlite:///{path}"))
        return made[-1]

    yield make
    for database in made:
        if database is not db:
            database.dispose()


@pytest.fixture
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Passwords hashed with argon2 at its cheapest: for tests that make many users or logins."""
    from argon2 import PasswordHasher

    from tests.factories import FAST_ARGON2
    from unitrace.access import service

    monkeypatch.setattr(service, "_hasher", PasswordHasher(**FAST_ARGON2))


@pytest.fixture
def api(db: Database) -> Iterator[Api]:
    """The REST API with an administrator's token (`api.admin`) and a reader's (`api.reader`)."""
    from fastapi.testclient import TestClient

    from unitrace.access import service as access
    from unitrace.access.principal import SYSTEM
    from unitrace.api.app import create_app

    access.create_user(db, SYSTEM, "alice", "correct horse battery", "admin")
    access.create_user(db, SYSTEM, "viewer", "correct horse battery", "readonly")
    admin = access.create_token(db, SYSTEM, "alice", "tests")["token"]
    reader = access.create_token(db, SYSTEM, "viewer", "tests")["token"]
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        yield Api(client, admin, reader)


@pytest.fixture
def shelves(db: Database) -> list[str]:
    """Stocktake's shelves: 20 units on shelf A and 10 on shelf B; 2 more in another
    warehouse (FAR)."""
    from tests.factories import make_location, make_product, record
    from unitrace.access.principal import SYSTEM
    from unitrace.ledger.schemas import CommissionIn
    from unitrace.ledger.service import commission_units

    make_product(db, "TV", rule=None)
    for code in ("A", "B", "FAR"):
        make_location(db, code, kind="bin")
    serials = commission_units(db, SYSTEM, CommissionIn(
        product="TV", serials=[f"T{n:03d}" for n in range(32)])).serials  # fmt: skip
    record(db, type="receive", product="TV", serials=serials[:20], location="A")
    record(db, type="receive", product="TV", serials=serials[20:30], location="B")
    record(db, type="receive", product="TV", serials=serials[30:], location="FAR")
    return serials


@pytest.fixture
def db_url(db: Database) -> str:
    return db.url


@pytest.fixture
def cli(db: Database, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """`unitrace` commands on the test's database: `cli("unit", "show", serial)`."""
    from typer.testing import CliRunner

    from unitrace.cli.main import app

    monkeypatch.setenv("UNITRACE_DATABASE_URL", db.url)
    runner = CliRunner()

    def run(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        return runner.invoke(app, list(args), input=input)

    return run


# Property tests check behaviour, not speed: no per-example deadline (a loaded two-core
# machine made a 200 ms deadline fail a correct test).
settings.register_profile("unitrace", deadline=None)
settings.load_profile("unitrace")
