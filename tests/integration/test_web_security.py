"""Page security that is not about roles: logging out needs the CSRF token like every other
form, and every answer — page, API, static file, scan, problem — carries the security
headers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.integration.test_web import PASSWORD, csrf_of, log_in
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.db.engine import Database


@pytest.fixture
def browser(db: Database) -> Iterator[TestClient]:
    access.create_user(db, SYSTEM, "clerk", PASSWORD, "admin")
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        yield client


def _logged_in(browser: TestClient) -> bool:
    return browser.get("/", follow_redirects=False).status_code == 200


def test_logout_without_the_csrf_token_is_refused(browser: TestClient) -> None:
    log_in(browser)
    for forged in ({}, {"csrf_token": "forged"}):
        refused = browser.post("/logout", data=forged, follow_redirects=False)
        assert refused.status_code == 400 and "expired" in refused.text
        assert "set-cookie" not in refused.headers
        assert _logged_in(browser)  # the session was neither ended nor its cookie dropped


def test_logout_with_the_csrf_token_ends_the_session(browser: TestClient) -> None:
    log_in(browser)
    session = browser.cookies.get("unitrace_session")
    token = csrf_of(browser.get("/").text)
    done = browser.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/login"
    assert not _logged_in(browser)
    browser.cookies.set("unitrace_session", session or "")  # the old cookie no longer works
    assert not _logged_in(browser)


def test_logout_with_the_token_in_the_header(browser: TestClient) -> None:
    log_in(browser)
    token = csrf_of(browser.get("/").text)
    done = browser.post("/logout", headers={"X-CSRF-Token": token}, follow_redirects=False)
    assert done.status_code == 303 and not _logged_in(browser)
