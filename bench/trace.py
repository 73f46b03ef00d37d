"""Benchmark: genealogy trace on a plant's worth of units, built through the write path.

    python bench/trace.py --units 1000000

Builds N finished units (FIN), each with 3 serialised components — a motor, a compressor and a
board that is itself an assembly of 2 chips — and 5 lot-tracked parts consumed by lot. The first
chip (CHIP-A) comes from 20 lots, so one lot reaches ≈ N/20 finished units; the 5 consumed
parts come from 4 lots each (20 more lots). All of it goes through the use cases the API calls
(commission, then batches of assemble events; the assembly figure times the write pipeline,
not the making of the events' objects). Then it times, on the same SQLite file:

- backward trace of one finished unit (its whole tree),
- forward trace of one component serial (a CHIP-A, two levels down),
- forward trace of one CHIP-A lot (≈ N/20 finished units, every row fetched),

each the median of several runs, against the baseline: the same forward query hand-written as
one recursive SQL statement run with the sqlite3 module. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CHIP_LOTS = 20
PARTS = ("SCREW", "GASKET", "CABLE", "LABEL", "FOAM")
PART_LOTS = 4
BATCH = 20_000

BASELINE_FORWARD = """
WITH RECURSIVE seeds(id) AS (
    SELECT id FROM units WHERE lot_id = :lot
    UNION SELECT unit_id FROM lot_uses WHERE lot_id = :lot
), up(id) AS (
    SELECT id FROM seeds
    UNION SELECT u.parent_id FROM units u JOIN up ON u.id = up.id WHERE u.parent_id IS NOT NULL
)
SELECT u.id, u.serial, p.code, u.status, l.code, h.code, h.name, h.kind,
       coalesce(h.region, l.region),
       (SELECT max(e.event_time) FROM event_units eu JOIN events e ON e.id = eu.event_id
         WHERE eu.unit_id = u.id AND e.type = 'sell')
FROM up JOIN units u ON u.id = up.id
JOIN products p ON p.id = u.product_id
LEFT JOIN locations l ON l.id = u.location_id
LEFT JOIN parties h ON h.id = u.holder_id
WHERE u.parent_id IS NULL
ORDER BY u.id
"""


def _median_ms(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times = []
    result = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def build(path: Path, units: int) -> dict[str, Any]:
    from unitrace.access.principal import SYSTEM
    from unitrace.catalog import service as catalog
    from unitrace.catalog.schemas import LocationCreate, LotCreate, PartyCreate, ProductCreate
    from unitrace.db import migrate
    from unitrace.db.engine import Database
    from unitrace.ledger import service as ledger
    from unitrace.ledger.schemas import CommissionIn, EventIn, LotUseIn, UnitRef

    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    catalog.create_party(db, SYSTEM, PartyCreate(code="SUP", name="supplier", kind="supplier"))
    catalog.create_location(db, SYSTEM, LocationCreate(code="LINE", name="line", kind="station",
                                                       region="CN-44"))  # fmt: skip
    for code in ("FIN", "MOTOR", "CMP", "BOARD", "CHIP-A", "CHIP-B"):
        rule = f"{code}-{{seq:8}}"
        catalog.create_product(db, SYSTEM, ProductCreate(code=code, name=code, serial_rule=rule))
    for code in PARTS:
        catalog.create_product(db, SYSTEM, ProductCreate(code=code, name=code, tracking="lot"))
        for n in range(PART_LOTS):
            catalog.create_lot(db, SYSTEM, LotCreate(product=code, number=f"{code}-L{n}",
                                                     supplier="SUP"))  # fmt: skip
    for n in range(CHIP_LOTS):
        catalog.create_lot(db, SYSTEM, LotCreate(product="CHIP-A", number=f"CA-L{n:02d}",
                                                 supplier="SUP"))  # fmt: skip
    timings: dict[str, float] = {}
    started = time.perf_counter()
    made: dict[str, list[str]] = {}
    for code in ("FIN", "MOTOR", "CMP", "BOARD", "CHIP-B"):
        made[code] = ledger.commission_units(db, SYSTEM, CommissionIn(
            product=code, count=units, location="LINE")).serials  # fmt: skip
    per_lot = -(-units // CHIP_LOTS)
    made["CHIP-A"] = []
    for n in range(CHIP_LOTS):
        count = min(per_lot, units - n * per_lot)
        if count > 0:
            made["CHIP-A"] += ledger.commission_units(db, SYSTEM, CommissionIn(
                product="CHIP-A", lot=f"CA-L{n:02d}", count=count)).serials  # fmt: skip
    timings["commission_s"] = time.perf_counter() - started

    # the events are made first: the figure is the pipeline's, not the client's pydantic
    boards = [
        EventIn(type="assemble", parent=UnitRef(product="BOARD", serial=made["BOARD"][i]),
                units=[UnitRef(product="CHIP-A", serial=made["CHIP-A"][i]),
                       UnitRef(product="CHIP-B", serial=made["CHIP-B"][i])],
                location="LINE", operator=f"OP{i % 40:02d}")
        for i in range(units)
    ]  # fmt: skip
    finished = [
        EventIn(type="assemble", parent=UnitRef(product="FIN", serial=made["FIN"][i]),
                units=[UnitRef(product=c, serial=made[c][i]) for c in ("MOTOR", "CMP", "BOARD")],
                consumed=[LotUseIn(product=p, lot=f"{p}-L{i % PART_LOTS}", quantity=2)
                          for p in PARTS],
                location="LINE", operator=f"OP{i % 40:02d}")
        for i in range(units)
    ]  # fmt: skip
    started = time.perf_counter()
    for events in (boards, finished):
        for first in range(0, units, BATCH):
            ledger.record_events(db, SYSTEM, events[first : first + BATCH])
    timings["assembly_s"] = time.perf_counter() - started
    db.dispose()
    return {"timings": timings, "fin": made["FIN"][units // 2],
            "chip": made["CHIP-A"][units // 3]}  # fmt: skip


def measure(path: Path, fin: str, chip: str, repeat: int) -> dict[str, Any]:
    from unitrace.access.principal import SYSTEM
    from unitrace.db.engine import Database, sqlite_pragmas
    from unitrace.production import trace
    from unitrace.production.schemas import TraceQuery

    db = Database(f"sqlite:///{path}")
    lot = TraceQuery(product="CHIP-A", lot="CA-L07")
    trace.forward(db, SYSTEM, lot, limit=trace.MAX_ITEMS)  # warm the cache once
    back_ms, tree = _median_ms(lambda: trace.backward(db, SYSTEM, fin, "FIN"), repeat)
    serial_ms, by_serial = _median_ms(
        lambda: trace.forward(db, SYSTEM, TraceQuery(serial=chip, product="CHIP-A")), repeat
    )
    lot_ms, by_lot = _median_ms(
        lambda: trace.forward(db, SYSTEM, lot, limit=trace.MAX_ITEMS), repeat
    )
    assert len(tree["components"]) == 3 and len(tree["consumed"]) == len(PARTS)
    assert by_serial["total"] == 1 and by_lot["total"] == len(by_lot["items"])
    db.dispose()

    conn = sqlite3.connect(path)
    for pragma in sqlite_pragmas():
        conn.execute(pragma)
    lot_id = conn.execute("SELECT id FROM lots WHERE number = 'CA-L07'").fetchone()[0]
    base_ms, rows = _median_ms(
        lambda: conn.execute(BASELINE_FORWARD, {"lot": lot_id}).fetchall(), repeat
    )
    conn.close()
    assert len(rows) == by_lot["total"], (len(rows), by_lot["total"])
    return {"backward_ms": back_ms, "forward_serial_ms": serial_ms, "forward_lot_ms": lot_ms,
            "baseline_lot_ms": base_ms, "lot_units": by_lot["total"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=100_000, help="finished units")
    parser.add_argument("--repeat", type=int, default=7, help="runs per query (median)")
    parser.add_argument("--db", type=Path, help="keep the database here (default: temporary)")
    parser.add_argument("--reuse", action="store_true",
                        help="measure again on the --db built by an earlier run")  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="unitrace-trace-") as tmp:
        path = args.db or Path(tmp) / "trace.db"
        if args.reuse:
            built = json.loads(path.with_suffix(".json").read_text())
            args.units = built["units"]
        else:
            built = build(path, args.units)
            built["units"] = args.units
            path.with_suffix(".json").write_text(json.dumps(built))
        found = measure(path, built["fin"], built["chip"], args.repeat)
    t = built["timings"]
    all_units = 6 * args.units
    ratio = found["forward_lot_ms"] / found["baseline_lot_ms"]
    print(f"built {args.units:,} finished units ({all_units:,} units in all): commission "
          f"{t['commission_s']:.1f} s ({all_units / t['commission_s']:,.0f} units/s), "
          f"{2 * args.units:,} assembly events {t['assembly_s']:.1f} s "
          f"({2 * args.units / t['assembly_s']:,.0f} events/s)")  # fmt: skip
    print(f"{'query':<44}{'ms (median)':>12}{'target':>10}")
    for label, key, target in (
        ("backward trace of one finished unit", "backward_ms", "< 10"),
        ("forward trace of one component serial", "forward_serial_ms", "< 10"),
        (f"forward trace of one lot ({found['lot_units']:,} units)", "forward_lot_ms", "< 1000"),
        ("baseline: same lot query, raw recursive SQL", "baseline_lot_ms", ""),
    ):  # fmt: skip
        print(f"{label:<44}{found[key]:>12.1f}{target:>10}")
    print(f"ratio (unitrace lot trace / baseline): {ratio:.2f}  (target ≤ 1.5)")
    print(json.dumps({
        "bench": "trace", "finished_units": args.units, "units_total": all_units,
        "commission_units_per_s": round(all_units / t["commission_s"]),
        "assembly_events_per_s": round(2 * args.units / t["assembly_s"]),
        "backward_ms": round(found["backward_ms"], 2),
        "forward_serial_ms": round(found["forward_serial_ms"], 2),
        "forward_lot_ms": round(found["forward_lot_ms"], 1),
        "baseline_lot_ms": round(found["baseline_lot_ms"], 1),
        "lot_units": found["lot_units"], "ratio": round(ratio, 3),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
