"""Benchmark: commission N units of one product in one event through the write path, with
verification codes on (the `Codes` step makes one code per unit) and off, in the same run.

    python bench/verify_codes.py --units 100000

Each side runs in its own process on a fresh SQLite file. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RULE = "SN{yy}{mm}-{seq:7}{check:luhn}"


def side(path: Path, units: int, enabled: bool) -> dict[str, float]:
    from unitrace.access.principal import SYSTEM
    from unitrace.catalog.schemas import ProductCreate
    from unitrace.catalog.service import create_product
    from unitrace.db import migrate
    from unitrace.db.engine import Database
    from unitrace.ledger.schemas import CommissionIn
    from unitrace.ledger.service import commission_units
    from unitrace.verify import settings

    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    create_product(db, SYSTEM, ProductCreate(code="BENCH", name="bench", serial_rule=RULE))
    settings.put(db, SYSTEM, "BENCH", {"enabled": enabled})
    started = time.perf_counter()
    result = commission_units(db, SYSTEM, CommissionIn(product="BENCH", count=units))
    elapsed = time.perf_counter() - started
    assert result.unit_count == units
    with db.read() as conn:
        from sqlalchemy import func, select

        from unitrace.db.tables import verify_codes

        made = conn.execute(select(func.count()).select_from(verify_codes)).scalar_one()
    assert made == (units if enabled else 0), made
    return {"seconds": elapsed, "codes": made}


def _child(enabled: bool, path: Path, units: int, home: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--units", str(units), "--side", "on" if enabled else "off",
         "--db", str(path)],
        check=True, capture_output=True, text=True, env=os.environ | {"UNITRACE_HOME": str(home)},
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--side", choices=["on", "off"], help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        print(json.dumps(side(args.db, args.units, args.side == "on")))
        return
    with tempfile.TemporaryDirectory(prefix="unitrace-bench-") as tmp:
        folder = Path(tmp)
        off = _child(False, folder / "off.db", args.units, folder)
        on = _child(True, folder / "on.db", args.units, folder)
    ratio = on["seconds"] / off["seconds"]
    print(f"{'side':<18}{'seconds':>10}{'units/s':>12}")
    for name, got in (("verification off", off), ("verification on", on)):
        print(f"{name:<18}{got['seconds']:>10.2f}{args.units / got['seconds']:>12,.0f}")
    print(f"on / off time: {ratio:.2f}")
    print(
        json.dumps(
            {
                "benchmark": "verify_codes",
                "units": args.units,
                "off_seconds": round(off["seconds"], 3),
                "on_seconds": round(on["seconds"], 3),
                "on_units_per_s": round(args.units / on["seconds"]),
                "ratio_on_off": round(ratio, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
