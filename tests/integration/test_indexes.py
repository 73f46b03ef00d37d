"""Reads that people wait on (scan lookups, dossier, lists) use indexes: checked with EXPLAIN.

The write path's unit lookups are checked as the driver runs them: the one-row `Fast`
statements of a scan and the many-row `Listed` statements of a batch (`ledger.write`), with
the parameters `lookup_units` gives them — and a spy checks that these are the statements it
runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import select

from tests.factories import in_stock, make_location, make_party, make_product, record
from tests.plans import Run, assert_no_full_scan, plan
from unitrace.access.principal import SYSTEM
from unitrace.db import fast
from unitrace.db.engine import Database
from unitrace.db.tables import parties, units
from unitrace.ledger import service as ledger
from unitrace.ledger import write
from unitrace.ledger.queries import timeline_query
from unitrace.ledger.schemas import CommissionIn


@pytest.fixture
def stocked(db: Database) -> Database:
    in_stock(db, 5)
    return db


@pytest.fixture
def partner_stock(db: Database) -> Database:
    """3,000 units in stock, 2,000 of them held by a partner — so a plan that walks the
    partner's units differs from one that goes by serial. PostgreSQL plans by statistics, as a
    live database has them; SQLite gets none (unitrace never runs ANALYZE on it)."""
    make_product(db, "AC1", rule=None)
    make_location(db)
    make_party(db)
    serials = [f"S{i:05d}" for i in range(3_000)]
    ledger.commission_units(db, SYSTEM, CommissionIn(product="AC1", serials=serials))
    record(db, type="receive", product="AC1", serials=serials, location="WH1")
    record(db, type="ship", product="AC1", serials=serials[:2_000], party="D-EAST")
    if not db.is_sqlite:
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    return db


def holder_of(db: Database) -> int:
    with db.read() as conn:
        return int(
            conn.execute(select(parties.c.id).where(parties.c.code == "D-EAST")).scalar_one()
        )


def assert_by_serial(db: Database, statement: Any) -> None:
    """The units are looked up on a serial index (alone or with the product), not walked
    through the units a partner holds."""
    shown = plan(db, statement)
    assert "ix_units_holder" not in shown, shown
    if db.is_sqlite:
        searches = [
            line for line in shown.splitlines() if line.startswith(("SEARCH u ", "SEARCH units "))
        ]
        assert searches and all("serial=?" in line for line in searches), shown
    else:
        assert "ix_units_serial" in shown or "uq_units_product_serial" in shown, shown


def one(name: str, holder: int | None) -> Run:
    """A scan's lookup: one serial, with or without its product and holder."""
    params: dict[str, Any] = {"serial": "S00001"}
    if "PRODUCT" in name:
        params["product"] = "AC1"
    if holder is not None:
        params["holder"] = holder
    return Run(getattr(write, name), params)


def many(name: str, holder: int | None) -> Run:
    """A batch's lookup: a list of serials, with or without their product and holder."""
    params: list[Any] = ["AC1"] if "PRODUCT" in name else []
    params.append([f"S{i:05d}" for i in range(0, 3_000, 600)])  # a few, here and there
    if holder is not None:
        params.append(holder)
    return Run(getattr(write, name), tuple(params))


@pytest.mark.parametrize(
    ("name", "held"),
    [
        ("_ONE_BY_PRODUCT", False),
        ("_ONE_BY_SERIAL", False),
        ("_ONE_BY_PRODUCT_HELD", True),
        ("_ONE_BY_SERIAL_HELD", True),
    ],
)
def test_a_scans_unit_lookup_goes_by_serial(partner_stock: Database, name: str, held: bool) -> None:
    statement = one(name, holder_of(partner_stock) if held else None)
    assert_no_full_scan(partner_stock, statement, "units", "products")
    assert_by_serial(partner_stock, statement)


@pytest.mark.parametrize(
    ("name", "held"),
    [
        ("_MANY_BY_PRODUCT", False),
        ("_MANY_BY_SERIAL", False),
        ("_MANY_BY_PRODUCT_HELD", True),
        ("_MANY_BY_SERIAL_HELD", True),
    ],
)
def test_a_batchs_unit_lookup_goes_by_serial(
    partner_stock: Database, name: str, held: bool
) -> None:
    statement = many(name, holder_of(partner_stock) if held else None)
    assert_no_full_scan(partner_stock, statement, "units", "products")
    assert_by_serial(partner_stock, statement)


def test_the_explained_statements_are_the_ones_lookups_run(
    partner_stock: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[object] = []
    real_run, real_rows = fast.Fast.run, fast.Listed.rows

    def spy_run(self: fast.Fast, conn: Any, params: dict[str, Any]) -> Any:
        ran.append(self)
        return real_run(self, conn, params)

    def spy_rows(self: fast.Listed, conn: Any, *params: Any) -> list[Any]:
        ran.append(self)
        return real_rows(self, conn, *params)

    monkeypatch.setattr(fast.Fast, "run", spy_run)
    monkeypatch.setattr(fast.Listed, "rows", spy_rows)
    holder = holder_of(partner_stock)

    def used(refs: Sequence[write.Ref], held: int | None) -> list[object]:
        ran.clear()
        with partner_stock.read() as conn:
            write.lookup_units(conn, refs, held)
        return list(ran)

    scan = [("serials.0", "AC1", "SN1")]
    scan_any = [("serials.0", None, "SN1")]
    batch = [(f"serials.{i}", "AC1", f"SN{i}") for i in range(3)]
    batch_any = [(f"units.{i}.serial", None, f"SN{i}") for i in range(3)]
    assert used(scan, None) == [write._ONE_BY_PRODUCT]
    assert used(scan_any, None) == [write._ONE_BY_SERIAL]
    assert used(scan, holder) == [write._ONE_BY_PRODUCT_HELD]
    assert used(scan_any, holder) == [write._ONE_BY_SERIAL_HELD]
    assert used(batch, None) == [write._MANY_BY_PRODUCT]
    assert used(batch_any, None) == [write._MANY_BY_SERIAL]
    assert used(batch, holder) == [write._MANY_BY_PRODUCT_HELD]
    assert used(batch_any, holder) == [write._MANY_BY_SERIAL_HELD]


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


def test_the_commission_time_checks_use_indexes(stocked: Database) -> None:
    """An event's time against its units' commission: the latest commission of all (every
    wave), then the commissions of the named units (only for events dated before it)."""
    from unitrace.ledger.pipeline import _LATEST_COMMISSION

    latest = plan(stocked, _LATEST_COMMISSION.statement)
    if stocked.is_sqlite:
        assert "ix_events_type_time" in latest, latest
    else:
        assert "ix_events_type_time" in latest and "Seq Scan" not in latest, latest
    times = write.COMMISSION_TIMES.params(ids=[1, 2, 3])
    assert_no_full_scan(stocked, times, "event_units", "events")
