"""Benchmark: download N units as CSV and as .xlsx through the one streamed writer
(`interop.exports`, the rows of `ledger.queries.list_units` a page at a time, as
`GET /units?format=csv|xlsx` reads them), against just iterating the same pages (the baseline).

    python bench/export.py --units 1000000

The units are commissioned once into a fresh SQLite file; then each side runs in its own
process (so peak RSS is its own). Figures are printed, never asserted; the last line is one
JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

RULE = "SN{yy}{mm}-{seq:7}{check:luhn}"
SIDES = ("baseline", "csv", "xlsx")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def setup(path: Path, units: int) -> None:
    from unitrace.access.principal import SYSTEM
    from unitrace.catalog.schemas import ProductCreate
    from unitrace.catalog.service import create_product
    from unitrace.db import migrate
    from unitrace.db.engine import Database
    from unitrace.ledger.schemas import CommissionIn
    from unitrace.ledger.service import commission_units

    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    create_product(db, SYSTEM, ProductCreate(code="BENCH", name="bench", serial_rule=RULE))  # type: ignore[arg-type]
    done = 0
    while done < units:  # in events of at most 100,000 units (the write path's own batches)
        count = min(100_000, units - done)
        commission_units(db, SYSTEM, CommissionIn(product="BENCH", count=count))  # type: ignore[arg-type]
        done += count
    db.dispose()


def _rows(path: Path) -> Iterator[Mapping[str, Any]]:
    from unitrace.access.principal import SYSTEM
    from unitrace.db.engine import Database
    from unitrace.interop import exports
    from unitrace.ledger import queries

    db = Database(f"sqlite:///{path}")
    # every unit, as `GET /units?format=csv` without filters reads them (with `product`, SQLite
    # sorts the product's units by id for each page: see docs/exports.md, "Figures")
    return exports.paged(
        lambda page: queries.list_units(
            db, SYSTEM, after=int(page) if page else None, limit=queries.MAX_PAGE
        )
    )


def side(name: str, path: Path, out: Path) -> dict[str, float]:
    from unitrace.interop import exports

    _rows(path)  # imports and the engine made before the clock starts (both sides alike)
    started = time.perf_counter()
    rows = _rows(path)
    if name == "baseline":
        count = sum(1 for _row in rows)
        size = 0
    elif name == "csv":
        seen = [0]
        with out.open("wb") as handle:
            for chunk in exports.stream_csv(_counted(rows, seen), exports.UNITS):
                handle.write(chunk)
        count = seen[0]
        size = out.stat().st_size
    else:
        count = exports.write_xlsx(rows, exports.UNITS, out, "units")
        size = out.stat().st_size
    elapsed = time.perf_counter() - started
    return {"rows": count, "seconds": elapsed, "bytes": size, "peak_rss_mb": _peak_rss_mb()}


def _counted(rows: Iterator[Mapping[str, Any]], seen: list[int]) -> Iterator[Mapping[str, Any]]:
    for row in rows:
        seen[0] += 1
        yield row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:  # one side, in its own process
        print(json.dumps(side(args.side, args.db, args.out)))
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.sqlite"
        started = time.perf_counter()
        setup(path, args.units)
        print(f"setup: {args.units:,} units commissioned in {time.perf_counter() - started:.1f} s")
        figures: dict[str, dict[str, float]] = {}
        for name in SIDES:
            out = Path(folder) / f"units.{name}"
            command = [sys.executable, __file__, "--side", name, "--db", str(path)]
            answer = subprocess.run(
                [*command, "--out", str(out)], check=True, capture_output=True, text=True
            )
            figures[name] = json.loads(answer.stdout.strip().splitlines()[-1])
            out.unlink(missing_ok=True)
    base = figures["baseline"]
    result: dict[str, Any] = {"units": args.units}
    for name in SIDES:
        got = figures[name]
        assert got["rows"] == args.units, (name, got)
        rate = got["rows"] / got["seconds"]
        result[name] = {
            "rows_per_s": round(rate),
            "seconds": round(got["seconds"], 2),
            "peak_rss_mb": round(got["peak_rss_mb"], 1),
            "bytes": int(got["bytes"]),
        }
        line = f"{name:8} {rate:>12,.0f} rows/s  {got['seconds']:7.2f} s  "
        line += f"peak RSS {got['peak_rss_mb']:7.1f} MB"
        if name != "baseline":
            time_ratio = got["seconds"] / base["seconds"]
            rss_ratio = got["peak_rss_mb"] / base["peak_rss_mb"]
            result[name]["time_ratio"] = round(time_ratio, 2)
            result[name]["rss_ratio"] = round(rss_ratio, 2)
            line += f"  ({time_ratio:.2f}x the time, {rss_ratio:.2f}x the RSS of the baseline)"
        print(line)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
