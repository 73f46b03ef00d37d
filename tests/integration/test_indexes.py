"""Reads that people wait on (scan lookups, dossier, lists) use indexes: checked with EXPLAIN."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text

from tests.factories import in_stock
from unitrace.db.engine import Database
from unitrace.db.tables import units
from unitrace.ledger.queries import timeline_query
from unitrace.ledger.write import _BY_PRODUCT, _BY_SERIAL


def plan(db: Database, statement: Any) -> str:
    with db.engine.connect() as conn:
        sql = str(statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        if db.is_sqlite:
            rows = conn.execute(text("EXPLAIN QUERY PLAN " + sql)).all()
            return "\n".join(str(r[-1]) for r in rows)
        conn.execute(text("SET enable_seqscan = off"))  # small tables: make the planner show
        rows = conn.execute(text("EXPLAIN " + sql)).all()  # which indexes it can use
        return "\n".join(str(r[0]) for r in rows)


def assert_no_full_scan(db: Database, statement: Any, *tables: str) -> None:
    shown = plan(db, statement)
    for table in tables:
        if db.is_sqlite:
            bad = [
                line for line in shown.splitlines()
                if line.startswith(f"SCAN {table}") and "INDEX" not in line
            ]  # fmt: skip
        else:
            bad = [line for line in shown.splitlines() if f"Seq Scan on {table}" in line]
        assert not bad, shown


@pytest.fixture
def stocked(db: Database) -> Database:
    in_stock(db, 5)
    return db


def test_scan_lookups_use_the_serial_indexes(stocked: Database) -> None:
    by_product = _BY_PRODUCT.params(product="AC1", serials=["SN1", "SN2"])
    assert_no_full_scan(stocked, by_product, "units")
    assert_no_full_scan(stocked, _BY_SERIAL.params(serials=["SN1"]), "units")


def test_dossier_timeline_uses_the_unit_key(stocked: Database) -> None:
    assert_no_full_scan(stocked, timeline_query(3), "event_units", "events")


@pytest.mark.parametrize("column", ["parent_id", "holder_id", "location_id", "lot_id"])
def test_unit_filters_use_indexes(stocked: Database, column: str) -> None:
    statement = select(units.c.id).where(units.c[column] == 7)
    assert_no_full_scan(stocked, statement, "units")


def test_trace_queries_use_indexes(stocked: Database) -> None:
    from unitrace.ledger.genealogy import tree_query
    from unitrace.production.trace import _AFFECTED

    tables = ("units", "lot_uses", "event_units", "events")
    assert_no_full_scan(stocked, tree_query(3), *tables)
    assert_no_full_scan(stocked, _AFFECTED["lots"].params(lots=[1, 2]), *tables)
    assert_no_full_scan(stocked, _AFFECTED["serial+product"].params(serial="S", product_id=1),
                        *tables)  # fmt: skip
    from datetime import UTC, datetime

    window = {"since": datetime(2026, 1, 1, tzinfo=UTC), "until": datetime(2026, 2, 1, tzinfo=UTC)}
    for kind in ("equipment", "operator"):
        assert_no_full_scan(stocked, _AFFECTED[kind].params(start="X", **window), *tables)
    assert_no_full_scan(stocked, _AFFECTED["station"].params(start=1, **window), *tables)
