"""Set-based helpers: chunked IN lists, bulk inserts (executemany on SQLite, COPY on PostgreSQL)
and block allocation of counters (unit ids, serial sequences) that is safe across processes."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

T = TypeVar("T")
CHUNK = 5_000


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def bulk_insert(
    conn: Connection, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Insert many rows in one statement batch on the connection's open transaction."""
    if not rows:
        return
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        _copy(conn, table, columns, rows)
        return
    marks = ", ".join("?" for _ in columns)
    json_columns = {i for i, c in enumerate(columns) if _is_json(table, c)}
    if json_columns:
        rows = [
            tuple(
                json.dumps(v) if i in json_columns and v is not None else v
                for i, v in enumerate(row)
            )
            for row in rows
        ]
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", rows)


def _copy(
    conn: Connection, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    import psycopg

    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    json_columns = {i for i, c in enumerate(columns) if _is_json(table, c)}
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                if json_columns:
                    row = tuple(
                        json.dumps(v) if i in json_columns and v is not None else v
                        for i, v in enumerate(row)
                    )
                copy.write_row(row)
    except psycopg.IntegrityError as exc:
        # Same exception type as every other statement, so callers handle one kind.
        raise IntegrityError(statement, None, exc) from exc


def _is_json(table: Table, column: str) -> bool:
    return table.c[column].type.__class__.__name__ == "JSON"


def allocate(conn: Connection, table: Table, key: dict[str, Any], column: str, count: int) -> int:
    """Reserve `count` consecutive values of a counter row; returns the first one.

    The UPDATE takes the row's write lock (PostgreSQL) or runs under BEGIN IMMEDIATE (SQLite),
    so concurrent transactions get disjoint blocks. A rolled-back transaction returns its
    block, so values are never skipped by failures and never handed out twice.
    """
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(dialect_insert(table).values(**key, **{column: 0}).on_conflict_do_nothing())
    where = " AND ".join(f"{k} = :{k}" for k in key)
    last = conn.execute(
        text(
            f"UPDATE {table.name} SET {column} = {column} + :count WHERE {where} RETURNING {column}"
        ),
        {**key, "count": count},
    ).scalar_one()
    return int(last) - count + 1
