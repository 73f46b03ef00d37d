"""Helpers for tests of the web pages: log in through the login form, read the CSRF token
and the error shown next to a field."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.factories import make_party
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM
from unitrace.db.engine import Database

PASSWORD = "correct horse battery"


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def field_error(html: str, field: str) -> str:
    found = re.search(rf'data-testid="error-{field}">([^<]+)<', html)
    assert found, f"no error shown for {field}"
    return found.group(1)


def login(client: TestClient, db: Database, role: str, lang: str = "en") -> str:
    """Log `client` in as a new user with `role`; returns a CSRF token for its forms."""
    name = f"u-{role}"
    party = make_party(db, "D-P", "distributor") if role == "partner" else None
    if name not in {u["username"] for u in access.list_users(db, SYSTEM)}:
        access.create_user(db, SYSTEM, name, PASSWORD, role, party)
    client.cookies.clear()
    page = client.get("/login", headers={"Accept-Language": lang})
    answer = client.post(
        "/login",
        data={"username": name, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        headers={"Accept-Language": lang},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/", headers={"Accept-Language": lang}).text)


def log_in(client: TestClient, password: str = PASSWORD, lang: str = "en") -> object:
    """Log in as `clerk` (the user the test made) through the login form."""
    page = client.get("/login", headers={"Accept-Language": lang})
    return client.post(
        "/login",
        data={
            "username": "clerk",
            "password": password,
            "csrf_token": csrf_of(page.text),
            "next": "/",
        },
        headers={"Accept-Language": lang},
        follow_redirects=False,
    )
