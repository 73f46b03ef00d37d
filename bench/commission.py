"""Benchmark: commission N units of one product in one event, through the write path the API
uses, against raw sqlite3.executemany of the same rows into the same schema (the baseline).

    python bench/commission.py --units 1000000

Each side runs in its own process (so peak RSS is its own) on a fresh SQLite file.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RULE = "SN{yy}{mm}-{seq:7}{check:luhn}"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _fresh(path: Path) -> object:
    from unitrace.db import migrate
    from unitrace.db.engine import Database

    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    return db


def ours(path: Path, units: int, serials_out: Path) -> dict[str, float]:
    from unitrace.access.principal import SYSTEM
    from unitrace.catalog.schemas import ProductCreate
    from unitrace.catalog.service import create_product
    from unitrace.ledger.schemas import CommissionIn
    from unitrace.ledger.service import commission_units

    db = _fresh(path)
    create_product(db, SYSTEM, ProductCreate(code="BENCH", name="bench", serial_rule=RULE))  # type: ignore[arg-type]
    started = time.perf_counter()
    result = commission_units(db, SYSTEM, CommissionIn(product="BENCH", count=units))  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    assert result.unit_count == units
    serials_out.write_text("\n".join(result.serials))
    return {"seconds": elapsed, "peak_rss_mb": _peak_rss_mb()}


def baseline(path: Path, units: int, serials_in: Path) -> dict[str, float]:
    from unitrace.db.engine import sqlite_pragmas

    _fresh(path).dispose()  # type: ignore[attr-defined]
    serials = serials_in.read_text().split("\n")
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in sqlite_pragmas():
        conn.execute(pragma)
    conn.execute(
        "INSERT INTO products (id, code, name, tracking, serial_rule, warranty_months, "
        "warranty_start, description, created_at, updated_at) VALUES "
        "(1, 'BENCH', 'bench', 'serial', ?, 0, 'sale', '', '2026-01-01', '2026-01-01')",
        (RULE,),
    )
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT INTO events (id, event_id, payload_hash, type, event_time, event_tz, "
        "record_time, biz_transactions, data, unit_count) VALUES "
        "(1, 'e1', 'h', 'commission', '2026-01-01', '+00:00', '2026-01-01', '[]', '{}', ?)",
        (units,),
    )
    conn.executemany(
        "INSERT INTO units (id, product_id, serial, lot_id, status, location_id, attributes, "
        "last_event_id) VALUES (?, 1, ?, NULL, 10, NULL, NULL, 1)",
        ((i + 1, s) for i, s in enumerate(serials)),
    )
    conn.executemany(
        "INSERT INTO event_units (unit_id, event_id, role) VALUES (?, 1, 0)",
        ((i + 1,) for i in range(units)),
    )
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return {"seconds": elapsed, "peak_rss_mb": _peak_rss_mb()}


def _child(side: str, path: Path, units: int, serials: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--units", str(units), "--side", side, "--db", str(path),
         "--serials", str(serials)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--side", choices=["ours", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--serials", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side == "ours":
        print(json.dumps(ours(args.db, args.units, args.serials)))
        return
    if args.side == "baseline":
        print(json.dumps(baseline(args.db, args.units, args.serials)))
        return
    with tempfile.TemporaryDirectory(prefix="unitrace-bench-") as tmp:
        folder = Path(tmp)
        serials = folder / "serials.txt"
        mine = _child("ours", folder / "ours.db", args.units, serials)
        base = _child("baseline", folder / "baseline.db", args.units, serials)
    units_per_s = args.units / mine["seconds"]
    baseline_per_s = args.units / base["seconds"]
    print(f"{'':<34}{'seconds':>10}{'units/s':>14}{'peak RSS MB':>14}")
    print(f"{'unitrace commission (write path)':<34}{mine['seconds']:>10.2f}{units_per_s:>14,.0f}"
          f"{mine['peak_rss_mb']:>14.0f}")  # fmt: skip
    print(f"{'raw sqlite3 executemany':<34}{base['seconds']:>10.2f}{baseline_per_s:>14,.0f}"
          f"{base['peak_rss_mb']:>14.0f}")  # fmt: skip
    print(f"ratio (unitrace / baseline): {units_per_s / baseline_per_s:.2f}")
    print(json.dumps({
        "bench": "commission",
        "units": args.units,
        "units_per_s": round(units_per_s),
        "baseline_rows_per_s": round(baseline_per_s),
        "ratio": round(units_per_s / baseline_per_s, 3),
        "peak_rss_mb": round(mine["peak_rss_mb"], 1),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
