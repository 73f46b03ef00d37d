"""Page security that is not about roles: logging out needs the CSRF token like every other
form, and every answer — page, API, static file, scan, problem — carries the security
headers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import in_stock, make_units
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


SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def assert_secured(response: object, https: bool = False) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    where = f"{response.request.method} {response.request.url}"  # type: ignore[attr-defined]
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name) == value, (where, name, headers)
    policy = dict(
        part.strip().split(" ", 1) for part in headers["content-security-policy"].split(";")
    )
    assert policy["script-src"] == "'self' 'wasm-unsafe-eval'", where  # the camera's reader
    assert policy["default-src"] == "'self'" and policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'none'"
    assert policy["form-action"] == "'self'" and policy["img-src"] == "'self' data:"
    assert "'unsafe-eval'" not in headers["content-security-policy"]
    assert ("strict-transport-security" in headers) is https, where
    if https:
        assert headers["strict-transport-security"].startswith("max-age=")
    assert len(headers.get_list("content-security-policy")) == 1


def _every_kind_of_answer(client: TestClient, db: Database) -> list[object]:
    """A page, a redirect, a static file, the API (answer, problem, 404), the scan fast path
    (answer and problem), a list of events through the router, the docs and the schema."""
    in_stock(db, 1)
    serial = make_units(db, "AC1", 1)[0]
    token = access.create_token(db, SYSTEM, "clerk", "tests")["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    scan = {"type": "receive", "product": "AC1", "serials": [serial], "location": "WH1"}
    answers = [
        client.get("/login"),
        client.get("/", follow_redirects=False),
        client.get("/static/style.css"),
        client.get("/static/no-such-file.js"),
        client.get("/healthz"),
        client.get("/api/v1/products", headers=bearer),
        client.get("/api/v1/products"),
        client.get("/api/v1/units/NO-SUCH", headers=bearer),
        client.post("/api/v1/events", json=scan),
        client.post("/api/v1/events", json=scan, headers=bearer),
        client.post("/api/v1/events", json=[scan], headers=bearer),
        client.post("/api/v1/events", content=b"{not json", headers=bearer),
        client.get("/api/docs"),
        client.get("/api/openapi.json"),
    ]
    assert answers[0].status_code == 200 and answers[2].status_code == 200  # type: ignore[attr-defined]
    assert answers[9].status_code == 201, answers[9].text  # type: ignore[attr-defined]
    assert answers[8].status_code == 401  # type: ignore[attr-defined]
    return answers


def test_every_answer_carries_the_security_headers(browser: TestClient, db: Database) -> None:
    for response in _every_kind_of_answer(browser, db):
        assert_secured(response)
    log_in(browser)
    assert_secured(browser.get("/"))


def test_hsts_only_over_https(db: Database) -> None:
    access.create_user(db, SYSTEM, "clerk", PASSWORD, "admin")
    with TestClient(create_app(db), base_url="https://testserver") as client:
        for response in _every_kind_of_answer(client, db):
            assert_secured(response, https=True)


def test_headers_also_when_middleware_is_added(db: Database) -> None:
    """With middleware added to an app without the fast path, scans go through the stack: the
    headers stay."""
    access.create_user(db, SYSTEM, "clerk", PASSWORD, "admin")
    app = create_app(db, scan_fast_path=False)

    @app.middleware("http")
    async def passthrough(request: Any, call_next: Any) -> Any:
        return await call_next(request)

    with TestClient(app) as client:
        for response in _every_kind_of_answer(client, db):
            assert_secured(response)


def test_a_header_an_answer_sets_itself_is_kept() -> None:
    import asyncio

    from unitrace.api.headers import with_security_headers

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    wrapped = with_security_headers({"type": "http", "scheme": "http"}, send)
    own = (b"content-security-policy", b"default-src 'none'")
    asyncio.run(wrapped({"type": "http.response.start", "status": 200, "headers": [own]}))
    asyncio.run(wrapped({"type": "http.response.body", "body": b""}))
    names = [name for name, _value in sent[0]["headers"]]
    assert names.count(b"content-security-policy") == 1 and own in sent[0]["headers"]
    assert (b"x-frame-options", b"DENY") in sent[0]["headers"]
    assert sent[1] == {"type": "http.response.body", "body": b""}


def test_api_docs_load_nothing_from_another_host(browser: TestClient) -> None:
    import re

    docs = browser.get("/api/docs")
    assert docs.status_code == 200
    assert "//" not in docs.text.replace("<!doctype html>", "")  # no URL with a host
    assert "<script>" not in docs.text  # the start is a static file: the CSP allows it
    linked = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert linked and all(url.startswith("/static/") for url in linked), linked
    for url in linked:
        assert browser.get(url).status_code == 200, url
    assert 'data-openapi-url="/api/openapi.json"' in docs.text


def test_hsts_behind_a_trusted_proxy_that_says_https(db: Database) -> None:
    """The scheme a trusted proxy forwards (`X-Forwarded-Proto: https`) is the one that
    decides HSTS, as it decides the client address."""
    from tests.clients import call
    from unitrace.config import Limits, networks

    app = create_app(db, Limits(trusted_proxies=networks("10.0.0.0/8")))
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    _status, headers, _body = call(app, "GET", "/healthz", forwarded, client=("10.0.0.2", 1))
    assert headers["strict-transport-security"].startswith("max-age=")
    _status, headers, _body = call(app, "GET", "/healthz", forwarded, client=("192.0.2.9", 1))
    assert "strict-transport-security" not in headers  # not from a proxy: not believed
