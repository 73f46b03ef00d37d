"""Benchmark: labels per second of a print run from a lot — PDF (A4 sheets of the default
template: QR + GS1 DataMatrix + text) and ZPL II — against the same number of bare QR encodes of
the units' Digital Link URIs by segno (the baseline), measured in the same run.

    python bench/labels.py --labels 10000

Each side runs in its own process (so peak RSS is its own) on a fresh SQLite file holding one
lot of `--labels` units; the run is made and printed through `labels.runs`, as the CLI does.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

GTIN = "09506000134352"
RULE = "SN{yy}{mm}-{seq:7}{check:luhn}"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _lot(path: Path, labels: int) -> object:
    from unitrace.access.principal import SYSTEM
    from unitrace.catalog.schemas import LotCreate, ProductCreate
    from unitrace.catalog.service import create_lot, create_product
    from unitrace.db import migrate
    from unitrace.db.engine import Database
    from unitrace.ledger.schemas import CommissionIn
    from unitrace.ledger.service import commission_units

    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    product = ProductCreate(code="BENCH", name="bench", serial_rule=RULE, gtin=GTIN)  # type: ignore[call-arg]
    create_product(db, SYSTEM, product)
    lot = LotCreate(product="BENCH", number="L1", expiry_date=date(2027, 12, 31))  # type: ignore[call-arg]
    create_lot(db, SYSTEM, lot)
    commission_units(db, SYSTEM, CommissionIn(product="BENCH", count=labels, lot="L1"))  # type: ignore[call-arg]
    return db


def run_side(fmt: str, path: Path, labels: int) -> dict[str, float]:
    from unitrace.access.principal import SYSTEM
    from unitrace.labels import runs
    from unitrace.labels.run_schemas import RunIn

    os.environ["UNITRACE_HOME"] = str(path.parent / f"home-{fmt}")
    db = _lot(path, labels)
    setup_rss = _peak_rss_mb()
    started = time.perf_counter()
    made = runs.create_run(db, SYSTEM, RunIn(product="BENCH", lot="L1", format=fmt))  # type: ignore[arg-type,call-arg]
    done = runs.execute(db, made["id"])  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    assert done["done"] == labels, done
    size = (runs.home() / f"labels/{done['number']}.{fmt}").stat().st_size
    return {
        "seconds": elapsed,
        "peak_rss_mb": _peak_rss_mb(),
        "setup_rss_mb": setup_rss,
        "file_mb": size / 1e6,
    }


def baseline(labels: int) -> dict[str, float]:
    """segno.make of each unit's Digital Link URI, as the run's labels carry it."""
    import segno

    from unitrace.core import gs1

    links = [
        gs1.digital_link(gs1.unit_elements(GTIN, f"SN2612-{n:07d}0", "L1", date(2027, 12, 31)))
        for n in range(labels)
    ]
    started = time.perf_counter()
    for link in links:
        segno.make(link, error="m")
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "peak_rss_mb": _peak_rss_mb(), "setup_rss_mb": 0, "file_mb": 0}


def _child(side: str, path: Path, labels: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--labels", str(labels), "--side", side, "--db", str(path)]
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=int, default=10_000)
    parser.add_argument("--side", choices=["pdf", "zpl", "qr"], help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side == "qr":
        print(json.dumps(baseline(args.labels)))
        return
    if args.side:
        print(json.dumps(run_side(args.side, args.db, args.labels)))
        return
    with tempfile.TemporaryDirectory(prefix="unitrace-bench-") as tmp:
        folder = Path(tmp)
        sides = {side: _child(side, folder / f"{side}.db", args.labels) for side in ("pdf", "zpl")}
        base = _child("qr", folder / "qr.db", args.labels)
    base_per_s = args.labels / base["seconds"]
    names = {"pdf": "print run, PDF (A4 3×8)", "zpl": "print run, ZPL 203 dpi"}
    print(f"{'':<30}{'seconds':>9}{'labels/s':>11}{'ratio':>8}{'peak RSS MB':>13}{'file MB':>9}")
    for side, figures in sides.items():
        per_s = args.labels / figures["seconds"]
        print(
            f"{names[side]:<30}{figures['seconds']:>9.2f}{per_s:>11,.0f}{per_s / base_per_s:>8.3f}"
            f"{figures['peak_rss_mb']:>13.0f}{figures['file_mb']:>9.1f}"
        )
    print(
        f"{'segno QR encodes (baseline)':<30}{base['seconds']:>9.2f}{base_per_s:>11,.0f}"
        f"{1:>8.3f}{base['peak_rss_mb']:>13.0f}{'':>9}"
    )
    pdf, zpl = sides["pdf"], sides["zpl"]
    summary = {
        "bench": "labels",
        "labels": args.labels,
        "pdf_labels_per_s": round(args.labels / pdf["seconds"]),
        "zpl_labels_per_s": round(args.labels / zpl["seconds"]),
        "baseline_qr_per_s": round(base_per_s),
        "pdf_ratio": round(args.labels / pdf["seconds"] / base_per_s, 3),
        "zpl_ratio": round(args.labels / zpl["seconds"] / base_per_s, 3),
        "pdf_peak_rss_mb": round(pdf["peak_rss_mb"], 1),
        "zpl_peak_rss_mb": round(zpl["peak_rss_mb"], 1),
        "pdf_rss_before_run_mb": round(pdf["setup_rss_mb"], 1),
        "zpl_rss_before_run_mb": round(zpl["setup_rss_mb"], 1),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
