"""POST /api/v1/events with one event — a scan — answered ahead of FastAPI's router.

Scanners send many single events a second. FastAPI walks its route table and resolves
dependencies for every request, which costs more than writing the scan. This ASGI middleware
takes exactly that request — a POST to the events path whose body is one JSON object — and
answers it with the same pieces the route uses: the same token check, the same parsing and
validation, the same group-committed write path, the same problem answers. Anything else
(lists of events, other paths) goes on to the application untouched.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from unitrace.api import problems
from unitrace.api.deps import MISSING_TOKEN, actor_for_token
from unitrace.core.errors import Unauthorized, UnitraceError
from unitrace.ledger.routes import parse_events, record_one


class ScanFastPath:
    def __init__(self, app: ASGIApp, path: str = "/api/v1/events") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if not body.lstrip().startswith(b"{"):  # a list, or not JSON: the route answers
            await self.app(scope, _replay(body, receive), send)
            return
        response = await self._answer(scope, body)
        await response(scope, receive, send)

    async def _answer(self, scope: Scope, body: bytes) -> Response:
        try:
            db = scope["app"].state.db
            actor = await actor_for_token(db, _bearer(scope))
            _payload, batch = parse_events(body)
            return await record_one(db, actor, batch[0])
        except UnitraceError as error:
            return problems.domain_problem(error)
        except Exception as error:  # noqa: BLE001 — logged, answered as a problem like the app
            return problems.internal_problem(error)


def _bearer(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            break
    raise Unauthorized(MISSING_TOKEN)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
