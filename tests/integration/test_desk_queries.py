"""The service desk's answer reads through indexes, in one read transaction: every statement
one answer runs is caught as the driver gets it and EXPLAINed (SQLite and PostgreSQL), so a
claim check or a dossier section added later is held to it too (`bench/service_desk.py`
measures the answer; this keeps it from walking tables as they grow)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text

from tests.factories import make_location, make_party, make_product, make_units, record
from unitrace.access.principal import SYSTEM, Actor
from unitrace.aftersales import cases, desk
from unitrace.aftersales.schemas import CaseIn
from unitrace.db.engine import Database

# tables that grow with the units and their events: never read whole by one unit's answer
GROWING = (
    "units",
    "events",
    "event_units",
    "lot_uses",
    "unit_steps",
    "recall_units",
    "diversion_alerts",
    "shipments",
    "service_cases",
    "case_history",
    "case_parts",
    "case_costs",
    "case_attachments",
    "spare_requests",
    "spare_request_units",
    "warranty_adjustments",
    "stolen_reports",
    "event_containers",
    "containers",
    "audit_log",
)
AGENT = Actor("agent01", "service")


@pytest.fixture
def lived(db: Database) -> str:
    """One unit with a life (received, shipped, delivered, sold, returned, repaired) and a
    case, among 300 others sold too — so a plan that walks every sale differs from one that
    goes by the unit. PostgreSQL plans by statistics (ANALYZE), SQLite without."""
    make_product(db, warranty_months=24, warranty_start="sale")
    make_product(db, "CMP", rule="C{seq:6}")
    make_location(db)
    make_location(db, "SVC", kind="service")
    make_party(db, regions=["CN-44"])
    start = datetime.now(UTC) - timedelta(days=400)
    serials = make_units(db, count=301, event_time=start)
    record(db, type="receive", serials=serials, location="WH1", event_time=start)
    for i, serial in enumerate(serials[1:]):  # a sale each, as shops report them
        record(db, type="sell", serials=[serial], event_time=start + timedelta(minutes=i + 1))
    unit = serials[0]
    parts = make_units(db, "CMP", count=70, event_time=start)
    for i, serial in enumerate(serials[1:21]):  # repairs elsewhere: parts replaced in 20 units
        one, other = parts[3 * i], parts[3 * i + 1]
        at = start + timedelta(days=1, minutes=i)
        record(
            db, type="assemble", parent={"serial": serial}, units=[{"serial": one}], event_time=at
        )
        record(
            db,
            type="replace_part",
            parent={"serial": serial},
            units=[{"serial": other}],
            removed=[{"serial": one}],
            event_time=at + timedelta(seconds=1),
        )
    # the unit itself: two components, one of them replaced once
    own = parts[-3:]
    record(
        db,
        type="assemble",
        parent={"serial": unit},
        units=[{"serial": own[0]}, {"serial": own[1]}],
        event_time=start + timedelta(days=2),
    )
    record(
        db,
        type="replace_part",
        parent={"serial": unit},
        units=[{"serial": own[2]}],
        removed=[{"serial": own[0]}],
        event_time=start + timedelta(days=3),
    )
    later = start + timedelta(days=10)
    for n, (kind, extra) in enumerate(
        [
            ("ship", {"party": "D-EAST"}),
            ("deliver", {}),
            ("sell", {"region": "CN-44"}),
            ("return", {"location": "SVC"}),
            ("repair", {}),
            ("inspect", {}),
        ]
    ):
        record(db, type=kind, serials=[unit], event_time=later + timedelta(days=n), **extra)
    cases.open_case(db, SYSTEM, CaseIn(serial=unit, warranty_claim=False, location="SVC"))
    if not db.is_sqlite:
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    return unit


@pytest.fixture
def statements(db: Database) -> Iterator[list[tuple[str, Any]]]:
    """The SQL text and parameters of every statement run on the database meanwhile."""
    caught: list[tuple[str, Any]] = []

    def spy(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        caught.append((sql, params))

    event.listen(db.engine, "before_cursor_execute", spy)
    yield caught
    event.remove(db.engine, "before_cursor_execute", spy)


def plans(db: Database, caught: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    """Each SELECT caught, with its plan as the driver runs it (its own parameters)."""
    out = []
    with db.engine.connect() as conn:
        if not db.is_sqlite:  # small tables: make the planner show which indexes it can use
            conn.execute(text("SET LOCAL enable_seqscan = off"))
        prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN "
        for sql, params in caught:
            if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            rows = conn.exec_driver_sql(prefix + sql, params).all()
            out.append((sql, "\n".join(str(r[-1] if db.is_sqlite else r[0]) for r in rows)))
    return out


def full_scans(db: Database, plan: str) -> list[str]:
    lines = plan.splitlines()
    if db.is_sqlite:
        return [
            line.strip()
            for line in lines
            for table in GROWING
            if line.strip().startswith(f"SCAN {table}") and "INDEX" not in line
        ]
    return [line.strip() for line in lines for t in GROWING if f"Seq Scan on {t} " in line + " "]


def test_every_statement_of_a_desk_answer_reads_through_an_index(
    db: Database, lived: str, statements: list[tuple[str, Any]]
) -> None:
    answer = desk.answer(db, AGENT, lived)

    assert answer["unit"]["serial"] == lived and answer["cases"], answer
    explained = plans(db, statements)
    assert len(explained) >= 5, explained  # the spy saw the answer's reads
    walked = {sql: bad for sql, plan in explained if (bad := full_scans(db, plan))}
    assert not walked, walked


def test_a_desk_answer_is_one_read_transaction(
    db: Database, lived: str, statements: list[tuple[str, Any]]
) -> None:
    """One look, one consistent view: the dossier, the verdict, the checks and the cases are
    read in the same transaction (one connection from the pool, one BEGIN)."""
    checkouts: list[object] = []

    def checkout(dbapi: Any, record: Any, proxy: Any) -> None:
        checkouts.append(dbapi)

    event.listen(db.engine, "checkout", checkout)
    try:
        desk.answer(db, AGENT, lived)
    finally:
        event.remove(db.engine, "checkout", checkout)

    assert len(checkouts) == 1, checkouts
    assert statements, "the answer ran no statement"


def test_the_parts_taken_out_of_a_unit_are_found_by_the_unit_not_by_walking_every_repair(
    db: Database, lived: str, statements: list[tuple[str, Any]]
) -> None:
    """The dossier's removed parts (`ledger.genealogy`) — replace_part and disassemble events of
    the unit and its components — go by `ix_events_parent_unit`, not through every part
    replacement of every unit (`ix_events_type_time`), which repairs make many."""
    answer = desk.answer(db, AGENT, lived)

    assert len(answer["unit"]["component_tree"]) == 2, answer["unit"]["component_tree"]
    removed = [(sql, plan) for sql, plan in plans(db, statements) if "parent_unit_id IN" in sql]
    assert removed, "the spy saw no removed-parts lookup"
    for _sql, plan in removed:
        assert "ix_events_parent_unit" in plan and "ix_events_type_time" not in plan, plan


def test_a_unit_s_warranty_start_is_found_by_the_unit_not_by_walking_every_sale(
    db: Database, lived: str, statements: list[tuple[str, Any]]
) -> None:
    """The events of one unit are reached from its `event_units` rows (the primary key, unit
    first), never by walking an index of all events by type and time — which the planners pick
    for `ORDER BY event_time LIMIT 1`, and then read every sale of every unit before this one."""
    desk.answer(db, AGENT, lived)

    walking = [
        (sql, plan)
        for sql, plan in plans(db, statements)
        if "ix_events_type_time" in plan or "ix_events_location_time" in plan
    ]
    assert not walking, walking
