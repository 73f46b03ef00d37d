"""Staff and the buyer's personal data (issue 16): `GET /api/v1/units/{serial}/owners`, the
/owners page and `unitrace owners SERIAL` show the registration's contact and the owner
history only to roles with owners.read, and every read writes an audit record; a role without
it gets 403 and sees the contact nowhere — not in the unit's API answer, not on its dossier."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.clients import Api
from tests.owners_setup import fake_normalise, sold_units
from tests.pages import login
from unitrace.aftersales import warranty
from unitrace.db.engine import Database
from unitrace.db.tables import audit_log
from unitrace.verify import owners

PHONE, EMAIL, NAME = "13700137000", "buyer@example.cn", "王小明"


@pytest.fixture
def registered(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    fake_normalise(monkeypatch)
    serials, codes = sold_units(db, ownership=True)
    day = (warranty.today() - timedelta(days=1)).isoformat()
    data = owners.Registration(day, "CN-31", NAME, PHONE, EMAIL)
    owners.register(db, codes[serials[0]], data)
    yield serials[0]


def _reads(db: Database) -> list[Any]:
    with db.read() as conn:
        query = select(audit_log).where(
            audit_log.c.entity == "owners", audit_log.c.action == "read"
        )
        return conn.execute(query).all()


def test_the_api_shows_the_contact_to_owners_read_and_audits_the_read(
    db: Database, api: Api, registered: str
) -> None:
    answer = api.get(f"/units/{registered}/owners")
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["registration"]["phone"] == PHONE and found["registration"]["name"] == NAME
    assert found["registration"]["region"] == "CN-31"
    assert [o["current"] for o in found["owners"]] == [True]
    reads = _reads(db)
    assert [(r.actor, r.entity_key) for r in reads] == [("alice", f"LX1/{registered}")]


def test_a_role_without_owners_read_gets_403_and_sees_no_contact_anywhere(
    db: Database, api: Api, registered: str
) -> None:
    refused = api.get(f"/units/{registered}/owners", headers=api.reader)
    assert refused.status_code == 403
    assert _reads(db) == []
    for path in (f"/units/{registered}", f"/units/{registered}/warranty"):
        shown = api.get(path, headers=api.reader)
        assert shown.status_code == 200
        for secret in (PHONE, EMAIL, NAME):
            assert secret not in shown.text, (path, secret)


def test_the_staff_page_shows_the_buyer_to_service_only(
    db: Database, registered: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from unitrace.api.app import create_app

    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        login(client, db, "readonly")
        dossier = client.get(f"/units/{registered}")
        assert dossier.status_code == 200 and 'data-testid="owners-link"' not in dossier.text
        assert PHONE not in dossier.text and NAME not in dossier.text
        assert client.get(f"/owners?serial={registered}").status_code == 403
        assert client.get(f"/owners?serial={registered}").text.count(PHONE) == 0
        login(client, db, "service", "zh-CN")
        dossier = client.get(f"/units/{registered}")
        assert 'data-testid="owners-link"' in dossier.text and PHONE not in dossier.text
        page = client.get(f"/owners?serial={registered}", headers={"Accept-Language": "zh-CN"})
        assert page.status_code == 200 and "买家与所有者" in page.text
        assert PHONE in page.text and EMAIL in page.text and "上海" in page.text
        assert "现所有者" in page.text
        unknown = client.get("/owners?serial=NOPE-1")
        assert unknown.status_code == 404
    assert [r.actor for r in _reads(db)] == ["u-service"]


def test_the_cli_prints_the_owner_history_and_audits_it(
    db: Database, cli: Any, registered: str
) -> None:
    shown = cli("owners", registered)
    assert shown.exit_code == 0, shown.output
    assert PHONE in shown.output and "CN-31" in shown.output and "current" in shown.output
    as_json = json.loads(cli("owners", registered, "--json").stdout)
    assert as_json["registration"]["email"] == EMAIL
    assert len(_reads(db)) == 2
    missing = cli("owners", "NOPE-1")
    assert missing.exit_code != 0
