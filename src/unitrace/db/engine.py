"""Engine and transactions for SQLite (WAL, busy timeout) and PostgreSQL (psycopg 3).

Errors and logs never show the parameters of a statement (`hide_parameters`): they include
token and session hashes and user input.

Use cases open transactions with `db.write()` or `db.read()`; nothing above them does.
On SQLite a write transaction starts with BEGIN IMMEDIATE, so two writers never both read
a state and then both act on it: the second waits (busy timeout) and then sees the first.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from unitrace.core.errors import Conflict
from unitrace.db.fast import driver_error

try:
    import fcntl
except ImportError:  # not on Windows: other processes meet SQLite's busy timeout instead
    fcntl = None  # type: ignore[assignment]

SQLITE_BUSY_TIMEOUT_MS = 30_000


class Database:
    """One database: the engine and the transaction boundaries use cases open."""

    def __init__(
        self, url: str, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS, **engine_kwargs: Any
    ) -> None:
        self.url = url
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise ValueError(f"not a database URL: {url!r}") from None
        self.dialect = parsed.get_backend_name()
        # SQLite has one writer at a time. Writers of this process queue on a lock instead of
        # SQLite's busy handler, which sleeps in growing steps (up to 100 ms) while it waits:
        # under concurrent scans that sleeping, not the work, set the pace. Other processes
        # still meet the busy timeout.
        self._writer = threading.Lock()
        self._busy_timeout_s = busy_timeout_ms / 1000
        self._checkpointer: threading.Thread | None = None
        self._lock_fd: int | None = None
        self._locked = False
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
                self._lock_path = f"{parsed.database}.writer-lock"
            self.engine = create_engine(
                url,
                connect_args={"timeout": busy_timeout_ms / 1000, "isolation_level": None},
                hide_parameters=True,
                **engine_kwargs,
            )

            def on_connect(dbapi_conn: Any, _record: Any) -> None:
                cursor = dbapi_conn.cursor()
                for pragma in sqlite_pragmas(busy_timeout_ms):
                    cursor.execute(pragma)
                if self._checkpointer is not None:
                    cursor.execute("PRAGMA wal_autocheckpoint=0")
                cursor.close()

            event.listen(self.engine, "connect", on_connect)
            event.listen(self.engine, "begin", _sqlite_on_begin)
        elif self.dialect == "postgresql":
            self.engine = create_engine(
                url, pool_pre_ping=True, hide_parameters=True, **engine_kwargs
            )
        else:
            raise ValueError(f"unsupported database {self.dialect!r}: use sqlite or postgresql")

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def write(self, held: Connection | None = None) -> Iterator[Connection]:
        """A read-write transaction: committed when the block ends, rolled back on error.
        `held`: a connection the caller keeps between transactions (the group writer), used
        instead of one from the pool.

        Lock time-outs (SQLite busy past its timeout) and deadlocks or serialisation failures
        (PostgreSQL) become a Conflict: nothing was written and the caller may try again.
        """
        queued = self.is_sqlite
        if queued and not self._writer.acquire(timeout=self._busy_timeout_s):
            raise Conflict(
                "the database is busy with other changes; nothing was written, try again"
            )
        try:
            if queued:
                self._lock_other_processes()
            with nullcontext(held) if held is not None else self.engine.connect() as conn:
                if self.is_sqlite:
                    conn = conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
                with conn.begin():
                    yield conn
        except OperationalError as exc:
            if not _is_contention(exc):
                raise
            raise Conflict(
                "the database is busy with another change to the same data; nothing was "
                "written, try again"
            ) from exc
        finally:
            if queued:
                self._unlock_other_processes()
                self._writer.release()

    def _lock_other_processes(self) -> None:
        """Writers in other processes (server workers, the CLI) queue on an flock of a file
        beside the database. SQLite's own busy handler sleeps up to 100 ms between tries;
        here a waiter tries again within 2 ms, up to the busy timeout."""
        if fcntl is None or not getattr(self, "_lock_path", None):
            return
        if self._lock_fd is None:  # opened once (opening costs more than the lock)
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        fd = self._lock_fd
        deadline, pause = time.monotonic() + self._busy_timeout_s, 0.0002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise Conflict(
                        "the database is busy with other changes; nothing was written, try again"
                    ) from None
                time.sleep(pause)  # short waits: the lock is held for milliseconds
                pause = min(pause * 2, 0.002)
        self._locked = True

    def _unlock_other_processes(self) -> None:
        if self._locked and self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            self._locked = False

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction with a consistent view."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def checkpoint_in_background(self, every_s: float = 1.0) -> None:
        """SQLite file databases: commits stop copying the write-ahead log back into the
        database themselves — a commit that does it holds the writer lock for tens of
        milliseconds, and every scan waiting behind it waits that long — and a daemon thread
        does it every `every_s` seconds instead (for the server)."""
        path = make_url(self.url).database
        if not self.is_sqlite or not path or path == ":memory:" or self._checkpointer:
            return
        self._checkpointer = threading.Thread(
            target=_checkpoint, args=(path, every_s), name="unitrace-wal-checkpoint", daemon=True
        )
        self.engine.dispose()  # connections made from now on skip the automatic checkpoint
        self._checkpointer.start()

    def dispose(self) -> None:
        self.engine.dispose()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


_RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03"}


def _is_contention(exc: OperationalError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(exc.orig) or "database is busy" in str(exc.orig)


def _checkpoint(path: str, every_s: float) -> None:
    import sqlite3

    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    while True:
        time.sleep(every_s)
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:  # busy or closed underneath: the next round tries again
            continue


def _sqlite_on_begin(conn: Connection) -> None:
    """SQLite transactions begin here (the driver runs in autocommit mode): BEGIN, or BEGIN
    IMMEDIATE for writers, so that a writer takes the lock before it reads. Run on the driver's
    cursor (a transaction per scan batch); its errors raised as SQLAlchemy raises them."""
    sql = conn.get_execution_options().get("sqlite_begin", "BEGIN")
    driver = conn.connection.dbapi_connection
    try:
        driver.execute(sql)  # type: ignore[union-attr]
    except conn.dialect.loaded_dbapi.Error as error:
        raise driver_error(conn, sql, (), error) from error


def sqlite_pragmas(busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> list[str]:
    """The pragmas every unitrace SQLite connection runs (benchmarks reuse them)."""
    return [
        "PRAGMA journal_mode=WAL",
        f"PRAGMA busy_timeout={busy_timeout_ms}",
        "PRAGMA foreign_keys=ON",
        "PRAGMA synchronous=NORMAL",
    ]
