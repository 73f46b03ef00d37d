"""Benchmark: import a units file (CSV by default, or .xlsx) through `unitrace import`'s engine
(read, check, commission through the write pipeline), against reading the same file with the
same reader alone (the baseline), in the same run.

    python bench/import.py --rows 1000000 [--xlsx] [--db postgresql+psycopg://…]

Each phase runs in its own child process, so its peak RSS is its own; the import goes into a
fresh SQLite file unless --db names a database (then a product of its own, so runs do not
collide). Targets: 1,000,000 rows in under 60 s with at most 500 MB peak RSS. The last line is
one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

DAYS = 30
TARGET_SECONDS, TARGET_MB = 60, 500
HEADER = ["序列号", "物料编码", "批次号", "仓库", "生产日期"]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_file(path: Path, rows: int, product: str, xlsx: bool) -> None:
    """`rows` units of one product in two lots, made on one of 30 days."""
    lines = (
        [f"B{n:09d}", product, f"L{n % 2}", "BWH", f"2025-{1 + n % 12:02d}-{1 + n % DAYS:02d}"]
        for n in range(rows)
    )
    if xlsx:
        import xlsxwriter

        book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
        sheet = book.add_worksheet()
        sheet.write_row(0, 0, HEADER)
        for r, line in enumerate(lines, start=1):
            sheet.write_row(r, 0, line)
        book.close()
        return
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        writer.writerows(lines)


def read_side(path: Path) -> dict[str, float]:
    from unitrace.config import ImportLimits
    from unitrace.interop.imports.readers import rows

    started = time.perf_counter()
    count = sum(1 for _ in rows(path, path.name, ImportLimits())) - 1
    return {"seconds": time.perf_counter() - started, "rows": count, "peak_rss_mb": _peak_rss_mb()}


def import_side(path: Path, url: str, product: str) -> dict[str, float]:
    from unitrace.access.principal import SYSTEM
    from unitrace.catalog import service as catalog
    from unitrace.catalog.schemas import LocationCreate, LotCreate, ProductCreate
    from unitrace.core.errors import Conflict
    from unitrace.db import migrate
    from unitrace.db.engine import Database
    from unitrace.interop.imports import service

    db = Database(url)
    migrate.upgrade(db)
    catalog.create_product(db, SYSTEM, ProductCreate(code=product, name="bench"))
    with contextlib.suppress(Conflict):  # made by an earlier run on the same database
        catalog.create_location(
            db, SYSTEM, LocationCreate(code="BWH", name="bench", kind="warehouse")
        )
    for lot in ("L0", "L1"):
        catalog.create_lot(db, SYSTEM, LotCreate(product=product, number=lot))
    started = time.perf_counter()
    job = service.start(
        db, SYSTEM, kind="units", filename=path.name, content=path, wait=True, repeat=True
    )
    elapsed = time.perf_counter() - started
    if job["status"] != "done":
        raise SystemExit(f"the import did not finish: {job['status']} {job['message']}")
    return {
        "seconds": elapsed,
        "rows": job["written"],
        "peak_rss_mb": _peak_rss_mb(),
    }


def _child(*args: str) -> dict[str, float]:
    command = [sys.executable, __file__, *args]
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{' '.join(args[:2])} failed:\n{out.stderr[-3000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--xlsx", action="store_true", help="an .xlsx file instead of CSV")
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--side", choices=["import", "read"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--product", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side == "read":
        print(json.dumps(read_side(args.file)))
        return
    if args.side == "import":
        print(json.dumps(import_side(args.file, args.db, args.product)))
        return
    product = f"B{uuid.uuid4().hex[:8].upper()}"
    with tempfile.TemporaryDirectory(prefix="unitrace-bench-") as tmp:
        folder = Path(tmp)
        file = folder / ("units.xlsx" if args.xlsx else "units.csv")
        made = time.perf_counter()
        make_file(file, args.rows, product, args.xlsx)
        made = time.perf_counter() - made
        url = args.db or f"sqlite:///{folder / 'bench.db'}"
        read = _child("--side", "read", "--file", str(file))
        mine = _child("--side", "import", "--file", str(file), "--db", url, "--product", product)
        size_mb = file.stat().st_size / 2**20
    assert mine["rows"] == read["rows"] == args.rows, (mine, read)
    rows_per_s = args.rows / mine["seconds"]
    read_per_s = args.rows / read["seconds"]
    kind = "xlsx" if args.xlsx else "csv"
    print(f"{args.rows:,} rows, {kind}, {size_mb:.1f} MB (made in {made:.1f} s)")
    print(f"{'':<30}{'seconds':>10}{'rows/s':>12}{'peak RSS MB':>14}")
    for name, side in (("import (unitrace import)", mine), ("read alone (same reader)", read)):
        per_s = args.rows / side["seconds"]
        print(f"{name:<30}{side['seconds']:>10.2f}{per_s:>12,.0f}{side['peak_rss_mb']:>14.0f}")
    ratio = rows_per_s / read_per_s
    rss_ratio = mine["peak_rss_mb"] / read["peak_rss_mb"]
    print(f"ratio (import / read): rows/s {ratio:.3f}, peak RSS {rss_ratio:.2f}")
    scaled = mine["seconds"] * 1_000_000 / args.rows
    print(f"targets: < {TARGET_SECONDS} s and ≤ {TARGET_MB} MB for 1,000,000 rows")
    summary = {
        "bench": "import",
        "format": kind,
        "rows": args.rows,
        "seconds": round(mine["seconds"], 2),
        "rows_per_s": round(rows_per_s),
        "read_rows_per_s": round(read_per_s),
        "ratio": round(ratio, 3),
        "peak_rss_mb": round(mine["peak_rss_mb"], 1),
        "read_peak_rss_mb": round(read["peak_rss_mb"], 1),
        "seconds_per_million": round(scaled, 1),
        "database": "postgresql" if args.db and args.db.startswith("postgres") else "sqlite",
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
