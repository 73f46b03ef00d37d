"""Benchmark: the scan path. Single-unit scan events over HTTP from concurrent clients.

    python bench/scan.py --units 1000000 --scans 100000 --clients 8

Builds a SQLite database with N units (one commission through the write path), starts
`unitrace serve` on 127.0.0.1, then 8 client threads (keep-alive HTTP) send single-unit events —
for each unit in turn: receive into WH1, move to WH2, ship to D1 — until `--scans` events are
sent. Reports events/s and p50/p99 latency. Baseline in the same run: the same number of
single-row UPDATEs of units by raw sqlite3, each in its own transaction. The last line is one
JSON object. Targets (issue 5): ≥ 1,000 scan events/s over HTTP, p99 ≤ 50 ms. Also shown: the
server's CPU time per event (Linux), which varies less than events/s with the other load on a
small machine.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

STEPS = (("receive", {"location": "WH1"}), ("move", {"location": "WH2"}),
         ("ship", {"party": "D1"}))  # fmt: skip


def build(path: Path, units: int, trusted: bool = True) -> tuple[list[str], str]:
    from unitrace.access import service as access
    from unitrace.access.principal import SYSTEM
    from unitrace.catalog import service as catalog
    from unitrace.catalog.schemas import LocationCreate, PartyCreate, ProductCreate
    from unitrace.db import migrate
    from unitrace.db.engine import Database
    from unitrace.ledger.schemas import CommissionIn
    from unitrace.ledger.service import commission_units

    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    catalog.create_product(db, SYSTEM, ProductCreate(code="P", name="p", serial_rule="S{seq:8}"))
    for code in ("WH1", "WH2"):
        catalog.create_location(db, SYSTEM, LocationCreate(code=code, name=code,
                                                           kind="warehouse"))  # fmt: skip
    catalog.create_party(db, SYSTEM, PartyCreate(code="D1", name="d", kind="distributor"))
    serials = commission_units(db, SYSTEM, CommissionIn(product="P", count=units)).serials
    access.create_user(db, SYSTEM, "scanner", "correct horse battery", "warehouse")
    # eight scanners behind one token is a gateway: trusted, so the API rate limit (50 a second
    # per token by default) does not apply; --rate-limited measures the limit's own cost
    token = access.create_token(db, SYSTEM, "scanner", "bench", trusted=trusted)["token"]
    db.dispose()
    return serials, token


def _serve(
    path: Path, workers: int, limited: bool = False, port: int = 0
) -> tuple[subprocess.Popen[bytes], str]:
    if not port:  # a free one
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    env = {**os.environ, "UNITRACE_DATABASE_URL": f"sqlite:///{path}", "UNITRACE_PORT": str(port)}
    if limited:  # rate limits that every scan passes through but none reaches
        env |= {"UNITRACE_RATE_PER_TOKEN": "1000000", "UNITRACE_RATE_PER_ADDRESS": "1000000"}
    process = subprocess.Popen(
        [sys.executable, "-c", "from unitrace.cli.main import main; main()", "serve", "--no-demo",
         "--workers", str(workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=2).close()
            return process, base
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start")


def scan(base: str, token: str, serials: list[str], scans: int, clients: int) -> dict[str, Any]:
    import http.client
    from urllib.parse import urlsplit

    per_unit = len(STEPS)
    units = -(-scans // per_unit)
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    where = urlsplit(base)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def client(k: int) -> None:
        mine: list[float] = []
        conn = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=30)
        try:
            for i in range(k, units, clients):
                for step, (kind, extra) in enumerate(STEPS):
                    if i * per_unit + step >= scans:
                        break
                    body = json.dumps({"type": kind, "product": "P", "serials": [serials[i]],
                                       **extra})  # fmt: skip
                    started = time.perf_counter()
                    conn.request("POST", "/api/v1/events", body, headers)  # keep-alive
                    answer = conn.getresponse()
                    text = answer.read()
                    mine.append(time.perf_counter() - started)
                    if answer.status != 201:
                        with lock:
                            failures.append(f"{answer.status} {text[:120]!r}")
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
    return {
        "events": len(latencies), "seconds": elapsed, "events_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "failures": len(failures), "first_failure": failures[0] if failures else None,
    }  # fmt: skip


def _cpu_seconds(root: int) -> float | None:
    """CPU time (user + system) of the server and its worker processes so far, from /proc
    (Linux); None elsewhere."""
    try:
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # the process ended meanwhile
                continue
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        total, todo = 0, [root]
        while todo:
            pid = todo.pop()
            fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
            todo += children.get(pid, [])
        return total / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, AttributeError):
        return None


def baseline(path: Path, updates: int) -> dict[str, float]:
    """The same number of single-row updates, each its own transaction, by raw sqlite3."""
    from unitrace.db.engine import sqlite_pragmas

    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in sqlite_pragmas():
        conn.execute(pragma)
    top = conn.execute("SELECT max(id) FROM units").fetchone()[0]
    started = time.perf_counter()
    for i in range(updates):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE units SET status = ?, location_id = NULL WHERE id = ?",
                     (20 + i % 3, top - i % (top // 2)))  # fmt: skip
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return {"seconds": elapsed, "updates_per_s": updates / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=100_000, help="units in the database")
    parser.add_argument("--scans", type=int, default=10_000, help="scan events to send")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1, help="server processes (serve --workers)")
    parser.add_argument("--rate-limited", action="store_true",
                        help="an untrusted token under (unreachable) rate limits")  # fmt: skip
    parser.add_argument("--port", type=int, default=0, help="the server's port (0: a free one)")
    args = parser.parse_args()
    if args.scans > 3 * args.units:
        raise SystemExit("--scans may be at most 3 × --units (receive, move, ship per unit)")
    with tempfile.TemporaryDirectory(prefix="unitrace-scan-") as tmp:
        path = Path(tmp) / "scan.db"
        serials, token = build(path, args.units, trusted=not args.rate_limited)
        process, base = _serve(path, args.workers, args.rate_limited, args.port)
        try:
            cpu_before = _cpu_seconds(process.pid)
            found = scan(base, token, serials, args.scans, args.clients)
            cpu_after = _cpu_seconds(process.pid)
        finally:
            process.terminate()  # uvicorn stops its worker processes on SIGTERM
            process.wait(30)
        base_run = baseline(path, found["events"])
    ratio = found["events_per_s"] / base_run["updates_per_s"]
    cpu_ms = (
        None if cpu_before is None or cpu_after is None
        else 1000 * (cpu_after - cpu_before) / max(found["events"], 1)
    )  # fmt: skip
    print(f"{args.units:,} units; {found['events']:,} single-unit scan events from "
          f"{args.clients} HTTP clients; {found['failures']} failed"
          + (f" (first: {found['first_failure']})" if found["failures"] else ""))  # fmt: skip
    print(f"{'':<40}{'per second':>12}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'unitrace POST /api/v1/events':<40}{found['events_per_s']:>12,.0f}"
          f"{found['p50_ms']:>10.1f}{found['p99_ms']:>10.1f}")  # fmt: skip
    print(f"{'raw sqlite3 single-row UPDATE + COMMIT':<40}{base_run['updates_per_s']:>12,.0f}")
    if cpu_ms is not None:
        print(f"server CPU per scan event: {cpu_ms:.2f} ms (all server processes and threads)")
    print(
        f"ratio (scan events / raw updates): {ratio:.3f}  (targets: ≥ 1,000 events/s, p99 ≤ 50 ms)"
    )
    print(json.dumps({
        "bench": "scan", "units": args.units, "events": found["events"],
        "clients": args.clients, "events_per_s": round(found["events_per_s"]),
        "p50_ms": round(found["p50_ms"], 2), "p99_ms": round(found["p99_ms"], 2),
        "failures": found["failures"], "baseline_updates_per_s": round(base_run["updates_per_s"]),
        "ratio": round(ratio, 4),
        "server_cpu_ms_per_event": None if cpu_ms is None else round(cpu_ms, 3),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
