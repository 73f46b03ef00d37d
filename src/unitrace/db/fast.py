"""Hot statements run on the driver's cursor, without SQLAlchemy's per-call machinery.

A scan runs a handful of small statements, and SQLAlchemy's execute() costs several times
what SQLite spends on each of them (setting up the execution context, the result proxy, the
events). `Fast` wraps a Core statement: it is compiled once per dialect, its parameters go
through the column types' own bind processors (so UTC datetimes and JSON are stored exactly
as SQLAlchemy stores them), and it runs on the DBAPI cursor of the caller's connection —
inside the caller's transaction. Only for statements without expanding (IN-list) parameters
whose results are plain values (ids, codes, integers). JSON parameters named in `as_text` are
passed as JSON text the caller has made (their bind processor is skipped).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, exc


class Fast:
    def __init__(self, statement: Any, as_text: Sequence[str] = ()) -> None:
        self.statement = statement
        self.as_text = frozenset(as_text)
        self._compiled: dict[str, tuple[str, Callable[[dict[str, Any]], Any]]] = {}

    def _for(self, conn: Connection) -> tuple[str, Callable[[dict[str, Any]], Any]]:
        name = conn.dialect.name
        found = self._compiled.get(name)
        if found is None:
            found = self._compiled[name] = self._compile(conn)
        return found

    def _compile(self, conn: Connection) -> tuple[str, Callable[[dict[str, Any]], Any]]:
        """The SQL and a function from the caller's parameters to the driver's: fixed values
        added, bind processors applied (not to None), in the dialect's parameter order."""
        compiled = self.statement.compile(dialect=conn.dialect)
        if compiled.post_compile_params:
            raise TypeError("Fast statements take no IN lists; write them out (text)")
        processors = {
            k: p
            for k, p in compiled._bind_processors.items()
            if p is not None and k not in self.as_text
        }
        fixed = {
            name: bind.value
            for bind, names in compiled.bind_names.items()
            for name in [names]
            if bind.value is not None
        }
        if compiled.positional:
            plan = tuple((k, processors.get(k)) for k in compiled.positiontup)

            def positional(params: dict[str, Any]) -> Any:
                if fixed:
                    params = {**fixed, **params}
                return tuple(
                    params[k] if process is None or params[k] is None else process(params[k])
                    for k, process in plan
                )

            return str(compiled), positional

        def named(params: dict[str, Any]) -> Any:
            if fixed:
                params = {**fixed, **params}
            return {
                k: (processors[k](v) if k in processors and v is not None else v)
                for k, v in params.items()
            }

        return str(compiled), named

    def run(self, conn: Connection, params: dict[str, Any]) -> Any:
        """Execute with `params`; returns the DBAPI cursor (fetchone/fetchall/rowcount)."""
        sql, prepare = self._for(conn)
        values = prepare(params)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, values)
        except conn.dialect.loaded_dbapi.Error as error:
            raise driver_error(conn, sql, values, error) from error
        return cursor

    def many(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        sql, prepare = self._for(conn)
        prepared = [prepare(params) for params in rows]
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(sql, prepared)
        except conn.dialect.loaded_dbapi.Error as error:
            raise driver_error(conn, sql, prepared, error) from error

    def scalar(self, conn: Connection, params: dict[str, Any]) -> Any:
        row = self.run(conn, params).fetchone()
        return None if row is None else row[0]


def driver_error(conn: Connection, sql: str, values: Any, error: Exception) -> Exception:
    """The driver's error as SQLAlchemy raises it (IntegrityError, OperationalError …), so
    that callers handle a unique violation or a lock time-out the same on either path; its
    message without the parameters, like the engine's (`hide_parameters`)."""
    return exc.DBAPIError.instance(
        sql, values, error, conn.dialect.loaded_dbapi.Error, hide_parameters=True
    )


def changes(conn: Connection) -> int:
    """SQLite: rows inserted, updated or deleted on this connection so far."""
    return int(conn.connection.dbapi_connection.total_changes)  # type: ignore[union-attr]


def savepoint(conn: Connection, name: str) -> None:
    conn.connection.dbapi_connection.cursor().execute(f"SAVEPOINT {name}")  # type: ignore[union-attr]


def release(conn: Connection, name: str) -> None:
    conn.connection.dbapi_connection.cursor().execute(f"RELEASE SAVEPOINT {name}")  # type: ignore[union-attr]


def rollback_to(conn: Connection, name: str) -> None:
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(f"ROLLBACK TO SAVEPOINT {name}")
    cursor.execute(f"RELEASE SAVEPOINT {name}")


_BATCH = "unitrace.batch_cache"


def once_per_batch(conn: Connection, key: Any, compute: Callable[[], Any]) -> Any:
    """`compute()`, asked once per group-commit batch (every time outside one): for lookups
    that cannot change under a batch of scans — a location's id by its code, whether any
    recall is open, whether a product has a completion gate."""
    cache: dict[Any, Any] | None = conn.info.get(_BATCH)
    if cache is None:
        return compute()
    if key not in cache:
        cache[key] = compute()
    return cache[key]


def start_batch(conn: Connection) -> None:
    conn.info[_BATCH] = {}


def end_batch(conn: Connection) -> None:
    conn.info.pop(_BATCH, None)


class Listed:
    """A plain SQL statement with list parameters, run on the driver's cursor: one text for any
    length of list — no IN list of thousands of bind names to render and parse for every call.

    In the SQL, `{p}` is a parameter and `{in}` is `IN <a list parameter>`: on SQLite
    `IN (SELECT value FROM json_each(?))` (the list sent as JSON text), on PostgreSQL
    `= ANY(%s)` (the list sent as an array). Parameters are given in order; lists and tuples
    are the list parameters. Values must need no conversion (ints, strings)."""

    def __init__(self, sql: str) -> None:
        self.sql = sql
        self._texts: dict[str, str] = {}

    def _text(self, conn: Connection) -> str:
        name = conn.dialect.name
        found = self._texts.get(name)
        if found is None:
            if name == "postgresql":
                found = self.sql.format(p="%s", **{"in": "= ANY(%s)"})
            else:
                found = self.sql.format(p="?", **{"in": "IN (SELECT value FROM json_each(?))"})
            self._texts[name] = found
        return found

    def rows(self, conn: Connection, *params: Any) -> list[Any]:
        sql = self._text(conn)
        if conn.dialect.name == "postgresql":
            values = tuple(list(p) if isinstance(p, (list, tuple)) else p for p in params)
        else:
            values = tuple(
                json.dumps(list(p)) if isinstance(p, (list, tuple)) else p for p in params
            )
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, values)
            return list(cursor.fetchall())
        except conn.dialect.loaded_dbapi.Error as error:
            raise driver_error(conn, sql, values, error) from error
        finally:
            cursor.close()
