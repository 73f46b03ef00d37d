"""Benchmark: public verifications. Concurrent HTTP clients verify random codes.

    python bench/verify.py --units 1000000 --clients 16 --seconds 60

Builds a SQLite database with N units of one product (one commission through the write path)
and a verification code for each (straight into the table: the setup, not the thing
measured), starts `unitrace serve` on 127.0.0.1 with the verification rate limits off, then
16 client threads (keep-alive HTTP) verify random genuine codes and 5 % unknown ones for 60 s
— each verification of a known code is a `verify` event written through the write path.
Baseline in the same run: the same server answering its static health route (`/healthz`) to
the same clients for the same time. Reports requests/s and p50/p99 latency. The last line is
one JSON object. Targets (issue 16) on SQLite: ≥ 2,000 verifications/s, p99 ≤ 20 ms, and
≥ 0.5 × the health route's rate.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import secrets
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scan import _cpu_seconds, _serve  # noqa: E402 — the scan bench's server start

UNKNOWN_SHARE = 0.05


def build(path: Path, units: int) -> list[str]:
    from unitrace.access.principal import SYSTEM
    from unitrace.catalog import service as catalog
    from unitrace.catalog.schemas import ProductCreate
    from unitrace.db import migrate
    from unitrace.db.engine import Database
    from unitrace.ledger.schemas import CommissionIn
    from unitrace.ledger.service import commission_units
    from unitrace.verify import codes

    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    catalog.create_product(db, SYSTEM, ProductCreate(code="P", name="p", serial_rule="S{seq:8}"))
    commission_units(db, SYSTEM, CommissionIn(product="P", count=units))
    db.dispose()
    conn = sqlite3.connect(path)
    ids = [row[0] for row in conn.execute("SELECT id FROM units ORDER BY id")]
    made = ["".join(secrets.choice(codes.ALPHABET) for _ in range(codes.LENGTH)) for _ in ids]
    now = datetime.now(UTC).isoformat(sep=" ")
    conn.executemany(
        "INSERT INTO verify_codes (unit_id, code, key_id, created_at, checks, devices) "
        "VALUES (?, ?, 'bench', ?, 0, 0)",
        [(i, c, now) for i, c in zip(ids, made, strict=True)],
    )
    conn.commit()
    conn.close()
    return made


def run(base: str, paths: Any, seconds: float, clients: int, ok: set[int]) -> dict[str, Any]:
    """`clients` threads ask for `paths()` (a new path each time) for `seconds`."""
    from urllib.parse import urlsplit

    where = urlsplit(base)
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client(k: int) -> None:
        mine: list[float] = []
        rng = random.Random(k)
        device = f"bench-device-{k:04d}-{secrets.token_hex(4)}"
        headers = {"Cookie": f"ut_device={device}"}
        conn = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=30)
        try:
            while time.perf_counter() < stop:
                path = paths(rng)
                started = time.perf_counter()
                conn.request("GET", path, headers=headers)
                answer = conn.getresponse()
                text = answer.read()
                mine.append(time.perf_counter() - started)
                if answer.status not in ok:
                    with lock:
                        failures.append(f"{answer.status} {path} {text[:120]!r}")
        finally:
            conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    count = max(len(latencies), 1)
    return {
        "requests": len(latencies),
        "per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies or [0.0]) * 1000,
        "p99_ms": (latencies or [0.0])[max(int(count * 0.99) - 1, 0)] * 1000,
        "failures": len(failures),
        "first_failure": failures[0] if failures else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--units", type=int, default=1_000_000, help="units with codes")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long each part runs")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--path", choices=("page", "json"), default="page",
                        help="verify at the page (/v/CODE) or its JSON (/v/CODE.json)")  # fmt: skip
    parser.add_argument("--db", type=Path, help="keep the database here (and reuse it)")
    args = parser.parse_args()
    suffix = ".json" if args.path == "json" else ""
    with tempfile.TemporaryDirectory(prefix="unitrace-verify-") as tmp:
        path = args.db or Path(tmp) / "verify.db"
        if args.db and args.db.exists():
            conn = sqlite3.connect(path)
            made = [r[0] for r in conn.execute("SELECT code FROM verify_codes")]
            conn.close()
        else:
            made = build(path, args.units)
        import os

        os.environ |= {"UNITRACE_VERIFY_PER_ADDRESS": "0", "UNITRACE_VERIFY_PER_CODE": "0",
                       "UNITRACE_RATE_PER_ADDRESS": "0", "UNITRACE_HOME": tmp}  # fmt: skip
        process, base = _serve(path, args.workers)
        try:
            alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

            def verification(rng: random.Random) -> str:
                if rng.random() < UNKNOWN_SHARE:
                    code = "".join(rng.choice(alphabet) for _ in range(16))
                else:
                    code = made[rng.randrange(len(made))]
                return f"/v/{code}{suffix}"

            run(base, verification, min(2.0, args.seconds), args.clients, {200, 404})  # warm
            cpu_before = _cpu_seconds(process.pid)
            found = run(base, verification, args.seconds, args.clients, {200, 404})
            cpu_after = _cpu_seconds(process.pid)
            health = run(base, lambda _rng: "/healthz", args.seconds, args.clients, {200})
        finally:
            process.terminate()
            process.wait(30)
    ratio = found["per_s"] / max(health["per_s"], 1e-9)
    cpu_ms = (
        None if cpu_before is None or cpu_after is None
        else 1000 * (cpu_after - cpu_before) / max(found["requests"], 1)
    )  # fmt: skip
    print(f"{len(made):,} units with codes; {args.clients} HTTP clients, {args.seconds:g} s each; "
          f"{found['failures'] + health['failures']} failed"
          + (f" (first: {found['first_failure'] or health['first_failure']})"
             if found["failures"] + health["failures"] else ""))  # fmt: skip
    print(f"{'':<34}{'per second':>12}{'p50 ms':>10}{'p99 ms':>10}")
    label = f"verify GET /v/CODE{suffix}"
    print(f"{label:<34}{found['per_s']:>12,.0f}{found['p50_ms']:>10.1f}{found['p99_ms']:>10.1f}")
    print(f"{'baseline GET /healthz':<34}{health['per_s']:>12,.0f}"
          f"{health['p50_ms']:>10.1f}{health['p99_ms']:>10.1f}")  # fmt: skip
    if cpu_ms is not None:
        print(f"server CPU per verification: {cpu_ms:.2f} ms")
    print(
        f"ratio (verifications / health): {ratio:.3f}  "
        "(targets: ≥ 2,000/s, p99 ≤ 20 ms, ratio ≥ 0.5)"
    )
    print(json.dumps({
        "bench": "verify", "units": len(made), "clients": args.clients,
        "seconds": args.seconds, "path": args.path,
        "verifications": found["requests"], "verifications_per_s": round(found["per_s"]),
        "p50_ms": round(found["p50_ms"], 2), "p99_ms": round(found["p99_ms"], 2),
        "health_per_s": round(health["per_s"]), "health_p99_ms": round(health["p99_ms"], 2),
        "ratio": round(ratio, 4), "failures": found["failures"] + health["failures"],
        "server_cpu_ms_per_verification": None if cpu_ms is None else round(cpu_ms, 3),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
