"""Request limits at the HTTP edge: every request passes here first, scans included.

The app (`api.app.UnitraceApp`) hands each HTTP request to `RequestLimits` before its middleware,
router and the scan fast path. In this order:

1. the client's address: `X-Forwarded-For` / `X-Forwarded-Proto` are believed only from a
   configured proxy (UNITRACE_TRUSTED_PROXIES);
2. API requests (`/api/v1/…`, every one of which needs a token): a rate limit per client address
   and per token (token buckets in this process; none for a token marked trusted), and the
   bearer token checked — all before a byte of the body is read; the actor is handed on in the
   scope (`ACTOR_KEY`), so that the route does not look the token up again;
3. the URL: a path or query parameter with a character the database cannot store → 422;
4. the body: a Content-Length over the limit → 413, unread; otherwise read with a byte count
   (413 at the limit), a stall timeout and a total timeout (408), in linear time; then its text
   (JSON, URL-encoded forms) checked for NUL and unpaired surrogates (422 naming the field). The
   app gets the body as one message, and in the scope (`BODY_KEY`) for the scan fast path.

Answers given here with a body left unread close the connection. See docs/access.md, "Request
limits".
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import math
import re
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from unitrace.access.service import cached_actor
from unitrace.api import problems
from unitrace.api.deps import ACTOR_KEY, MISSING_TOKEN, actor_for_token, bearer_token
from unitrace.config import Limits
from unitrace.core.buckets import Buckets
from unitrace.core.errors import FieldError, Unauthorized, UnitraceError, ValidationError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# In JSON, NUL and surrogates can only arrive escaped; a body without these escapes has neither
# (a raw NUL byte is not valid JSON). Only a body that has one is parsed here to name the field.
_SUSPECT_JSON = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
BODY_KEY = "unitrace.body"  # the scope key under which the body, read and checked, is handed on


class RequestLimits:
    def __init__(
        self,
        app: ASGIApp,
        state: Any,
        limits: Limits,
        api_prefix: str = "/api/v1",
        more_api_prefixes: tuple[str, ...] = (),
        openapi: Callable[[], dict[str, Any]] | None = None,
        page_problem: Callable[[Scope, UnitraceError], Response] | None = None,
        public_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.state = state  # the app's state: its database
        self.limits = limits
        self.api_prefix = api_prefix.rstrip("/") + "/"
        # more roots answered like the API (a token, rate limits, problems): EPCIS at /epcis/
        self.api_prefixes = (self.api_prefix, *(p.rstrip("/") + "/" for p in more_api_prefixes))
        self.openapi = openapi  # only to name a path parameter in an error
        # how a page (not the API) is told of bad input: a page in the user's language
        self.page_problem = page_problem
        # paths anyone may ask for with no token (the GS1 Digital Link resolver): rate-limited
        # per client address like the API, so that nobody walks through serials unchecked
        self.public_prefixes = public_prefixes
        self.per_token = _buckets(limits.rate_per_token, limits.burst_per_token)
        self.per_address = _buckets(limits.rate_per_address, limits.burst_per_address)
        self.watch = BodyWatch(limits.body_stall_seconds, limits.body_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = chunked = authorization = content_type = forwarded_for = proto = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                chunked = value
            elif name == b"authorization":
                authorization = value
            elif name == b"content-type":
                content_type = value
            elif name == b"x-forwarded-for":
                forwarded_for = value
            elif name == b"x-forwarded-proto":
                proto = value
        if self.limits.trusted_proxies:
            _believe_proxy(scope, self.limits.trusted_proxies, forwarded_for, proto)
        try:
            size = int(length) if length is not None else 0
        except ValueError:
            size = -1
        has_body = size != 0 or chunked is not None

        answer: Response | None = None
        if scope["path"].startswith(self.api_prefixes):
            answer = await self._admit(scope, authorization)
        elif self.public_prefixes and scope["path"].startswith(self.public_prefixes):
            answer = self._per_address_limit(scope)
        if answer is None:
            unstorable = self._check_url(scope)
            answer = self._refuse(scope, unstorable) if unstorable is not None else None
        if answer is None and size < 0:
            answer = problems.problem(400, "http", "Bad request", "Content-Length is not a number")
        if answer is None and size > self.limits.max_body_bytes:
            answer = self._too_large()
        if answer is not None:
            if has_body:  # unread: the connection cannot carry another request
                answer.headers["connection"] = "close"
            await answer(scope, receive, send)
            return
        if has_body:
            body = await self._read(scope, receive, send)
            if body is None:  # answered (413, 408) or the client left
                return
            error = _check_body(body, content_type)
            if error is not None:
                await self._refuse(scope, error)(scope, receive, send)
                return
            scope[BODY_KEY] = body
            receive = replay(body, receive)
        await self.app(scope, receive, send)

    async def _admit(self, scope: Scope, authorization: bytes | None) -> Response | None:
        """Rate limits and the token of an API request; the actor goes into the scope. A token
        seen lately is known without a lookup; an unknown one is looked up only after the
        address has passed its limit."""
        db = self.state.db
        token = bearer_token(authorization)
        actor = cached_actor(db, token) if token else None
        if actor is None or not actor.token_trusted:
            limited = self._per_address_limit(scope)
            if limited is not None:
                return limited
            if actor is None:
                try:
                    if token is None:
                        raise Unauthorized(MISSING_TOKEN)
                    actor = await actor_for_token(db, token)
                except UnitraceError as error:
                    return problems.domain_problem(error)
                except Exception as error:  # noqa: BLE001 — logged, a problem like the app's
                    return problems.internal_problem(error)
            if self.per_token is not None and not actor.token_trusted:
                key = actor.token_id if actor.token_id is not None else actor.username
                wait = self.per_token.take(key, time.monotonic())
                if wait:
                    return _too_many(self.per_token, "token", wait)
        scope[ACTOR_KEY] = actor
        return None

    def _per_address_limit(self, scope: Scope) -> Response | None:
        if self.per_address is None:
            return None
        client = scope.get("client")
        wait = self.per_address.take(client[0] if client else "", time.monotonic())
        return _too_many(self.per_address, "client address", wait) if wait else None

    def _refuse(self, scope: Scope, error: ValidationError) -> Response:
        """Bad input found here: a problem for the API, a page for a person."""
        if self.page_problem is not None and not scope["path"].startswith(self.api_prefixes):
            return self.page_problem(scope, error)
        return problems.domain_problem(error)

    def _check_url(self, scope: Scope) -> ValidationError | None:
        if "\x00" in scope["path"]:  # the server has decoded %00 already
            return _unstorable(self._path_parameter(scope), "\x00")
        query: bytes = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query:
            return _check_pairs(query)
        return None

    def _path_parameter(self, scope: Scope) -> str:
        """The name of the path parameter with NUL, from the API's published paths."""
        for template in self.openapi()["paths"] if self.openapi else ():
            found = compile_path(template)[0].match(scope["path"])
            for name, value in found.groupdict().items() if found else ():
                if "\x00" in value:
                    return str(name)
        return "path"

    def _too_large(self) -> Response:
        limit = self.limits.max_body_bytes
        detail = (
            f"the body is larger than {limit:,} bytes (UNITRACE_MAX_BODY_BYTES); "
            "send a big batch in parts"
        )
        errors = [{"field": "body", "message": f"at most {limit} bytes"}]
        return problems.problem(413, "too-large", "Request body too large", detail, errors)

    async def _read(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        """The whole body, read in linear time; None when it was answered here (413 over the
        limit, 408 stalled or too slow) or the client went away."""
        limits = self.limits
        chunks: list[bytes] = []
        size = 0
        progress = self.watch.start()
        try:
            while True:
                try:
                    message = await receive()
                except asyncio.CancelledError:
                    if not progress.timed_out():  # not ours: the server is stopping, say
                        raise
                    await _closing(_too_slow(limits), scope, receive, send)
                    return None
                if message["type"] == "http.disconnect":
                    return None
                chunk = message.get("body", b"")
                if chunk:
                    progress.moved()
                    size += len(chunk)
                    if size > limits.max_body_bytes:
                        await _closing(self._too_large(), scope, receive, send)
                        return None
                    chunks.append(chunk)
                if not message.get("more_body", False):
                    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        finally:
            self.watch.reads.pop(progress.task, None)


class _Progress:
    __slots__ = ("task", "started", "last", "cancelled")

    def __init__(self, task: asyncio.Task[Any], now: float) -> None:
        self.task, self.started, self.last, self.cancelled = task, now, now, False

    def moved(self) -> None:
        self.last = time.monotonic()

    def timed_out(self) -> bool:
        """True (once) if the watch cancelled the read; the task is no longer cancelled."""
        if not self.cancelled:
            return False
        self.cancelled = False
        self.task.uncancel()
        return True


class BodyWatch:
    """The bodies being read, and one timer for all of them: a timer (or `asyncio.timeout`)
    for each receive would cost more than the rest of the limits. Every `tick` seconds the
    reads that stalled or took too long are cancelled; a read sees its cancellation as a
    time-out (408)."""

    def __init__(self, stall_seconds: float, total_seconds: float) -> None:
        self.stall, self.total = stall_seconds, total_seconds
        self.tick = min(1.0, stall_seconds / 4, total_seconds / 4)
        self.reads: dict[asyncio.Task[Any], _Progress] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.timer: asyncio.TimerHandle | None = None

    def start(self) -> _Progress:
        """Watch the body read of the current task (the reader removes it from `reads`)."""
        loop, task = asyncio.get_running_loop(), asyncio.current_task()
        assert task is not None
        if loop is not self.loop:  # a new event loop (tests run one per request)
            self.loop, self.reads, self.timer = loop, {}, None
        progress = self.reads[task] = _Progress(task, time.monotonic())
        if self.timer is None:
            self.timer = loop.call_later(self.tick, self._check)
        return progress

    def _check(self) -> None:
        self.timer = None
        now = time.monotonic()
        for progress in list(self.reads.values()):
            late = now - progress.last > self.stall or now - progress.started > self.total
            if late and not progress.cancelled:
                progress.cancelled = True
                progress.task.cancel()
        if self.reads and self.loop is not None:
            self.timer = self.loop.call_later(self.tick, self._check)


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives `body` as one message first, then whatever `receive` gives."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def _buckets(rate: float, burst: int) -> Buckets | None:
    return Buckets(rate, burst) if rate > 0 else None


def _too_many(buckets: Buckets, what: str, wait: float) -> Response:
    seconds = max(1, math.ceil(wait))
    detail = (
        f"more than {buckets.rate:g} requests a second (bursts of {buckets.burst}) from this "
        f"{what}; try again in {seconds} s"
    )
    headers = {"Retry-After": str(seconds)}
    return problems.problem(429, "rate-limited", "Too many requests", detail, headers=headers)


def _too_slow(limits: Limits) -> Response:
    detail = (
        f"the body was not complete within {limits.body_seconds:g} s, or nothing of it came "
        f"for {limits.body_stall_seconds:g} s"
    )
    return problems.problem(408, "timeout", "Request timeout", detail)


async def _closing(answer: Response, scope: Scope, receive: Receive, send: Send) -> None:
    answer.headers["connection"] = "close"
    await answer(scope, receive, send)


# --- text the database cannot store -----------------------------------------------------


def _reason(char: str) -> str:
    if char == "\x00":
        return "contains a NUL character (U+0000), which cannot be stored"
    return "contains an unpaired surrogate (U+D800–U+DFFF), which cannot be stored"


def _unstorable(field: str, char: str) -> ValidationError:
    message = _reason(char)
    return ValidationError(f"{field}: {message}", [FieldError(field, message)])


def _printable(name: str) -> str:
    return _UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", name) or "body"


def _check_pairs(encoded: bytes) -> ValidationError | None:
    """A query string or URL-encoded form: the first field whose name or value has NUL."""
    for name, value in parse_qsl(encoded.decode("latin-1"), keep_blank_values=True):
        for text in (name, value):
            found = _UNSTORABLE.search(text)
            if found is not None:
                return _unstorable(_printable(name), found.group())
    return None


def _check_body(body: bytes, content_type: bytes | None) -> ValidationError | None:
    kind = (content_type or b"").partition(b";")[0].strip().lower()
    if kind == b"application/x-www-form-urlencoded" and (b"%00" in body or b"\x00" in body):
        error = _check_pairs(body)
        if error is not None:
            return error
    # Whatever its Content-Type, the body may be parsed as JSON (POST /events parses its own):
    # a form or an upload that is JSON is checked too. Files are checked by the use case that
    # reads them; a real multipart body is not JSON and passes.
    if _SUSPECT_JSON.search(body) is None:
        return None
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON: the route says what is wrong with it
    return _check_json(payload)


def _check_json(payload: Any) -> ValidationError | None:
    """The first string (or key) in the document that cannot be stored, with its dotted path."""
    todo: list[tuple[Any, tuple[str, ...]]] = [(payload, ())]
    while todo:
        value, path = todo.pop()
        if isinstance(value, str):
            found = _UNSTORABLE.search(value)
            if found is not None:
                return _unstorable(".".join(path) or "body", found.group())
        elif isinstance(value, dict):
            for key in value:
                found = _UNSTORABLE.search(key)
                if found is not None:
                    return _unstorable(".".join((*path, _printable(key))), found.group())
            todo.extend((v, (*path, k)) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            todo.extend((v, (*path, str(i))) for i, v in reversed(list(enumerate(value))))
    return None


# --- forwarded headers ------------------------------------------------------------------


def _believe_proxy(
    scope: Scope, proxies: tuple[Network, ...], forwarded_for: bytes | None, proto: bytes | None
) -> None:
    """From a trusted proxy: the client is the last address in X-Forwarded-For that is not one
    of our proxies (each proxy appends the address it got the request from), and the scheme is
    X-Forwarded-Proto. From anyone else both headers are ignored."""
    client = scope.get("client")
    if client is None or not _is_proxy(client[0], proxies):
        return
    if forwarded_for:
        hops = [hop.strip() for hop in forwarded_for.decode("latin-1").split(",")]
        chosen = next(
            (hop for hop in reversed(hops) if hop and not _is_proxy(hop, proxies)), hops[0]
        )
        if chosen:
            scope["client"] = (chosen, 0)
    if proto:
        scheme = proto.decode("latin-1").split(",")[0].strip().lower()
        if scheme in ("http", "https"):
            scope["scheme"] = scheme


@lru_cache(maxsize=4096)
def _is_proxy(host: str, proxies: tuple[Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in proxies)
