"""POST /api/v1/events with one event — a scan — answered ahead of FastAPI's router.

Scanners send many single events a second. FastAPI walks its middleware and route table and
resolves dependencies for every request, which costs more than writing the scan. The app
(`api.app.UnitraceApp`) hands exactly that request — a POST to the events path whose body is
one JSON object — to `ScanFastPath` before any of that, which answers it with the same pieces
the route uses: the same token check, the same parsing and validation, the same
group-committed write path, the same problem answers. Anything else (lists of events, other
paths) goes on to the application untouched.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from unitrace.api import problems
from unitrace.api.deps import ACTOR_KEY, MISSING_TOKEN, actor_for_token
from unitrace.api.limits import bearer_token, replay
from unitrace.core.errors import Unauthorized, UnitraceError
from unitrace.ledger import group
from unitrace.ledger.routes import parse_events

_JSON = [(b"content-type", b"application/json")]
_OBJECT = re.compile(rb"\s*{")  # without copying the body as bytes.lstrip() would


class ScanFastPath:
    def __init__(self, app: ASGIApp, state: Any, path: str = "/api/v1/events") -> None:
        self.app = app
        self.state = state  # the app's state: its database
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:  # one message: `api.limits` has read the body (and checked the token)
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if _OBJECT.match(body) is None:  # a list, or not JSON: the route answers
            await self.app(scope, replay(body, receive), send)
            return
        try:
            actor = scope.get(ACTOR_KEY) or await actor_for_token(self.state.db, _bearer(scope))
            _payload, batch = parse_events(body)
            recorded = await group.record(self.state.db, actor, batch[0])
        except UnitraceError as error:
            await problems.domain_problem(error)(scope, receive, send)
            return
        except Exception as error:  # noqa: BLE001 — logged, answered as a problem like the app
            await problems.internal_problem(error)(scope, receive, send)
            return
        # the JSON answer as JSONResponse renders it, sent without building one
        content = json.dumps(recorded.public(), ensure_ascii=False, separators=(",", ":"))
        answer = content.encode()
        status = 200 if recorded.replayed else 201
        headers = [(b"content-length", str(len(answer)).encode()), *_JSON]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


def _bearer(scope: Scope) -> str:
    authorization = next((v for k, v in scope["headers"] if k == b"authorization"), None)
    token = bearer_token(authorization)
    if token is None:
        raise Unauthorized(MISSING_TOKEN)
    return token
