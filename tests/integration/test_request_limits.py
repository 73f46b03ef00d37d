"""The HTTP edge (`api.limits`, `api.serving`): body size and time, the token before the body,
text the database cannot store, forwarded headers, rate limits (issue 11: 2, 8, 10, 16)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.clients import Receive, call
from tests.factories import in_stock
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM
from unitrace.api.app import API_PREFIX, create_app
from unitrace.api.limits import RequestLimits
from unitrace.api.serving import HeadDeadlineProtocol, uvicorn_options
from unitrace.config import Limits, networks
from unitrace.core.buckets import Buckets
from unitrace.db import migrate
from unitrace.db.engine import Database
from unitrace.db.fast import driver_error

NO_RATE = {"rate_per_token": 0.0, "rate_per_address": 0.0}


def never_called() -> Receive:
    async def receive() -> dict[str, Any]:
        raise AssertionError("the body was read")

    return receive


def chunks(parts: Iterator[bytes], counter: list[int] | None = None) -> Receive:
    async def receive() -> dict[str, Any]:
        if counter is not None:
            counter[0] += 1
        part = next(parts, None)
        if part is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": part, "more_body": True}

    return receive


@pytest.fixture
def setup(db: Database) -> tuple[Database, str, str]:
    access.create_user(db, SYSTEM, "ops", "correct horse battery", "admin")
    access.create_user(db, SYSTEM, "clerk", "correct horse battery", "warehouse")
    admin = access.create_token(db, SYSTEM, "ops", "tests")["token"]
    clerk = access.create_token(db, SYSTEM, "clerk", "tests")["token"]
    return db, admin, clerk


def bearer(token: str, **more: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **more}


def assert_problem(status: int, headers: dict[str, str], body: bytes, expected: int) -> Any:
    assert status == expected, body
    assert headers["content-type"].startswith("application/problem+json")
    problem = json.loads(body)
    assert problem["status"] == expected and problem["detail"]
    return problem


# --- item 2: size and time ----------------------------------------------------------------


def test_a_content_length_over_the_limit_is_refused_before_reading(setup) -> None:  # type: ignore[no-untyped-def]
    db, admin, _ = setup
    app = create_app(db, Limits(max_body_bytes=1000, **NO_RATE))
    for path, headers in ((f"{API_PREFIX}/units/commission", bearer(admin)), ("/login", {})):
        status, answer, body = call(
            app,
            "POST",
            path,
            {**headers, "Content-Length": "1001", "Content-Type": "application/json"},
            never_called(),
        )
        problem = assert_problem(status, answer, body, 413)
        assert problem["type"] == "urn:unitrace:problem:too-large"
        assert answer["connection"] == "close"


def test_a_chunked_body_over_the_limit_stops_at_the_limit(setup) -> None:  # type: ignore[no-untyped-def]
    db, admin, _ = setup
    app = create_app(db, Limits(max_body_bytes=1000, **NO_RATE))
    endless = iter(lambda: b"x" * 100, None)  # never ends
    calls = [0]
    status, answer, body = call(
        app,
        "POST",
        f"{API_PREFIX}/events",
        bearer(admin, **{"Transfer-Encoding": "chunked"}),
        chunks(endless, calls),
    )
    assert_problem(status, answer, body, 413)
    assert calls[0] == 11  # 1,100 bytes read: one chunk past the limit, no more
    assert answer["connection"] == "close"


@pytest.mark.parametrize("path", [f"{API_PREFIX}/events", f"{API_PREFIX}/products"])
@pytest.mark.parametrize("token", [None, "ut_not-a-token"])
def test_without_a_good_token_the_body_is_never_read(setup, path: str, token: str | None) -> None:  # type: ignore[no-untyped-def]
    db, _, _ = setup
    app = create_app(db, Limits(**NO_RATE))
    headers = {"Content-Length": "200000000", "Content-Type": "application/json"}
    if token:
        headers |= bearer(token)
    status, answer, body = call(app, "POST", path, headers, never_called())
    assert_problem(status, answer, body, 401)
    assert answer["www-authenticate"] == "Bearer"
    assert answer["connection"] == "close"


def test_a_stalled_body_ends_with_408(setup) -> None:  # type: ignore[no-untyped-def]
    db, admin, _ = setup
    app = create_app(db, Limits(body_stall_seconds=0.05, **NO_RATE))

    async def stalls_after_one_chunk() -> dict[str, Any]:
        if not sent:
            sent.append(1)
            return {"type": "http.request", "body": b'{"type": "rec', "more_body": True}
        await asyncio.Event().wait()  # nothing more, ever
        raise AssertionError

    sent: list[int] = []
    status, answer, body = call(
        app,
        "POST",
        f"{API_PREFIX}/events",
        bearer(admin, **{"Content-Length": "100"}),
        stalls_after_one_chunk,
    )
    problem = assert_problem(status, answer, body, 408)
    assert problem["type"] == "urn:unitrace:problem:timeout"
    assert answer["connection"] == "close"


def test_a_body_that_trickles_past_the_total_time_ends_with_408(setup) -> None:  # type: ignore[no-untyped-def]
    db, admin, _ = setup
    app = create_app(db, Limits(body_stall_seconds=5, body_seconds=0.2, **NO_RATE))

    async def trickle() -> dict[str, Any]:
        await asyncio.sleep(0.01)  # never stalls, never ends
        return {"type": "http.request", "body": b" ", "more_body": True}

    status, answer, body = call(
        app,
        "POST",
        f"{API_PREFIX}/events",
        bearer(admin, **{"Transfer-Encoding": "chunked"}),
        trickle,
    )
    assert_problem(status, answer, body, 408)


@pytest.mark.timeout(120)
def test_many_small_chunks_are_read_in_linear_time(setup) -> None:  # type: ignore[no-untyped-def]
    """8 MB in 65,536 chunks: appended one by one to bytes that is 256 GB of copying."""
    db, admin, _ = setup
    app = create_app(db, Limits(**NO_RATE))
    document = json.dumps({"type": "receive", "note": "n" * (8 * 1024 * 1024)}).encode()
    size = 128
    parts = iter([document[i : i + size] for i in range(0, len(document), size)])
    calls = [0]
    status, answer, body = call(
        app,
        "POST",
        f"{API_PREFIX}/events",
        bearer(admin, **{"Content-Length": str(len(document))}),
        chunks(parts, calls),
    )
    problem = assert_problem(status, answer, body, 422)  # read whole, then refused: no `note`
    assert any(e["field"] == "note" for e in problem["errors"])
    assert calls[0] > len(document) // size


def test_the_fast_path_answers_from_the_body_the_limits_read(setup) -> None:  # type: ignore[no-untyped-def]
    """The fast path reads no body of its own: a chunked list of 4 MB reaches it whole, read
    once (in linear time, under the one limit) by `api.limits`."""
    db, admin, _ = setup
    app = create_app(db, Limits(**NO_RATE))
    document = b"[" + b" " * (4 * 1024 * 1024) + b"]"
    parts = iter([document[i : i + 64] for i in range(0, len(document), 64)])
    headers = bearer(admin, **{"Transfer-Encoding": "chunked"})
    status, answer, body = call(app, "POST", f"{API_PREFIX}/events", headers, chunks(parts))
    problem = assert_problem(status, answer, body, 422)
    assert problem["errors"] == [{"field": "body", "message": "the list of events is empty"}]


# --- item 16: rate limits -----------------------------------------------------------------


def test_a_token_over_its_rate_gets_429_with_retry_after(setup) -> None:  # type: ignore[no-untyped-def]
    db, admin, clerk = setup
    app = create_app(db, Limits(rate_per_token=0.01, burst_per_token=3, rate_per_address=0))
    for _ in range(3):
        assert call(app, "GET", f"{API_PREFIX}/me", bearer(clerk))[0] == 200
    status, answer, body = call(app, "GET", f"{API_PREFIX}/me", bearer(clerk))
    problem = assert_problem(status, answer, body, 429)
    assert problem["type"] == "urn:unitrace:problem:rate-limited"
    assert int(answer["retry-after"]) >= 1
    # a scan on the fast path is limited the same way; another token is not
    scan = {"type": "receive", "serials": ["X"], "location": "WH1"}
    status, answer, _ = call(
        app,
        "POST",
        f"{API_PREFIX}/events",
        bearer(clerk, **{"Content-Length": str(len(json.dumps(scan)))}),
        never_called(),
    )
    assert status == 429 and answer["connection"] == "close"
    assert call(app, "GET", f"{API_PREFIX}/me", bearer(admin))[0] == 200


def test_an_address_over_its_rate_gets_429_whatever_the_tokens(setup) -> None:  # type: ignore[no-untyped-def]
    db, admin, clerk = setup
    app = create_app(db, Limits(rate_per_token=0, rate_per_address=0.01, burst_per_address=3))
    answers = [
        call(app, "GET", f"{API_PREFIX}/me", bearer(t))[0]
        for t in (admin, clerk, "ut_guess-1", "ut_guess-2")
    ]
    assert answers == [200, 200, 401, 429]
    other = call(app, "GET", f"{API_PREFIX}/me", bearer(admin), client=("192.0.2.99", 1))
    assert other[0] == 200


def test_a_trusted_token_has_no_rate_limit(setup) -> None:  # type: ignore[no-untyped-def]
    db, _, _ = setup
    trusted = access.create_token(db, SYSTEM, "clerk", "gateway", trusted=True)
    assert trusted["trusted"] is True
    app = create_app(
        db,
        Limits(rate_per_token=0.01, burst_per_token=1, rate_per_address=0.01, burst_per_address=1),
    )
    for _ in range(5):
        assert call(app, "GET", f"{API_PREFIX}/me", bearer(trusted["token"]))[0] == 200
    listed = {t["name"]: t["trusted"] for t in access.list_tokens(db, SYSTEM, "clerk")}
    assert listed == {"tests": False, "gateway": True}


def test_only_an_administrator_makes_a_trusted_token(setup) -> None:  # type: ignore[no-untyped-def]
    db, admin, clerk = setup
    with TestClient(create_app(db, Limits(**NO_RATE))) as client:
        body = {"name": "mine", "trusted": True}
        denied = client.post(f"{API_PREFIX}/tokens", json=body, headers=bearer(clerk))
        assert denied.status_code == 403
        made = client.post(
            f"{API_PREFIX}/tokens", json={**body, "user": "clerk"}, headers=bearer(admin)
        )
        assert made.status_code == 201 and made.json()["trusted"] is True


def test_buckets_refill_at_their_rate_and_forget_idle_keys() -> None:
    buckets = Buckets(rate=2, burst=2)
    assert [buckets.take("a", 0.0) for _ in range(3)] == [0.0, 0.0, 0.5]
    assert buckets.take("a", 0.5) == 0.0  # one came back in half a second
    buckets.MAX_KEYS = 3
    for key in "bc":
        buckets.take(key, 1.0)
    buckets.take("e", 100.0)  # the table is full: the idle (refilled) keys go
    assert set(buckets.levels) == {"e"}


def test_every_api_route_needs_a_token() -> None:
    """The limits answer 401 to any /api/v1 request without a good token: true only while
    every API route depends on the token."""
    schema = create_app(Database("sqlite://"), Limits(**NO_RATE)).openapi()
    operations = [
        (method, path, operation)
        for path, item in schema["paths"].items()
        if path.startswith(API_PREFIX)
        for method, operation in item.items()
    ]
    assert len(operations) > 20
    assert [
        (m, p) for m, p, o in operations if {"HTTPBearer": []} not in o.get("security", [])
    ] == []


def test_limits_come_from_the_environment() -> None:
    limits = Limits.from_env(
        {
            "UNITRACE_MAX_BODY_BYTES": "5",
            "UNITRACE_RATE_PER_TOKEN": "0",
            "UNITRACE_TRUSTED_PROXIES": "10.0.0.0/8, ::1",
        }
    )
    assert limits.max_body_bytes == 5 and limits.rate_per_token == 0
    assert [str(n) for n in limits.trusted_proxies] == ["10.0.0.0/8", "::1/128"]
    for name, value in (
        ("UNITRACE_MAX_BODY_BYTES", "-1"),
        ("UNITRACE_MAX_BODY_BYTES", "0"),
        ("UNITRACE_BODY_SECONDS", "0"),
        ("UNITRACE_TRUSTED_PROXIES", "10.0.0.0/33"),
        ("UNITRACE_RATE_PER_ADDRESS", "fast"),
    ):
        with pytest.raises(ValueError, match=name):
            Limits.from_env({name: value})


# --- item 8: text the database cannot store -----------------------------------------------


def test_a_page_is_told_of_a_nul_on_a_page_in_the_users_language(setup) -> None:  # type: ignore[no-untyped-def]
    db, _admin, _ = setup
    with TestClient(create_app(db, Limits(**NO_RATE)), raise_server_exceptions=False) as client:
        form = {"username": "adm\u0000in", "password": "x" * 12}
        chinese = client.post("/login", data=form, headers={"Accept-Language": "zh-CN"})
        assert chinese.status_code == 422
        assert chinese.headers["content-type"].startswith("text/html")
        assert "<code>username</code>: 含有空字符（U+0000），无法保存" in chinese.text
        english = client.post("/login", data=form, headers={"Accept-Language": "en"})
        assert english.status_code == 422
        assert "<code>username</code>: contains a NUL character" in english.text
        search = client.get("/units?q=a%00b", headers={"Accept-Language": "zh-CN"})
        assert search.status_code == 422 and "<code>q</code>: 含有空字符" in search.text


def test_nul_and_lone_surrogates_are_refused_naming_the_field(setup) -> None:  # type: ignore[no-untyped-def]
    """On PostgreSQL these were 500s (NUL cannot be stored; a surrogate cannot be encoded)."""
    db, admin, _ = setup
    in_stock(db, 1)
    with TestClient(create_app(db, Limits(**NO_RATE)), raise_server_exceptions=False) as client:
        h = bearer(admin)

        def field_of(response: Any) -> str:
            assert response.status_code == 422, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            return str(response.json()["errors"][0]["field"])

        assert field_of(client.get(f"{API_PREFIX}/units/a%00b", headers=h)) == "serial"
        assert field_of(client.get(f"{API_PREFIX}/units?lot=a%00b", headers=h)) == "lot"
        assert field_of(client.get(f"{API_PREFIX}/units?a%00=1", headers=h)) == "a\\u0000"
        product = {"code": "P\u0000", "name": "x", "serial_rule": "S{seq:4}"}
        assert field_of(client.post(f"{API_PREFIX}/products", json=product, headers=h)) == "code"
        scan = {"type": "receive", "serials": ["ok", "a\u0000b"], "location": "WH1"}
        assert field_of(client.post(f"{API_PREFIX}/events", json=scan, headers=h)) == "serials.1"
        batch = json.dumps([{"type": "receive", "serials": ["x"], "note\\ud800": 1}])
        raw = client.post(f"{API_PREFIX}/events", content=batch, headers=h)
        assert field_of(raw) == "0.note\\ud800"
        surrogate = '{"code": "P2", "name": "\\udc00", "serial_rule": "S{seq:4}"}'
        raw = client.post(f"{API_PREFIX}/products", content=surrogate, headers=h)
        assert field_of(raw) == "name"
        # what looks alike but can be stored passes: an emoji (a surrogate pair) and the text
        # backslash-u-0000
        fine = '{"code": "P3", "name": "\\ud83d\\ude00 \\\\u0000", "serial_rule": "S{seq:4}"}'
        made = client.post(
            f"{API_PREFIX}/products",
            content=fine,
            headers={**h, "Content-Type": "application/json"},
        )
        assert made.status_code == 201, made.text
        assert made.json()["name"] == "\U0001f600 \\u0000"


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "text/plain"],
)
def test_nul_in_json_is_refused_whatever_the_content_type(setup, content_type: str) -> None:  # type: ignore[no-untyped-def]
    """POST /events parses its body as JSON whatever its Content-Type: a JSON body sent as a
    form or an upload must not pass the edge with NUL in it (a 500 on PostgreSQL)."""
    db, admin, _ = setup
    serial = in_stock(db, 1)[0]
    headers = bearer(admin, **{"Content-Type": content_type})
    with TestClient(create_app(db, Limits(**NO_RATE)), raise_server_exceptions=False) as client:
        scan = json.dumps({"type": "move", "serials": [serial], "location": "WH1",
                           "read_point": "a\u0000b"})  # fmt: skip
        for body in (scan, f"[{scan}]"):
            answer = client.post(f"{API_PREFIX}/events", content=body, headers=headers)
            assert answer.status_code == 422, answer.text
            assert answer.json()["errors"][0]["field"] in ("read_point", "0.read_point")


def test_sql_parameters_never_appear_in_errors(db: Database) -> None:
    """Tracebacks in the log showed a token hash as a parameter of a failed statement."""
    with pytest.raises(Exception) as failed, db.read() as conn:
        conn.execute(text("SELECT * FROM no_such_table WHERE x = :x"), {"x": "secret-hash"})
    assert "secret-hash" not in str(failed.value)
    with db.read() as conn:
        error = driver_error(conn, "SELECT ?", ("secret-hash",), RuntimeError("boom"))
    assert "secret-hash" not in str(error)


# --- item 10: forwarded headers -----------------------------------------------------------


def _seen_client(
    limits: Limits, client: tuple[str, int], headers: dict[str, str], through_uvicorn: bool = False
) -> tuple[Any, str]:
    seen: list[Any] = []

    async def probe(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope["client"], scope["scheme"]))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app: Any = RequestLimits(probe, None, limits)
    if through_uvicorn:  # the app as `unitrace serve` runs it, uvicorn's middleware included
        config = uvicorn.Config(app, **uvicorn_options(limits))
        config.load()
        app = config.loaded_app
    call(app, "GET", "/", headers, client=client)
    return seen[0]


def test_forwarded_headers_are_ignored_unless_from_a_configured_proxy() -> None:
    spoof = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    # served as `unitrace serve` serves: uvicorn believed these from 127.0.0.1
    seen = _seen_client(Limits(), ("127.0.0.1", 4000), spoof, through_uvicorn=True)
    assert seen == (("127.0.0.1", 4000), "http")
    proxies = Limits(trusted_proxies=networks("10.0.0.0/8"))
    assert _seen_client(proxies, ("198.51.100.1", 1), spoof) == (("198.51.100.1", 1), "http")
    # from the proxy: the last address that is not one of ours (a client cannot choose it)
    chain = {"X-Forwarded-For": "1.1.1.1, 203.0.113.7, 10.0.0.5", "X-Forwarded-Proto": "https"}
    assert _seen_client(proxies, ("10.1.2.3", 1), chain) == (("203.0.113.7", 0), "https")


# --- the server: stalled connections ------------------------------------------------------


class QuickDeadline(HeadDeadlineProtocol):
    header_seconds = 0.5


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, str]]:
    db = Database(f"sqlite:///{tmp_path / 'server.db'}")
    migrate.upgrade(db)
    access.create_user(db, SYSTEM, "clerk", "correct horse battery", "warehouse")
    token = access.create_token(db, SYSTEM, "clerk", "tests")["token"]
    limits = Limits(body_stall_seconds=0.5, **NO_RATE)
    config = uvicorn.Config(
        create_app(db, limits),
        log_level="critical",
        **{**uvicorn_options(limits), "http": QuickDeadline},
    )
    server = uvicorn.Server(config)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    yield sock.getsockname()[1], token
    server.should_exit = True
    thread.join(10)
    db.dispose()


def _get(port: int, path: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        return b"".join(iter(lambda: conn.recv(65536), b""))


def test_stalled_connections_are_closed_and_do_not_block_others(server) -> None:  # type: ignore[no-untyped-def]
    port, token = server
    stalled = []
    for i in range(1000):
        conn = socket.create_connection(("127.0.0.1", port), timeout=20)
        if i % 2:  # half a request head
            conn.sendall(b"POST /api/v1/events HTTP/1.1\r\nHost: x\r\n")
        else:  # a whole head, and part of the body
            conn.sendall(
                f"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                f'{token}\r\nContent-Length: 100\r\n\r\n{{"type"'.encode()
            )
        stalled.append(conn)
    assert _get(port, "/healthz").startswith(b"HTTP/1.1 200")  # served meanwhile
    answers = []
    for conn in stalled:
        answers.append(b"".join(iter(lambda c=conn: c.recv(65536), b"")))  # closed by the server
        conn.close()
    assert all(a == b"" for a in answers[1::2])  # a head that never ended: closed
    assert all(a.startswith(b"HTTP/1.1 408") for a in answers[0::2])
    idle = socket.create_connection(("127.0.0.1", port), timeout=20)  # sends nothing at all
    assert idle.recv(1) == b""
    idle.close()


def test_the_head_deadline_counts_from_the_last_answer(server) -> None:  # type: ignore[no-untyped-def]
    port, _ = server
    with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
        # requests 0.3 s apart keep the connection for 1.2 s, past the 0.5 s deadline: each
        # answer moves it
        for _ in range(4):
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while not answer.endswith(b"}"):
                answer += conn.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200"), answer
            time.sleep(0.3)
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # then half a head, and silence
        assert conn.recv(65536) == b""  # closed by the server, not by the 20 s client time-out


def test_a_huge_request_head_gets_431(server) -> None:  # type: ignore[no-untyped-def]
    port, _ = server
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(
        f"X-Filler-{i}: {'y' * 1000}\r\n".encode() for i in range(66)
    )  # 66 KB, and no end
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head)
        try:
            answer = b"".join(iter(lambda: conn.recv(65536), b""))
        except ConnectionResetError:  # closed while the last bytes were still arriving
            answer = b"HTTP/1.1 431 (the answer was lost with the reset)"
    assert answer.startswith(b"HTTP/1.1 431")
