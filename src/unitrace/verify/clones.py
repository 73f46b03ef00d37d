"""Clone detection (克隆码): alerts when a code is verified too often, by too many devices, or
from two places farther apart than anyone travels in the time between.

`Observation` and `observe` are called by the engine's pipeline step (verify/record.py) inside
the transaction that records the verifications; `open_alert` by the answer (verify/check.py).

The rules, with each product's thresholds (verify_settings; its defaults when it has no row):
- `checks`: the code is verified more than `max_checks` times;
- `devices`: by more than `max_devices` distinct devices;
- `travel`: from a region, then another whose centroids (centroids.csv: China's provinces and
  prefectures) are more than `TOLERANCE_KM` apart and farther than `max_speed_kmh` allows in
  the time between (haversine distance).

One alert a code and rule (a unique index): a later breach updates it — count, last time,
region and detail — and never makes a second row; two verifications at once meet in the
index (an upsert), not in two rows. A closed alert stays closed when breached again (its count
and last time still move, the page shows them): it was settled by someone who looked; a code
that is a clone is marked compromised instead (clone_alerts.compromise).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite

from unitrace.catalog.regions import CHOICES, NAMES
from unitrace.core import signals
from unitrace.db.fast import Fast
from unitrace.db.tables import clone_alerts, verify_settings

from .settings import DEFAULTS

RULES = ("checks", "devices", "travel")
TOLERANCE_KM = 100.0  # regions are areas, not points: nearer centroids say nothing
EARTH_KM = 6371.0088
CENTROIDS = Path(__file__).with_name("centroids.csv")


@dataclass(frozen=True)
class Observation:
    """One verification, with the code's counters after it."""

    code_id: int
    unit_id: int
    product_id: int
    verification_id: int
    at: datetime
    region: str | None
    device: str
    checks: int  # the code's verifications, this one included
    devices: int  # distinct devices, this one included
    previous_at: datetime | None  # the code's verification before this one
    previous_region: str | None


@cache
def _centroids() -> dict[str, tuple[str, float, float]]:
    with CENTROIDS.open(encoding="utf-8") as f:
        lines = (line for line in f if not line.startswith("#"))
        return {
            r["region"]: (r["name"], float(r["lat"]), float(r["lon"]))
            for r in csv.DictReader(lines)
        }


@cache
def _letters() -> dict[str, str]:
    """ISO 3166-2:CN letters (CN-HL) → the GB/T 2260 number (CN-23)."""
    by_name = {NAMES[c]: c for c in CHOICES}
    return {c: by_name[n] for c, n in NAMES.items() if n in by_name and c not in CHOICES}


def centroid(region: str | None) -> tuple[str, float, float] | None:
    """(name, latitude, longitude) of a region code — a prefecture (CN-2301), a province
    (CN-23 or CN-HL), or a county (CN-230184: its prefecture) — or None when not known."""
    if not region:
        return None
    code = region.strip().upper()
    code = _letters().get(code, code)
    known = _centroids()
    while True:
        if code in known:
            return known[code]
        if not (code.startswith("CN-") and code[3:].isdigit() and len(code) > 5):
            return None
        code = code[: 7 if len(code) > 7 else 5]


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle (haversine) distance between two (latitude, longitude) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2
    h += math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(h)))


def travel(
    previous_region: str | None,
    previous_at: datetime | None,
    region: str | None,
    at: datetime,
    max_speed_kmh: float,
) -> dict[str, Any] | None:
    """The detail of an implausible journey between two verifications, or None."""
    if previous_at is None or not previous_region or not region:
        return None
    here, there = centroid(previous_region), centroid(region)
    if here is None or there is None:
        return None
    km = distance_km(here[1:], there[1:])
    hours = max(0.0, (at - previous_at).total_seconds() / 3600)
    if km <= TOLERANCE_KM or km <= max_speed_kmh * hours:
        return None
    return {
        "from": previous_region,
        "to": region,
        "km": round(km),
        "hours": round(hours, 2),
        "kmh": round(km / hours) if hours else None,
        "max_speed_kmh": max_speed_kmh,
    }


_LIMITS = Fast(
    select(
        verify_settings.c.max_checks, verify_settings.c.max_devices, verify_settings.c.max_speed_kmh
    ).where(verify_settings.c.product_id == bindparam("product"))
)
_OPEN = Fast(
    select(clone_alerts.c.id)
    .where(clone_alerts.c.code_id == bindparam("code"), clone_alerts.c.status != "closed")
    .limit(1)
)


def _limits(conn: Connection, product_id: int) -> tuple[int, int, int]:
    row = _LIMITS.run(conn, {"product": product_id}).fetchone()
    if row is None:
        return DEFAULTS["max_checks"], DEFAULTS["max_devices"], DEFAULTS["max_speed_kmh"]
    return int(row[0]), int(row[1]), int(row[2])


def breaches(o: Observation, limits: tuple[int, int, int]) -> list[tuple[str, dict[str, Any]]]:
    """The rules this verification breaks, each with its detail."""
    max_checks, max_devices, max_speed = limits
    found: list[tuple[str, dict[str, Any]]] = []
    if o.checks > max_checks:
        found.append(("checks", {"checks": o.checks, "max_checks": max_checks}))
    if o.devices > max_devices:
        found.append(("devices", {"devices": o.devices, "max_devices": max_devices}))
    journey = travel(o.previous_region, o.previous_at, o.region, o.at, max_speed)
    if journey is not None:
        found.append(("travel", journey))
    return found


def _raise(conn: Connection, o: Observation, rule: str, detail: dict[str, Any]) -> int:
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    detail = detail | {"verification": o.verification_id}
    statement = dialect_insert(clone_alerts).values(
        code_id=o.code_id,
        unit_id=o.unit_id,
        product_id=o.product_id,
        rule=rule,
        status="open",
        first_at=o.at,
        last_at=o.at,
        count=1,
        region=o.region,
        detail=detail,
        note="",
    )
    # the alert there is (open, acknowledged or closed) is updated, whoever wrote it first
    upsert = statement.on_conflict_do_update(
        index_elements=[clone_alerts.c.code_id, clone_alerts.c.rule],
        set_={
            "count": clone_alerts.c.count + 1,
            "last_at": statement.excluded.last_at,
            "region": statement.excluded.region,
            "detail": statement.excluded.detail,
        },
    ).returning(clone_alerts.c.id)
    return int(conn.execute(upsert).scalar_one())


def observe(conn: Connection, observations: Sequence[Observation]) -> list[int]:
    """Raise or update the clone alerts these verifications call for (one per code and rule);
    the ids of the alerts raised or updated."""
    limits: dict[int, tuple[int, int, int]] = {}
    ids: list[int] = []
    for o in observations:
        if o.product_id not in limits:
            limits[o.product_id] = _limits(conn, o.product_id)
        for rule, detail in breaches(o, limits[o.product_id]):
            ids.append(_raise(conn, o, rule, detail))
            signals.emit(conn, "clone", {"id": ids[-1], "unit_id": o.unit_id, "rule": rule})
    return ids


def open_alert(conn: Connection, code_id: int) -> bool:
    """Whether a clone alert of the code is open or acknowledged (not closed)."""
    return _OPEN.scalar(conn, {"code": code_id}) is not None
