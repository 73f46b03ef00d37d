"""Query plans for tests: EXPLAIN of a Core statement, or of a hot statement exactly as the
driver runs it (`db.fast.Fast`, `db.fast.Listed`), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from unitrace.db.engine import Database
from unitrace.db.fast import Fast, Listed


@dataclass(frozen=True)
class Run:
    """A hot statement and the parameters its caller gives it: a dict for `Fast`, the
    positional parameters (lists for the list parameters) for `Listed`."""

    statement: Fast | Listed
    params: Any

    def driver(self, conn: Connection) -> tuple[str, Any]:
        """The SQL text and the parameters the driver gets, as `Fast.run` / `Listed.rows`
        send them."""
        if isinstance(self.statement, Fast):
            sql, prepare = self.statement._for(conn)
            return sql, prepare(dict(self.params))
        sql = self.statement._text(conn)
        if conn.dialect.name == "postgresql":
            values = tuple(list(p) if isinstance(p, (list, tuple)) else p for p in self.params)
        else:
            values = tuple(
                json.dumps(list(p)) if isinstance(p, (list, tuple)) else p for p in self.params
            )
        return sql, values


def plan(db: Database, statement: Any) -> str:
    """The plan of a Core statement (its bound values inlined) or of a `Run`, one line a step."""
    with db.engine.connect() as conn:
        if not db.is_sqlite:  # small tables: make the planner show which indexes it can use
            conn.execute(text("SET LOCAL enable_seqscan = off"))
        prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN "
        if isinstance(statement, Run):
            sql, values = statement.driver(conn)
            rows = conn.exec_driver_sql(prefix + sql, values).all()
        else:
            literal = {"literal_binds": True}
            sql = str(statement.compile(dialect=conn.dialect, compile_kwargs=literal))
            rows = conn.execute(text(prefix + sql)).all()
        return "\n".join(str(r[-1] if db.is_sqlite else r[0]) for r in rows)


def assert_no_full_scan(db: Database, statement: Any, *tables: str) -> None:
    """No table of `tables` is read whole (SQLite: SCAN without an index; PostgreSQL: a
    sequential scan even with sequential scans made expensive)."""
    shown = plan(db, statement)
    for table in tables:
        if db.is_sqlite:
            bad = [
                line
                for line in shown.splitlines()
                if line.startswith(f"SCAN {table}") and "INDEX" not in line
            ]
        else:
            bad = [line for line in shown.splitlines() if f"Seq Scan on {table}" in line]
        assert not bad, shown
