"""Benchmark: the service desk's answer for a serial over HTTP, against the plain dossier.

    python bench/service_desk.py --units 1000000 --db /tmp/desk.db     # build once, measure
    python bench/service_desk.py --db /tmp/desk.db --reuse             # measure it again

Builds a SQLite database of N units of one product (24 months of warranty from the sale),
commissioned in one event through the write path (set-based, as bench/commission.py). Most of
them are received and sold in events of many units, one in 50 gets a new compressor (a replace_part
event each), so that the ledger holds many events of each kind. A random
sample of them (`--sample`, in groups of 10) then lives a life through the write path, in
batches of events, one batch a round, each event naming one group: a component assembled in,
then receive, inspect, move, ship to a distributor, deliver, sell (a few groups out of the
distributor's region: diversion alerts), activate, verify, return to the service location,
repair, inspect, receive … until the group has its number of events — random from 10 to 200,
one group in ten exactly 200. Every fifth group gets a service case (a warranty claim when the
checks pass it, opened through `aftersales.cases.open_case`), half of them closed again.

Then it starts `unitrace serve` (the real app under uvicorn on 127.0.0.1: the answer as a
client gets it, HTTP parsing, the token check and JSON included, in its own process so that the
client's work is not timed), and one keep-alive client asks, for `--requests` random units of
the sample, `GET /api/v1/service-desk/{serial}` (dossier + warranty verdict + claim checks +
cases) and `GET /api/v1/units/{serial}` (the plain dossier, the baseline), one after the other in
a random order, one request at a time (latency, not throughput). It reports p50/p99 of both and
their ratio. Target (issue 14): desk p99 ≤ 50 ms. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).parent))
from scan import _serve  # noqa: E402  (the server start of bench/scan.py)

GROUP = 10  # units named by one event of the sample
MOST_EVENTS = 200
FIRST = ("receive", "inspect", "move")  # then the cycle, again and again
CYCLE = (
    "ship",
    "deliver",
    "sell",
    "activate",
    "verify",
    "return",
    "repair",
    "inspect",
    "receive",
    "move",
)
EVENT_GAP = timedelta(days=3)  # between two events of a unit


def _fields(kind: str, diverted: bool) -> dict[str, Any]:
    """What each event of the life takes besides its units."""
    if kind in ("receive", "move"):
        return {"location": "WH1" if kind == "receive" else "WH2"}
    if kind == "ship":
        return {"party": "D1"}
    if kind == "sell":
        return {"region": "CN-44" if diverted else "CN-31"}
    if kind == "return":
        return {"location": "SVC", "biz_transactions": [{"type": "rma", "id": "bench"}]}
    if kind == "inspect":
        return {"data": {"result": "pass", "note": "bench inspection"}}
    return {}


def _life(events: int) -> list[str]:
    """The event types of a unit's life after its commission and assembly."""
    kinds = list(FIRST)
    while len(kinds) < events:
        kinds += CYCLE
    return kinds[:events]


BACKGROUND = (("receive", 10_000, {"location": "WH1"}), ("sell", 100, {"region": "CN-31"}))
REPAIRED_EVERY = 50


def _background(db: Any, serials: list[str], born: datetime) -> None:
    """The rest of the units: received, then sold from stock, in events of many units (10,000,
    then 100 units an event) in the hours after their commission, and one in 50 repaired with a
    new compressor (a replace_part event each) — so the ledger holds many sale and part
    replacement events (10,000 and 20,000 at 1,000,000 units), as a live one does, before the
    sample's."""
    from unitrace.access.principal import SYSTEM
    from unitrace.ledger import service as ledger
    from unitrace.ledger.schemas import CommissionIn, EventIn, UnitRef

    at = born + timedelta(hours=2)
    for kind, size, fields in BACKGROUND:
        events = [
            EventIn.model_construct(
                type=kind,
                product="AC",
                serials=serials[i : i + size],
                event_time=at + timedelta(seconds=i // size),
                **fields,
            )
            for i in range(0, len(serials), size)
        ]
        for first in range(0, len(events), max(1, 20_000 // size)):
            ledger.record_events(db, SYSTEM, events[first : first + max(1, 20_000 // size)])
        at += timedelta(hours=6)
    # one unit in 50 had its compressor replaced (a repair): assemble, then replace_part
    repaired = serials[::REPAIRED_EVERY]
    parts = ledger.commission_units(
        db, SYSTEM, CommissionIn(product="CMP", count=2 * len(repaired), event_time=born)
    ).serials
    for kind, offset in (("assemble", timedelta(0)), ("replace_part", timedelta(hours=6))):
        events = [
            EventIn.model_construct(
                type=kind,
                parent=UnitRef(product="AC", serial=unit),
                units=[UnitRef(product="CMP", serial=parts[2 * i + (kind != "assemble")])],
                removed=[UnitRef(product="CMP", serial=parts[2 * i])] if kind != "assemble" else [],
                event_time=at + offset + timedelta(seconds=i),
            )
            for i, unit in enumerate(repaired)
        ]
        for first in range(0, len(events), 1_000):
            ledger.record_events(db, SYSTEM, events[first : first + 1_000])


def build(path: Path, units: int, sample: int, seed: int) -> dict[str, Any]:
    from unitrace.access import service as access
    from unitrace.access.principal import SYSTEM
    from unitrace.aftersales import cases
    from unitrace.aftersales.claims import ClaimRefused
    from unitrace.aftersales.schemas import CaseIn
    from unitrace.catalog import service as catalog
    from unitrace.catalog.schemas import LocationCreate, PartyCreate, ProductCreate
    from unitrace.db import migrate
    from unitrace.db.engine import Database
    from unitrace.ledger import service as ledger
    from unitrace.ledger.schemas import CommissionIn, EventIn, UnitRef

    rng = random.Random(seed)
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    catalog.create_product(
        db,
        SYSTEM,
        ProductCreate(
            code="AC",
            name="air conditioner",
            serial_rule="AC{seq:8}",
            warranty_months=24,
            warranty_start="sale",
        ),
    )
    catalog.create_product(
        db, SYSTEM, ProductCreate(code="CMP", name="compressor", serial_rule="CMP{seq:8}")
    )
    for code, kind in (
        ("WH1", "warehouse"),
        ("WH2", "warehouse"),
        ("SVC", "service"),
        ("RET", "returns"),
    ):
        catalog.create_location(
            db, SYSTEM, LocationCreate(code=code, name=code, kind=kind, region="CN-31")
        )
    catalog.create_party(
        db,
        SYSTEM,
        PartyCreate(
            code="D1",
            name="distributor",
            kind="distributor",
            region="CN-31",
            authorised_regions=["CN-31"],
        ),
    )
    access.create_user(db, SYSTEM, "service01", "correct horse battery", "service")
    token = access.create_token(db, SYSTEM, "service01", "bench", trusted=True)["token"]
    timings: dict[str, float] = {}
    now = datetime.now(UTC).replace(microsecond=0)
    born = now - EVENT_GAP * (MOST_EVENTS + 20)

    started = time.perf_counter()
    serials = ledger.commission_units(
        db, SYSTEM, CommissionIn(product="AC", count=units, location="WH1", event_time=born)
    ).serials
    timings["commission_s"] = time.perf_counter() - started

    chosen = rng.sample(serials, min(sample, units))
    started = time.perf_counter()
    picked = set(chosen)
    _background(db, [s for s in serials if s not in picked], born)
    timings["background_s"] = time.perf_counter() - started
    groups = [chosen[i : i + GROUP] for i in range(0, len(chosen), GROUP)]
    counts = [
        MOST_EVENTS if g % 10 == 0 else rng.randint(10, MOST_EVENTS) for g in range(len(groups))
    ]
    diverted = {g for g in range(len(groups)) if g % 7 == 3}
    started = time.perf_counter()
    parts = ledger.commission_units(
        db, SYSTEM, CommissionIn(product="CMP", count=len(chosen), event_time=born)
    ).serials
    assembly = [
        EventIn(
            type="assemble",
            parent=UnitRef(product="AC", serial=unit),
            units=[UnitRef(product="CMP", serial=part)],
            event_time=born + timedelta(hours=1),
        )
        for unit, part in zip(chosen, parts, strict=True)
    ]
    ledger.record_events(db, SYSTEM, assembly)
    # counted with the commission and the assembly: every unit of the sample has ≤ 200 events
    lives = [_life(n - 2) for n in counts]
    recorded = len(assembly) + 2
    for step in range(MOST_EVENTS - 2):
        at = born + EVENT_GAP * (step + 1)
        batch = [
            EventIn(
                type=life[step],
                product="AC",
                serials=groups[g],  # type: ignore[arg-type]
                event_time=at + timedelta(minutes=g % 600),
                **_fields(life[step], g in diverted),
            )
            for g, life in enumerate(lives)
            if step < len(life)
        ]
        if batch:
            ledger.record_events(db, SYSTEM, batch)
            recorded += len(batch)
    timings["events_s"] = time.perf_counter() - started

    started = time.perf_counter()
    opened = 0
    for g in range(0, len(groups), 5):
        serial = groups[g][0]
        case = CaseIn(
            serial=serial,
            product="AC",
            description="noisy compressor",
            region="CN-31",
            location="SVC",
        )
        try:
            made = cases.open_case(db, SYSTEM, case)
        except ClaimRefused:  # expired or otherwise refused: a chargeable repair
            made = cases.open_case(db, SYSTEM, case.model_copy(update={"warranty_claim": False}))
        opened += 1
        if g % 10 == 0:
            with db.write() as conn:
                row = cases.case_row(conn, made["number"])
                cases.move(conn, row.id, "closed", "system", datetime.now(UTC), "bench")
    timings["cases_s"] = time.perf_counter() - started
    db.dispose()
    return {
        "units": units,
        "sample": chosen,
        "token": token,
        "timings": timings,
        "events_in_sample": recorded,
        "most_events": max(counts),
        "cases": opened,
        "mean_events": statistics.mean(counts),
    }


def _server_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) the server's processes used so far (Linux; 0 elsewhere)."""
    total = 0
    for pid in pids:
        try:
            fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def _server_pids(root: int) -> list[int]:
    """The server process and its children (uvicorn's workers)."""
    pids = [root]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == root:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def measure(
    base: str, token: str, serials: list[str], requests: int, seed: int, pids: list[int]
) -> dict[str, Any]:
    """`requests` random units of the sample, each asked of both endpoints in a random order;
    one keep-alive connection, one request at a time."""
    from urllib.parse import urlsplit

    rng = random.Random(seed + 1)
    where = urlsplit(base)
    conn = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=60)
    headers = {"Authorization": f"Bearer {token}"}
    paths = {"desk": "/api/v1/service-desk/{}?product=AC", "dossier": "/api/v1/units/{}?product=AC"}
    times: dict[str, list[float]] = {"desk": [], "dossier": []}
    failures: list[str] = []

    cpu = {"desk": 0.0, "dossier": 0.0}

    def ask(kind: str, serial: str) -> float:
        cpu_before = _server_cpu(pids)
        started = time.perf_counter()
        conn.request("GET", paths[kind].format(quote(serial, safe="")), headers=headers)
        answer = conn.getresponse()
        body = answer.read()
        elapsed = time.perf_counter() - started
        cpu[kind] += _server_cpu(pids) - cpu_before
        if answer.status != 200:
            failures.append(f"{kind} {answer.status} {body[:160]!r}")
        elif kind == "desk":
            found = json.loads(body)
            if found["unit"] is None or not found["checks"]:
                failures.append(f"desk answer without unit or checks for {serial}")
        return elapsed

    try:
        for serial in serials[:5]:  # warm the server's caches and the connection
            ask("desk", serial), ask("dossier", serial)
        del failures[:]
        cpu.update(desk=0.0, dossier=0.0)
        for _ in range(requests):
            serial = rng.choice(serials)
            order = ["desk", "dossier"]
            rng.shuffle(order)
            for kind in order:
                times[kind].append(ask(kind, serial))
    finally:
        conn.close()

    def percentile(values: list[float], share: float) -> float:
        ordered = sorted(values)
        return ordered[max(0, int(len(ordered) * share) - 1)] * 1000

    out: dict[str, Any] = {
        "failures": len(failures),
        "first_failure": failures[0] if failures else None,
    }
    for kind, values in times.items():
        out[f"{kind}_p50_ms"] = statistics.median(values) * 1000
        out[f"{kind}_p99_ms"] = percentile(values, 0.99)
        out[f"{kind}_max_ms"] = max(values) * 1000
        out[f"{kind}_cpu_ms"] = cpu[kind] * 1000 / len(values)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=100_000, help="units in the database")
    parser.add_argument(
        "--sample",
        type=int,
        default=2_000,
        help="units with a life of up to 200 events (groups of 10)",
    )
    parser.add_argument("--requests", type=int, default=2_000, help="units asked (each twice)")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--db", type=Path, help="keep the database here (default: temporary)")
    parser.add_argument(
        "--reuse", action="store_true", help="measure again on the --db built by an earlier run"
    )
    parser.add_argument(
        "--build-only",
        action="store_true",
        help="build the --db and stop (measure later with --reuse)",
    )
    args = parser.parse_args()
    if (args.reuse or args.build_only) and args.db is None:
        raise SystemExit("--reuse and --build-only need --db: where the database is kept")
    with tempfile.TemporaryDirectory(prefix="unitrace-desk-") as tmp:
        path = args.db or Path(tmp) / "desk.db"
        if args.reuse:
            built = json.loads(path.with_suffix(".json").read_text())
        else:
            if path.exists():
                raise SystemExit(f"{path} exists: pass --reuse to measure it, or remove it")
            built = build(path, args.units, args.sample, args.seed)
            path.with_suffix(".json").write_text(json.dumps(built))
            if args.build_only:
                return
        process, base = _serve(path, 1)
        try:
            pids = _server_pids(process.pid)
            found = measure(base, built["token"], built["sample"], args.requests, args.seed, pids)
        finally:
            process.terminate()
            process.wait(30)
    t = built["timings"]
    ratio_p99 = found["desk_p99_ms"] / found["dossier_p99_ms"]
    ratio_p50 = found["desk_p50_ms"] / found["dossier_p50_ms"]
    print(
        f"{built['units']:,} units; a sample of {len(built['sample']):,} with "
        f"{built['events_in_sample']:,} events ({built['mean_events']:.0f} a unit on average, "
        f"at most {built['most_events']}), {built['cases']} service cases; built in "
        f"{t['commission_s']:.1f} s (commission) + {t['background_s']:.1f} s (the others' "
        f"events) + {t['events_s']:.1f} s (the sample's) + "
        f"{t['cases_s']:.1f} s (cases)"
    )
    print(
        f"{args.requests:,} random units of the sample, each asked of both (one client, "
        f"keep-alive, uvicorn on 127.0.0.1); {found['failures']} failed"
        + (f" (first: {found['first_failure']})" if found["failures"] else "")
    )
    print(f"{'':<48}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'server CPU ms':>15}")
    for label, kind in (
        ("service desk GET /api/v1/service-desk/{serial}", "desk"),
        ("baseline: dossier GET /api/v1/units/{serial}", "dossier"),
    ):
        print(
            f"{label:<48}{found[kind + '_p50_ms']:>8.1f}{found[kind + '_p99_ms']:>8.1f}"
            f"{found[kind + '_max_ms']:>8.1f}{found[kind + '_cpu_ms']:>15.2f}"
        )
    print(
        "(server CPU: the mean per request, from /proc; it varies less than the latencies "
        "with the other load on a small machine)"
    )
    print(
        f"ratio (desk / dossier): p50 {ratio_p50:.2f}, p99 {ratio_p99:.2f}  "
        f"(target: desk p99 ≤ 50 ms)"
    )
    print(
        json.dumps(
            {
                "bench": "service_desk",
                "units": built["units"],
                "sample": len(built["sample"]),
                "events_in_sample": built["events_in_sample"],
                "most_events": built["most_events"],
                "requests": args.requests,
                "p50_ms": round(found["desk_p50_ms"], 2),
                "p99_ms": round(found["desk_p99_ms"], 2),
                "dossier_p50_ms": round(found["dossier_p50_ms"], 2),
                "dossier_p99_ms": round(found["dossier_p99_ms"], 2),
                "ratio_p50": round(ratio_p50, 3),
                "ratio_p99": round(ratio_p99, 3),
                "failures": found["failures"],
                "desk_cpu_ms": round(found["desk_cpu_ms"], 2),
                "dossier_cpu_ms": round(found["dossier_cpu_ms"], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
