"""The set-based twin of `record_in` for batches of assembly events (a production line's day,
an import, the trace benchmark): one AggregationEvent per parent, as `record_in` writes it,
but every check and write is done for the whole batch in a few statements.

It applies the same rules in the same places: the lifecycle rule (`core.lifecycle`), partner
scope, the bill of materials and lot consumption (`production.rules`), the cycle check. Replays
by `event_id` are left to `record_in`: `service.record_events` sends a batch here only when none
of its event ids is known yet. The batch gets one audit record naming its first and last event.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, text, update

from unitrace.access import audit
from unitrace.access.principal import Actor
from unitrace.catalog.service import location_id
from unitrace.core.errors import (
    Conflict,
    FieldError,
    InvalidTransition,
    UnitraceError,
    invalid,
)
from unitrace.core.lifecycle import PARENT_ALLOWED, Role, Status, rule_for
from unitrace.db.tables import event_units, events, units
from unitrace.ledger.bulk import bulk_insert, chunks
from unitrace.ledger.schemas import EventIn
from unitrace.ledger.scope import write_holder
from unitrace.ledger.write import (
    MAX_REPORTED,
    Recorded,
    UnitRow,
    ancestors,
    holders,
    new_event_id,
    report,
    resolve_units,
    unit_refs,
    utc_offset,
)
from unitrace.production import rules

MIN_BATCH = 50  # smaller batches go event by event through record_in


def suitable(batch: Sequence[EventIn]) -> bool:
    """A batch this path takes: many plain assemble events, each into a parent, every unit and
    event id named once in the whole batch. Anything else (a unit assembled and then installed
    further in the same batch, fields assemble does not take) goes event by event through
    `record_in`, which answers exactly as for a small batch."""
    if len(batch) < MIN_BATCH:
        return False
    seen: set[tuple[str | None, str]] = set()
    ids: set[str] = set()
    for e in batch:
        if (e.type != "assemble" or e.parent is None or e.removed or e.party or e.lot
                or e.attributes is not None or e.step is not None or e.region
                or e.containers):  # fmt: skip
            return False
        if e.event_id:
            if e.event_id in ids:
                return False
            ids.add(e.event_id)
        keys = [(e.parent.product or e.product, e.parent.serial)]
        keys += [(e.product, s) for s in e.serials]
        keys += [(u.product or e.product, u.serial) for u in e.units]
        for key in keys:
            if key in seen or (None, key[1]) in seen:
                return False
            seen.add(key)
            seen.add((None, key[1]))
    return True


def known_event_ids(conn: Connection, batch: Sequence[EventIn]) -> bool:
    ids = [e.event_id for e in batch if e.event_id]
    for chunk in chunks(ids):
        if conn.execute(select(events.c.id).where(events.c.event_id.in_(list(chunk)))).first():
            return True
    return False


def record_assemblies(
    conn: Connection, actor: Actor, batch: Sequence[EventIn], digests: Sequence[str]
) -> list[Recorded]:
    actor.require("event:assemble")
    rule = rule_for("assemble")
    refs: list[tuple[str, str | None, str]] = []
    spans: list[tuple[int, int]] = []
    for i, event in enumerate(batch):
        assert event.parent is not None
        refs.append((f"{i}.parent.serial", event.parent.product or event.product,
                     event.parent.serial))  # fmt: skip
        own = [(f"{i}.{path}", product, serial) for path, product, serial in unit_refs(event)]
        spans.append((len(refs), len(refs) + len(own)))
        refs += own
    found = resolve_units(conn, refs, write_holder(actor))  # a partner: only what it holds
    _check_once(refs, found)
    parents = [found[start - 1] for start, _end in spans]
    parts = [found[start:end] for start, end in spans]
    _check_states(conn, rule, refs, found, spans, parents, parts)
    lots = {}
    assemblies = []
    for i, event in enumerate(batch):
        uses = []
        for j, item in enumerate(event.consumed):
            key = (item.product, item.lot)
            if key not in lots:
                try:
                    lots[key] = rules.resolve_lot_uses(conn, [item])[0]
                except UnitraceError as error:
                    for field in error.errors:
                        field.field = f"{i}.consumed.{j}." + field.field.split(".", 2)[-1]
                    raise
            base = lots[key]
            uses.append(rules.LotUse(base.lot_id, base.product_id, base.product, base.number,
                                     item.quantity))  # fmt: skip
        if len({u.lot_id for u in uses}) != len(uses):
            raise invalid(f"{i}.consumed", "names a lot twice; add the quantities up")
        assemblies.append(rules.Assembly(parents[i], parts[i], (), uses, f"{i}."))
    warnings = rules.check_bom(conn, assemblies)
    event_pks, event_ids = _insert_events(conn, actor, batch, digests, parents, parts)
    _project(conn, rule, parents, parts, event_pks)
    bulk_insert(conn, event_units, ("unit_id", "event_id", "role"), (
        row for pk, parent, subjects in zip(event_pks, parents, parts, strict=True)
        for row in [(parent.id, pk, int(Role.PARENT)),
                    *((u.id, pk, int(Role.SUBJECT)) for u in subjects)]
    ))  # fmt: skip
    rules.record_lot_uses_many(conn, [
        (pk, a.parent.id, use) for pk, a in zip(event_pks, assemblies, strict=True)
        for use in a.using
    ])  # fmt: skip
    audit.append(conn, actor, "record", "event", f"{event_ids[0]} … {event_ids[-1]}", None,
                 {"type": "assemble", "events": len(batch),
                  "unit_count": sum(len(p) for p in parts)})  # fmt: skip
    return [
        Recorded(event_id, pk, "assemble", len(subjects), False, warnings=found_warnings)
        for event_id, pk, subjects, found_warnings in zip(event_ids, event_pks, parts, warnings,
                                                          strict=True)
    ]  # fmt: skip


def _check_once(refs: list[tuple[str, str | None, str]], found: list[UnitRow]) -> None:
    """A unit appears once in a batch: as one parent or one component."""
    seen: dict[int, str] = {}
    errors = []
    for (path, _product, serial), u in zip(refs, found, strict=True):
        if u.id in seen:
            errors.append(FieldError(path, f"named twice in the batch (also {seen[u.id]})",
                                     serial))  # fmt: skip
        seen.setdefault(u.id, path)
    if errors:
        raise report("a unit is named more than once in the batch", errors)


def _check_states(
    conn: Connection,
    rule: Any,
    refs: list[tuple[str, str | None, str]],
    found: list[UnitRow],
    spans: list[tuple[int, int]],
    parents: list[UnitRow],
    parts: list[list[UnitRow]],
) -> None:
    errors = []
    for start, end in spans:
        parent = found[start - 1]
        if parent.status not in PARENT_ALLOWED:
            message = f"parent {parent.product}/{parent.serial} is {parent.status.label}"
            errors.append(FieldError(refs[start - 1][0], message, parent.serial))
        bad = [(ref, u) for ref, u in zip(refs[start:end], found[start:end], strict=True)
               if not rule.allows(u.status)]  # fmt: skip
        held = holders(conn, [u.parent_id for _ref, u in bad if u.parent_id is not None])
        for (path, _product, serial), u in bad:
            state = u.status.label + (f" in {held[u.parent_id]}" if u.parent_id in held else "")
            message = (f"unit {u.product}/{u.serial} is {state}; assemble is allowed only "
                       f"from {rule.describe_allowed()}")  # fmt: skip
            errors.append(FieldError(path, message, serial))
        if len(errors) >= MAX_REPORTED:
            break
    if errors:
        raise report(f"cannot assemble: {errors[0].message}", errors, InvalidTransition)
    # cycles: a parent already inside something must not sit below one of its new components
    for parent, subjects in zip(parents, parts, strict=True):
        if parent.status is Status.INSTALLED and {u.id for u in subjects} & ancestors(
            conn, parent.id
        ):
            raise InvalidTransition(
                f"installing into {parent.serial} would put a unit inside itself",
                [FieldError("parent", "is one of the components or contains them",
                            parent.serial)],
            )  # fmt: skip


def _insert_events(
    conn: Connection,
    actor: Actor,
    batch: Sequence[EventIn],
    digests: Sequence[str],
    parents: list[UnitRow],
    parts: list[list[UnitRow]],
) -> tuple[list[int], list[str]]:
    places: dict[str, int] = {}
    now = datetime.now(UTC)
    default_time = datetime.now().astimezone()
    rows: list[dict[str, Any]] = []
    for event, digest, parent, subjects in zip(batch, digests, parents, parts, strict=True):
        if event.location and event.location not in places:
            places[event.location] = location_id(conn, event.location)
        moment = event.event_time or default_time
        rows.append({
            "event_id": event.event_id or new_event_id(), "payload_hash": digest,
            "type": "assemble", "event_time": moment, "event_tz": utc_offset(moment),
            "record_time": now, "location_id": places.get(event.location or ""),
            "party_id": None, "parent_unit_id": parent.id, "lot_id": None,
            "read_point": event.read_point, "operator": event.operator,
            "equipment": event.equipment, "actor_user_id": actor.user_id,
            "biz_transactions": [b.model_dump() for b in event.biz_transactions],
            "data": event.data, "unit_count": len(subjects),
        })  # fmt: skip
    ids = _event_ids(conn, len(rows))
    for pk, row in zip(ids, rows, strict=True):
        row["id"] = pk
    conn.execute(insert(events), rows)
    return ids, [r["event_id"] for r in rows]


def _event_ids(conn: Connection, count: int) -> list[int]:
    """Primary keys for `count` new events, taken before inserting them (so the insert needs
    no RETURNING): from the sequence on PostgreSQL; after the highest id on SQLite, whose write
    transaction (BEGIN IMMEDIATE) excludes every other writer."""
    if conn.dialect.name == "postgresql":
        return list(conn.execute(text(
            "SELECT nextval(pg_get_serial_sequence('events', 'id')) "
            "FROM generate_series(1, :n)"), {"n": count}).scalars())  # fmt: skip
    start = int(conn.execute(select(func.coalesce(func.max(events.c.id), 0))).scalar_one()) + 1
    return list(range(start, start + count))


_INSTALL = (
    update(units)
    .where(units.c.id.in_(bindparam("ids", expanding=True)),
           units.c.status.in_(bindparam("allowed", expanding=True)))
    .values(status=int(Status.INSTALLED), location_id=None, holder_id=None)
)  # fmt: skip


def _project(
    conn: Connection,
    rule: Any,
    parents: list[UnitRow],
    parts: list[list[UnitRow]],
    event_pks: list[int],
) -> None:
    """Status guarded per chunk (the concurrency check), then each part's parent and event."""
    ids = [u.id for subjects in parts for u in subjects]
    allowed = [int(s) for s in sorted(rule.allowed_from)]
    changed = sum(conn.execute(_INSTALL, {"ids": list(chunk), "allowed": allowed}).rowcount
                  for chunk in chunks(ids))  # fmt: skip
    if changed != len(ids):
        raise Conflict(f"{len(ids) - changed} of the parts changed while the assemblies were "
                       "being recorded; nothing was written, try again")  # fmt: skip
    links = [(parent.id, pk, u.id)
             for parent, subjects, pk in zip(parents, parts, event_pks, strict=True)
             for u in subjects]  # fmt: skip
    if links:
        # one driver-level statement batch (SQLAlchemy's executemany adds ~100 µs a row)
        marker = "%s" if conn.dialect.name == "postgresql" else "?"
        statement = (f"UPDATE units SET parent_id = {marker}, last_event_id = {marker} "
                     f"WHERE id = {marker}")  # fmt: skip
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(statement, links)
        finally:
            cursor.close()
