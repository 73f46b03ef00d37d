"""The web pages through a test client: login with CSRF, languages, dossier, commissioning and
the scan station, errors in the page and never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.factories import in_stock
from tests.pages import PASSWORD, csrf_of, log_in
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM
from unitrace.api.app import create_app
from unitrace.db.engine import Database


@pytest.fixture
def browser(db: Database) -> Iterator[TestClient]:
    access.create_user(db, SYSTEM, "clerk", PASSWORD, "admin")
    with TestClient(create_app(db), raise_server_exceptions=False) as client:
        yield client


def test_pages_need_login_and_login_needs_csrf(browser: TestClient) -> None:
    assert browser.get("/", follow_redirects=False).headers["location"].startswith("/login")
    forged = browser.post(
        "/login", data={"username": "clerk", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert forged.status_code == 400
    wrong = log_in(browser, "wrong password")
    assert wrong.status_code == 401 and "Wrong user name" in wrong.text  # type: ignore[attr-defined]
    ok = log_in(browser)
    assert ok.status_code == 303  # type: ignore[attr-defined]
    cookie = ok.headers["set-cookie"]  # type: ignore[attr-defined]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Units" in browser.get("/").text


def test_language_follows_browser_then_choice(browser: TestClient, db: Database) -> None:
    assert "登录" in browser.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text
    log_in(browser, lang="zh-CN")
    home = browser.get("/", headers={"Accept-Language": "en"})
    assert "扫码工位" not in home.text  # no choice yet: the browser's English wins
    browser.post("/lang", data={"locale": "zh-CN", "csrf_token": csrf_of(home.text), "back": "/"})
    assert "扫码工位" in browser.get("/", headers={"Accept-Language": "en"}).text
    browser.cookies.clear()  # a new browser: the choice is remembered for the user
    log_in(browser, lang="en")
    assert "扫码工位" in browser.get("/", headers={"Accept-Language": "en"}).text


def test_dossier_commission_and_scan(browser: TestClient, db: Database) -> None:
    serials = in_stock(db, 2)
    log_in(browser)
    found = browser.get(f"/units?q={serials[0]}")
    assert found.status_code == 200 and serials[0] in found.text and "Receive" in found.text
    missing = browser.get("/units?q=NOPE-123")
    assert missing.status_code == 404 and "Not found" in missing.text
    form = browser.get("/commission")
    made = browser.post(
        "/commission", data={"csrf_token": csrf_of(form.text), "product": "AC1", "count": "50"}
    )
    assert made.status_code == 201 and made.text.count('<li><a href="/units/') == 50
    bad = browser.post(
        "/commission",
        data={"csrf_token": csrf_of(form.text), "product": "AC1", "count": "", "serials": ""},
    )
    assert bad.status_code == 422 and "field-error" in bad.text
    scan = browser.get("/scan")
    token = csrf_of(scan.text)
    ok = browser.post(
        "/scan",
        data={"action": "ship", "serial": serials[0], "party": "D-EAST"},
        headers={"X-CSRF-Token": token},
    )
    assert 'data-testid="scan-ok"' in ok.text
    again = browser.post(
        "/scan",
        data={"action": "ship", "serial": serials[0], "party": "D-EAST"},
        headers={"X-CSRF-Token": token},
    )
    assert 'data-testid="scan-fail"' in again.text and "in_transit" in again.text
    unknown = browser.post(
        "/scan",
        data={"action": "receive", "serial": "NOPE", "location": "WH1"},
        headers={"X-CSRF-Token": token},
    )
    assert 'data-testid="scan-fail"' in unknown.text and "Not found" in unknown.text
    forged = browser.post(
        "/scan",
        data={"action": "inspect", "serial": serials[1]},
        headers={"X-CSRF-Token": "forged"},
    )
    assert forged.status_code == 400
