"""One transaction that a concurrent writer may beat to a unique key: run it again once.

On PostgreSQL two transactions may both find an event id or a serial free and both insert it;
the second gets a unique violation at its insert (SQLite has one writer, so it never does).
Run again, the checks see the first one's rows and answer as for any other input: a replay, a
409 or a 422. A second collision is answered as a conflict with `message`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from unitrace.core.errors import Conflict
from unitrace.db.engine import Database

T = TypeVar("T")


def retried(db: Database, work: Callable[[Connection], T], message: str) -> T:
    """`work(conn)` in one write transaction; once more after a unique violation."""
    for attempt in range(2):
        try:
            with db.write() as conn:
                return work(conn)
        except IntegrityError:
            if attempt:
                raise Conflict(message) from None
    raise AssertionError("unreachable")
