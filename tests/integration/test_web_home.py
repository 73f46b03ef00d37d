"""The home area of the pages: the header by role (one table, `web.navigation`), times in the
site's zone with their offset, and the home page's figures."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import make_product, make_units
from tests.pages import login
from unitrace import config
from unitrace.access.principal import ROLES, Actor
from unitrace.api.app import create_app
from unitrace.db.engine import Database
from unitrace.web import navigation


@pytest.fixture
def client(db: Database) -> Iterator[TestClient]:
    with TestClient(create_app(db), raise_server_exceptions=False) as c:
        yield c


def _nav(html: str) -> list[str]:
    found = re.search(r'<nav data-testid="nav">(.*?)</nav>', html, re.S)
    assert found, html[:300]
    return re.findall(r'<a href="([^"]+)"', found.group(1))


@pytest.mark.parametrize("role", sorted(ROLES))
def test_each_role_sees_in_the_header_the_pages_of_the_table_and_each_opens(
    client: TestClient, db: Database, role: str
) -> None:
    login(client, db, role)
    actor = Actor("x", role)
    expected = [p.path for p in navigation.header(actor)]
    assert _nav(client.get("/").text) == expected
    for path in expected:
        answer = client.get(path)
        assert answer.status_code == 200, (role, path, answer.status_code)
        assert _nav(answer.text) == expected  # the same header on every page
    for page in navigation.pages():
        if not navigation.may_open(actor, page):
            assert client.get(page.path).status_code == 403, (role, page.path)


def test_the_header_leaves_out_what_the_role_cannot_use() -> None:
    def header(role: str) -> set[str]:
        return {p.path for p in navigation.header(Actor("x", role))}

    partner, production = header("partner"), header("production")
    assert "/commission" not in partner and "/lots" not in partner and "/inventory" not in partner
    assert "/sell-through" in partner and "/products" in partner
    assert not {"/shipments", "/diversions", "/stocktakes", "/sell-through"} & production
    assert {"/commission", "/assembly", "/steps", "/trace", "/inventory"} <= production
    assert {"/shipments", "/stocktakes"} <= header("warehouse") - {"/commission", "/diversions"}
    assert {"/shipments", "/diversions", "/sell-through"} <= header("sales")
    # the roles that write nothing read everything, but have no station to scan at
    for reader in ("auditor", "readonly"):
        assert {"/shipments", "/diversions", "/stocktakes"} <= header(reader)
        assert not {"/scan", "/commission", "/assembly", "/steps"} & header(reader)
    assert "/audit" in header("auditor") and "/audit" not in header("readonly")
    assert {p.path for p in navigation.pages()} == header("admin")


def test_a_partner_asking_for_the_commission_page_gets_403(
    client: TestClient, db: Database
) -> None:
    login(client, db, "partner")
    answer = client.get("/commission")
    assert answer.status_code == 403 and 'data-testid="forbidden"' in answer.text


def _doc_row(page: navigation.Page) -> str:
    opens = ", ".join(f"`{p}`" for p in sorted(page.opens))
    if page.path == "/scan":  # its actions are the station's (`pages.SCAN_ACTIONS`)
        uses = "`event:` one of the station's actions (`SCAN_ACTIONS`)"
    else:
        uses = ", ".join(f"`{p}`" for p in sorted(page.uses)) or "—"
    uses += "; or write nothing" if page.readers else ""
    roles = ", ".join(r for r in ROLES if navigation.listed(Actor("x", r), page))
    return f"| `{page.path}` | {page.label} | {opens} | {uses} | {roles} |"


def test_docs_access_lists_every_page_of_the_header_table_as_the_code_has_it() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "access.md").read_text(encoding="utf-8")
    missing = [row for row in map(_doc_row, navigation.pages()) if row not in doc]
    assert not missing, "docs/access.md, 'Web pages by role', should have:\n" + "\n".join(missing)


@pytest.fixture
def shanghai(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("UNITRACE_TIMEZONE", "Asia/Shanghai")
    config.site_timezone.cache_clear()
    yield
    config.site_timezone.cache_clear()


def test_pages_and_unit_show_give_times_in_the_site_zone_with_the_offset(
    client: TestClient, db: Database, cli: Any, shanghai: None
) -> None:
    make_product(db)
    # recorded by a client in Berlin at 02:30 +01:00: 09:30 in Shanghai
    at = datetime(2026, 12, 1, 2, 30, tzinfo=timezone(timedelta(hours=1)))
    serial = make_units(db, count=1, event_time=at)[0]
    login(client, db, "admin", "zh-CN")
    dossier = client.get(f"/units/{serial}").text
    assert "2026-12-01 09:30 +08:00" in dossier
    assert "2026-12-01 09:30 +08:00" in client.get("/").text  # the latest events
    shown = cli("unit", "show", serial)
    assert shown.exit_code == 0 and "2026-12-01 09:30 +08:00" in shown.output, shown.output
