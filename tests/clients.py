"""Helpers for tests of the HTTP edge: an API client with an administrator's and a reader's
token, the RFC 9457 problem check, and one request straight into the ASGI app."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.testclient import TestClient

Receive = Callable[[], Awaitable[dict[str, Any]]]


class Api:
    def __init__(self, client: TestClient, admin: str, reader: str) -> None:
        self.client = client
        self.admin = {"Authorization": f"Bearer {admin}"}
        self.reader = {"Authorization": f"Bearer {reader}"}

    def post(self, path: str, body: object, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        return self.client.post(f"/api/v1{path}", json=body, headers=headers or self.admin)

    def get(self, path: str, headers: dict[str, str] | None = None, **params: object):  # type: ignore[no-untyped-def]
        return self.client.get(f"/api/v1{path}", params=params, headers=headers or self.admin)


def assert_problem(response, status: int, field: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
    return body


def call(
    app: Any,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    receive: Receive | None = None,
    query: bytes = b"",
    client: tuple[str, int] = ("192.0.2.10", 5000),
) -> tuple[int, dict[str, str], bytes]:
    """One request straight into the ASGI app, with a receive of our choosing."""
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def nothing() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "client": client,
        "server": ("127.0.0.1", 8000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
    }
    asyncio.run(app(scope, receive or nothing, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body
