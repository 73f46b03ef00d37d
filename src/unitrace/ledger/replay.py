"""Replay the whole ledger and compare with the projection (`unitrace ledger verify`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from unitrace.access.principal import Actor
from unitrace.core.lifecycle import Role, Status, UnitState, apply
from unitrace.db.engine import Database
from unitrace.db.tables import event_units, events, products, units

_KNOWN_STATUSES = frozenset(int(s) for s in Status)


@dataclass(frozen=True)
class Mismatch:
    product: str
    serial: str
    problem: str


@dataclass(frozen=True)
class VerifyReport:
    units: int
    events: int
    mismatches: list[Mismatch]

    @property
    def ok(self) -> bool:
        return not self.mismatches


def verify_ledger(db: Database, actor: Actor, batch: int = 50_000) -> VerifyReport:
    """Rebuild every unit's state from its events, in recorded order, with the same lifecycle
    rules as the write path, and list each unit whose stored projection differs."""
    actor.require("audit.read")
    replayed: dict[int, UnitState] = {}
    broken: dict[int, str] = {}
    event_count = 0
    with db.read() as conn:
        stream = conn.execution_options(yield_per=batch).execute(
            select(
                events.c.id,
                events.c.type,
                events.c.location_id,
                events.c.party_id,
                events.c.parent_unit_id,
                event_units.c.unit_id,
                event_units.c.role,
            )
            .join(event_units, event_units.c.event_id == events.c.id)
            .order_by(events.c.id, event_units.c.role)
        )
        last_event = None
        for row in stream:
            if row.id != last_event:
                event_count += 1
                last_event = row.id
            if row.unit_id in broken:
                continue
            try:
                replayed[row.unit_id] = apply(
                    replayed.get(row.unit_id),
                    row.type,
                    Role(row.role),
                    row.location_id,
                    row.party_id,
                    row.parent_unit_id,
                )
            except ValueError as exc:
                broken[row.unit_id] = f"event {row.id} ({row.type}) cannot be replayed: {exc}"
        mismatches: list[Mismatch] = []
        stored = conn.execution_options(yield_per=batch).execute(
            select(
                units.c.id,
                units.c.serial,
                units.c.status,
                units.c.location_id,
                units.c.holder_id,
                units.c.parent_id,
                products.c.code,
            ).join(products, products.c.id == units.c.product_id)
        )
        unit_count = 0
        for row in stored:
            unit_count += 1
            if row.id in broken:
                mismatches.append(Mismatch(row.code, row.serial, broken[row.id]))
                continue
            expected = replayed.pop(row.id, None)
            if row.status not in _KNOWN_STATUSES:
                mismatches.append(Mismatch(row.code, row.serial, f"unknown status {row.status}"))
                continue
            actual = UnitState(Status(row.status), row.location_id, row.holder_id, row.parent_id)
            if expected is None:
                mismatches.append(Mismatch(row.code, row.serial, "unit has no events"))
            elif expected != actual:
                mismatches.append(Mismatch(row.code, row.serial, _diff(expected, actual)))
    return VerifyReport(unit_count, event_count, mismatches)


def _diff(expected: UnitState, actual: UnitState) -> str:
    parts = []
    for name in ("status", "location_id", "holder_id", "parent_id"):
        want, got = getattr(expected, name), getattr(actual, name)
        if want != got:
            parts.append(
                f"{name.removesuffix('_id')}: ledger says {_show(want)}, stored {_show(got)}"
            )
    return "; ".join(parts)


def _show(value: object) -> object:
    return value.label if isinstance(value, Status) else value
