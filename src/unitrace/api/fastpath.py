"""POST /api/v1/events answered ahead of FastAPI's middleware stack and router.

Scanners send many single events a second. FastAPI walks its middleware and route table and
resolves dependencies for every request, which costs more than writing the scan. The app
(`api.app.UnitraceApp`) hands that request — told by its method and path alone — to
`ScanFastPath` after the request limits (`api.limits`) and before any of that. Nothing here is
the fast path's own: the limits have read the body (the one body limit) and checked the token,
`api.deps.actor_of` names the actor, `ledger.routes.answer_events` parses, writes and builds
the answer, and `api.problems.domain_problem` answers an error — the very functions the route
calls, so the two answer alike, byte for byte (`tests/integration/test_scan_entry.py`).

The app turns this off when it is created with `scan_fast_path=False`: then middleware added
to the app sees these requests too (see `UnitraceApp`).
"""

from __future__ import annotations

from starlette.datastructures import State
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from unitrace.api import problems
from unitrace.api.deps import actor_of
from unitrace.api.limits import BODY_KEY
from unitrace.core.errors import UnitraceError
from unitrace.db.engine import Database
from unitrace.ledger.routes import answer_events


class ScanFastPath:
    def __init__(self, state: State, path: str) -> None:
        self.state = state  # the app's state: its database, set after the app is made
        self.path = path

    def takes(self, scope: Scope) -> bool:
        """The request's shape alone decides: a POST to the events path."""
        method: str = scope["method"]
        return method == "POST" and scope["path"] == self.path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        db: Database = self.state.db
        answer: Response
        try:
            actor = await actor_of(scope, db)
            answer = await answer_events(db, actor, scope.get(BODY_KEY, b""))
        except UnitraceError as error:
            answer = problems.domain_problem(error)
        except Exception as error:  # noqa: BLE001 — logged, answered as a problem like the app
            answer = problems.internal_problem(error)
        await answer(scope, receive, send)
