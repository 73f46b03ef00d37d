"""The delivery worker: claims due outbox rows, POSTs each, signed, and records the attempt.

A claim makes the rows invisible to other workers until a lease ends (PostgreSQL: `FOR UPDATE
SKIP LOCKED` over the due rows; SQLite: one conditional UPDATE, its writers being serial), so
two workers never send one delivery at once; the lease covers a worker that died mid-send.
A failed attempt is tried again after `backoff · 2^(attempts-1)` seconds (at most an hour),
until the delivery has been failing for `DEAD_AFTER` (a day): then it is dead. Replays queue a
delivery again (service.replay).

Runs as a thread of `unitrace serve` (`UNITRACE_WEBHOOKS_WORKER`, on by default) or alone as
`unitrace worker`; it never runs in a write's transaction, so a slow receiver slows no write.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, bindparam, insert, select, update

from unitrace import __version__
from unitrace.core import clock
from unitrace.db.engine import Database
from unitrace.db.tables import webhook_attempts, webhook_deliveries, webhook_subscriptions

DEAD_AFTER = timedelta(days=1)
LEASE = timedelta(minutes=5)  # longer than a batch of sends can take at `timeout` each
MAX_BACKOFF = timedelta(hours=1)
BATCH = 50


@dataclass(frozen=True)
class Settings:
    timeout: float = 10.0
    backoff: float = 30.0  # seconds before the second attempt

    @classmethod
    def from_env(cls) -> Settings:
        def number(name: str, fallback: float) -> float:
            raw = os.environ.get(name, "").strip()
            if not raw:
                return fallback
            value = float(raw)
            if value <= 0:
                raise ValueError(f"{name} must be more than 0")
            return value

        return cls(
            number("UNITRACE_WEBHOOKS_TIMEOUT_SECONDS", cls.timeout),
            number("UNITRACE_WEBHOOKS_BACKOFF_SECONDS", cls.backoff),
        )


def enabled_in_server() -> bool:
    """`UNITRACE_WEBHOOKS_WORKER`: run the worker as a thread of `unitrace serve` (default on)."""
    raw = os.environ.get("UNITRACE_WEBHOOKS_WORKER", "on").strip().lower()
    return raw not in {"0", "off", "false", "no"}


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Unitrace-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of
    "<t>.<body>" keyed by the subscription's secret>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def body_of(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


@dataclass(slots=True)
class Claimed:
    id: int
    url: str
    secret: str
    kind: str
    payload: Any
    attempts: int
    queued_at: datetime


@dataclass(slots=True)
class Result:
    at: datetime
    status: int | None
    error: str | None
    ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def claim(db: Database, token: str, limit: int = BATCH) -> list[Claimed]:
    """Take up to `limit` due deliveries for this worker until the lease ends."""
    d, s = webhook_deliveries, webhook_subscriptions
    moment = clock.now()
    due = (
        select(d.c.id)
        .where(d.c.status == "pending", d.c.next_at <= moment)
        .order_by(d.c.next_at, d.c.id)
        .limit(limit)
    )
    with db.write() as conn:
        if conn.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        ids = list(conn.execute(due).scalars())
        if not ids:
            return []
        conn.execute(
            update(d)
            .where(
                d.c.id.in_(bindparam("ids", expanding=True)),
                d.c.status == "pending",
                d.c.next_at <= moment,
            )
            .values(claim=token, next_at=moment + LEASE),
            {"ids": ids},
        )
        rows = conn.execute(
            select(d.c.id, s.c.url, s.c.secret, d.c.kind, d.c.payload, d.c.attempts, d.c.queued_at)
            .join(s, s.c.id == d.c.subscription_id)
            .where(d.c.id.in_(bindparam("ids", expanding=True)), d.c.claim == token)
            .order_by(d.c.id),
            {"ids": ids},
        ).all()
    return [Claimed(*row) for row in rows]


def send(item: Claimed, timeout: float) -> Result:
    """POST one delivery; never raises."""
    body = body_of(item.payload)
    at = clock.now()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"unitrace-webhooks/{__version__}",
        "X-Unitrace-Delivery": str(item.id),
        "X-Unitrace-Kind": item.kind,
        "X-Unitrace-Signature": signature(item.secret, int(at.timestamp()), body),
    }
    started = time.perf_counter()
    status: int | None = None
    error: str | None = None
    try:
        parts = urlsplit(item.url)
        opener: type[http.client.HTTPConnection] = http.client.HTTPConnection
        if parts.scheme == "https":
            opener = http.client.HTTPSConnection
        connection = opener(parts.hostname or "", parts.port, timeout=timeout)
        try:
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read(65536)
            status = response.status
        finally:
            connection.close()
    except (OSError, http.client.HTTPException, ValueError) as failed:
        error = f"{type(failed).__name__}: {failed}"[:300]
    ms = int((time.perf_counter() - started) * 1000)
    return Result(at, status, error, ms)


def backoff(attempts: int, base: float) -> timedelta:
    """The wait after the `attempts`-th failed attempt."""
    return min(timedelta(seconds=base * 2 ** (attempts - 1)), MAX_BACKOFF)


def record(db: Database, token: str, done: Sequence[tuple[Claimed, Result]], base: float) -> None:
    """Every attempt in the log; each delivery delivered, due again later, or dead."""
    if not done:
        return
    with db.write() as conn:
        conn.execute(
            insert(webhook_attempts),
            [
                {
                    "delivery_id": c.id,
                    "at": r.at,
                    "http_status": r.status,
                    "error": r.error,
                    "ms": r.ms,
                }
                for c, r in done
            ],
        )
        for c, r in done:
            _finish(conn, token, c, r, base)


def _finish(conn: Connection, token: str, c: Claimed, r: Result, base: float) -> None:
    d = webhook_deliveries
    attempts = c.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "claim": None}
    moment = clock.now()
    deadline = clock.as_moment(c.queued_at) + DEAD_AFTER
    if r.ok:
        values |= {"status": "delivered", "done_at": moment}
    elif moment >= deadline:
        values |= {"status": "dead", "done_at": moment}
    else:
        values["next_at"] = min(moment + backoff(attempts, base), deadline)
    conn.execute(update(d).where(d.c.id == c.id, d.c.claim == token).values(**values))


def work_once(db: Database, settings: Settings | None = None, token: str | None = None) -> int:
    """Claim and send one batch of due deliveries; how many were tried."""
    settings = settings or Settings.from_env()
    token = token or secrets.token_hex(8)
    claimed = claim(db, token)
    done = [(c, send(c, settings.timeout)) for c in claimed]
    record(db, token, done, settings.backoff)
    return len(done)


def run(db: Database, stop: threading.Event, poll: float = 1.0) -> None:
    """Deliver until `stop` is set: batch after batch while there are due rows, then a poll."""
    settings = Settings.from_env()
    token = secrets.token_hex(8)
    while not stop.is_set():
        try:
            tried = work_once(db, settings, token)
        except Exception:  # noqa: BLE001 - the database away for a moment: try again later
            tried = 0
        if not tried:
            stop.wait(poll)


def start_thread(db: Database, poll: float = 1.0) -> tuple[threading.Thread, threading.Event]:
    """The worker as a daemon thread of this process (`unitrace serve`)."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run, args=(db, stop, poll), name="unitrace-webhooks", daemon=True
    )
    thread.start()
    return thread, stop
