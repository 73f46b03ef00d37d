"""A unit's warranty: from its product's policy and the unit's own events, never a typed date.

The policy (`products.warranty_months`, `warranty_start`, `warranty_fallback`,
`warranty_fallback_days`) names the event the warranty starts at — manufacture (commission),
shipment (the first ship), sale, activation — and what to use when the unit has none of it
("sale, else shipment + 90 days"). Extensions add months; a void ends it until lifted.

Which months apply (first that matches):

1. a party override of the product for the distributor the unit was shipped to (the last
   shipment up to the warranty start; the unit's own, else its assembly's);
2. a region override for the region of the start event (the sale's or activation's region),
   else for the region of that distributor; an exact region (`CN-31`) before its country (`CN`);
3. the product's own months.

A part (a component installed in an assembly) has its own product's policy; when it has no
start event of its own, the assembly's start event counts — or its installation into the
assembly, when that came later (a spare fitted in a repair starts its warranty then).

The verdict, everywhere a unit is shown:

    {"status": "in_warranty" | "expired" | "not_started" | "void" | "none",
     "start_date", "end_date", "policy": {...}, "started_by": {event} | None,
     "assembly": {serial, product} | None, "extensions": [...], "void": {...} | None}
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from unitrace.access import audit
from unitrace.access.principal import Actor
from unitrace.aftersales.schemas import (
    ExtensionIn,
    OverrideIn,
    OverridesIn,
    UnvoidIn,
    VoidIn,
)
from unitrace.catalog.service import product_row
from unitrace.config import site_timezone
from unitrace.core.clock import as_moment
from unitrace.core.errors import Conflict, FieldError, NotFound, report, twice_in, unknown_unit
from unitrace.core.lifecycle import Role
from unitrace.db.engine import Database
from unitrace.db.tables import (
    event_units,
    events,
    parties,
    products,
    service_cases,
    units,
    warranty_adjustments,
    warranty_overrides,
)
from unitrace.ledger.queries import find_unit, timeline_query
from unitrace.ledger.scope import partner_view, party_of

STARTS: dict[str, str] = {  # the policy's start → the event type that starts it
    "manufacture": "commission",
    "shipment": "ship",
    "sale": "sell",
    "activation": "activate",
}
STATUSES = ("in_warranty", "expired", "not_started", "void", "none")


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def today() -> date:
    """The site's date (`UNITRACE_TIMEZONE`): a warranty ends at the end of a local day."""
    return datetime.now(UTC).astimezone(site_timezone()).date()


_INSTALLS = ("assemble", "replace_part")  # the events that put a part into an assembly


def _first_event(
    conn: Connection, unit_id: int, event_type: str, seen: frozenset[int] | None = None
) -> Any:
    """The unit's first event of the type (among the events `seen`, when given).

    No ORDER BY/LIMIT in SQL: with them the planner walks ix_events_type_time over every event
    of the type; a unit has few events, found by its own index, and the earliest is taken
    here."""
    query = (
        select(events.c.id, events.c.event_id, events.c.type, events.c.event_time, events.c.region)
        .join(event_units, event_units.c.event_id == events.c.id)
        .where(
            event_units.c.unit_id == unit_id,
            event_units.c.role == int(Role.SUBJECT),
            events.c.type == event_type,
        )
    )
    rows = [r for r in conn.execute(query) if seen is None or r.id in seen]
    return min(rows, key=lambda r: (as_moment(r.event_time), r.id), default=None)


def _local_date(moment: Any) -> date:
    return as_moment(moment).astimezone(site_timezone()).date()


def _installation(conn: Connection, unit_id: int) -> Any:
    """The event that last put the unit into an assembly (with the assembly), or None."""
    return conn.execute(
        select(
            events.c.id,
            events.c.event_id,
            events.c.type,
            events.c.event_time,
            events.c.region,
            events.c.parent_unit_id,
            units.c.serial,
            products.c.code.label("product"),
        )
        .join(event_units, event_units.c.event_id == events.c.id)
        .join(units, units.c.id == events.c.parent_unit_id)
        .join(products, products.c.id == units.c.product_id)
        .where(
            event_units.c.unit_id == unit_id,
            event_units.c.role == int(Role.SUBJECT),
            events.c.type.in_(_INSTALLS),
        )
        .order_by(events.c.event_time.desc(), events.c.id.desc())
        .limit(1)
    ).first()


def _start(
    conn: Connection, unit_id: int, product: Any, seen: frozenset[int] | None
) -> tuple[date | None, Any, Any]:
    """(start date, the event that started it, the assembly it came from or None): the
    policy's event, else the fallback's plus its days; for each, the unit's own event first,
    then (a part) its assembly's or its installation, whichever is later. A partner (`seen`)
    counts only the unit's own events it may see."""
    kinds = [(product.warranty_start, 0)]
    if product.warranty_fallback:
        kinds.append((product.warranty_fallback, product.warranty_fallback_days))
    installed: Any = False  # not looked up yet
    for kind, days in kinds:
        own = _first_event(conn, unit_id, STARTS[kind], seen)
        if own is not None:
            return _local_date(own.event_time) + timedelta(days=days), own, None
        if seen is not None:
            continue
        if installed is False:
            installed = _installation(conn, unit_id)
        if installed is None:
            continue
        theirs = _first_event(conn, installed.parent_unit_id, STARTS[kind])
        if theirs is None:
            continue
        started = theirs
        if _local_date(installed.event_time) > _local_date(theirs.event_time):
            started = installed  # fitted after the assembly's warranty began
        return _local_date(started.event_time) + timedelta(days=days), started, installed
    return None, None, None


def _shipped_to(
    conn: Connection, unit_ids: list[int], seen: frozenset[int] | None, until: Any
) -> Any:
    """The party (id, code, region) of the last shipment of the first of `unit_ids` that was
    shipped, up to the moment `until` (None: any time). The unit's few shipments are found by
    its own index and the last one taken here (no ORDER BY, as in `_first_event`)."""
    for unit_id in unit_ids:
        query = (
            select(
                events.c.id,
                events.c.event_time,
                parties.c.id.label("party_id"),
                parties.c.code,
                parties.c.region,
            )
            .join(event_units, event_units.c.event_id == events.c.id)
            .join(parties, parties.c.id == events.c.party_id)
            .where(
                event_units.c.unit_id == unit_id,
                event_units.c.role == int(Role.SUBJECT),
                events.c.type == "ship",
            )
        )
        if until is not None:
            query = query.where(events.c.event_time <= until)
        rows = [r for r in conn.execute(query) if seen is None or r.id in seen]
        if rows:
            return max(rows, key=lambda r: (as_moment(r.event_time), r.id))
    return None


def _override(
    conn: Connection,
    product_id: int,
    unit_id: int,
    started: Any,
    installed: Any,
    seen: frozenset[int] | None,
) -> tuple[int, dict[str, Any]] | None:
    """(months, which override) for the unit, or None when none applies (module docstring)."""
    found = conn.execute(
        select(
            warranty_overrides.c.region, warranty_overrides.c.party_id, warranty_overrides.c.months
        ).where(warranty_overrides.c.product_id == product_id)
    ).all()
    if not found:
        return None
    chain = [unit_id] + ([installed.parent_unit_id] if installed is not None else [])
    until = started.event_time if started is not None else None
    party = _shipped_to(conn, chain, seen, until)
    by_party = {o.party_id: o.months for o in found if o.party_id is not None}
    if party is not None and party.party_id in by_party:
        return by_party[party.party_id], {"party": party.code}
    by_region = {o.region: o.months for o in found if o.region is not None}
    region = (started.region if started is not None else None) or (
        party.region if party is not None else None
    )
    for candidate in (region, region.split("-")[0] if region else None):
        if candidate is not None and candidate in by_region:
            return by_region[candidate], {"region": candidate}
    return None


def _adjustments(conn: Connection, unit_id: int) -> tuple[list[dict[str, Any]], Any]:
    rows = conn.execute(
        select(warranty_adjustments, service_cases.c.number.label("case"))
        .outerjoin(service_cases, service_cases.c.id == warranty_adjustments.c.case_id)
        .where(warranty_adjustments.c.unit_id == unit_id)
        .order_by(warranty_adjustments.c.at, warranty_adjustments.c.id)
    ).all()
    extensions = [
        {
            "months": a.months,
            "paid": a.paid,
            "reason": a.reason,
            "at": a.at.isoformat(),
            "by": a.by,
            "case": a.case,
        }
        for a in rows
        if a.kind == "extension"
    ]
    void = None
    for a in rows:
        if a.kind == "void":
            void = {"reason": a.reason, "at": a.at.isoformat(), "by": a.by, "case": a.case}
        elif a.kind == "unvoid":
            void = None
    return extensions, void


def verdict(
    conn: Connection,
    unit_id: int,
    on: date | None = None,
    *,
    seen: frozenset[int] | None = None,
) -> dict[str, Any]:
    """The warranty of one unit on `on` (the site's today). `seen`: the events a partner may
    see of the unit (its warranty as that partner knows it); None for staff."""
    on = on or today()
    unit = conn.execute(
        select(units.c.serial, products)
        .join(products, products.c.id == units.c.product_id)
        .where(units.c.id == unit_id)
    ).one()
    extensions, void = _adjustments(conn, unit_id)
    start, started, installed = _start(conn, unit_id, unit, seen)
    months = unit.warranty_months
    applied = _override(conn, unit.id, unit_id, started, installed, seen)
    if applied is not None:
        months = applied[0]
    policy = {
        "product": unit.code,
        "months": months,
        "start": unit.warranty_start,
        "fallback": unit.warranty_fallback,
        "fallback_days": unit.warranty_fallback_days,
        "product_months": unit.warranty_months,
        "override": applied[1] if applied is not None else None,
    }
    out: dict[str, Any] = {
        "status": "none",
        "start_date": None,
        "end_date": None,
        "policy": policy,
        "started_by": None,
        "assembly": None,
        "extensions": extensions,
        "void": void,
    }
    if months == 0 and not extensions:
        return out
    if started is not None:
        out["started_by"] = {
            "event_id": started.event_id,
            "type": started.type,
            "event_time": as_moment(started.event_time).isoformat(),
            # the assembly's event, or the part's own (its own start, its installation)
            "serial": unit.serial
            if installed is None or started is installed
            else installed.serial,
        }
        if installed is not None:
            out["assembly"] = {"serial": installed.serial, "product": installed.product}
    if void is not None:
        out["status"] = "void"
    if start is None:
        if void is None:
            out["status"] = "not_started"
        return out
    total = months + sum(e["months"] or 0 for e in extensions)
    try:
        end = add_months(start, total)
    except (ValueError, OverflowError):  # beyond the year 9999: it does not end
        end = date.max
    out.update(start_date=start.isoformat(), end_date=end.isoformat())
    if void is None:
        out["status"] = (
            "in_warranty" if start <= on <= end else ("expired" if on > end else "not_started")
        )
    return out


# --- use cases: a unit's warranty, its extensions and voids; a product's overrides --------------


def seen_by(
    conn: Connection, actor: Actor, unit: Any, product: str | None = None
) -> frozenset[int] | None:
    """The events of the unit a partner may see (None: staff see all). A former holder that
    may see nothing of it is answered as for a serial that does not exist (as the dossier)."""
    if not actor.is_partner:
        return None
    view = partner_view(conn.execute(timeline_query(unit.id)).all(), party_of(actor))
    if view.state is None and unit.holder_id != actor.party_id:
        raise NotFound(
            unknown_unit(unit.serial, product),
            [FieldError("serial", "unknown serial", unit.serial)],
        )
    return view.event_ids


def for_actor(found: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """A verdict as the actor may read it: a partner learns no user names."""
    return without_names(found) if actor.is_partner else found


def without_names(found: dict[str, Any]) -> dict[str, Any]:
    """The verdict with the user names of its extensions and void taken out."""
    for item in [*found["extensions"], found["void"]]:
        if item is not None:
            item["by"] = None
    return found


def unit_warranty(
    db: Database, actor: Actor, serial: str, product: str | None = None, on: date | None = None
) -> dict[str, Any]:
    """`GET /units/{serial}/warranty`: the verdict with the unit's serial and product."""
    actor.require("service.read")
    with db.read() as conn:
        unit = find_unit(conn, actor, serial, product)
        found = verdict(conn, unit.id, on, seen=seen_by(conn, actor, unit, product))
    return {"serial": unit.serial, "product": unit.product_code} | for_actor(found, actor)


def _locked_unit(conn: Connection, actor: Actor, serial: str, product: str | None) -> Any:
    unit = find_unit(conn, actor, serial, product)
    # one writer at a time per unit (PostgreSQL; SQLite writes one at a time anyway)
    conn.execute(select(units.c.id).where(units.c.id == unit.id).with_for_update())
    return unit


def _case_id(conn: Connection, unit: Any, number: str | None) -> int | None:
    if number is None:
        return None
    found = conn.execute(
        select(service_cases.c.id, service_cases.c.unit_id).where(service_cases.c.number == number)
    ).first()
    if found is None or found.unit_id != unit.id:
        raise NotFound(
            f"no service case {number!r} for this unit",
            [FieldError("case", "unknown case of this unit", number)],
        )
    return int(found.id)


def _adjust(
    conn: Connection, actor: Actor, unit: Any, kind: str, values: dict[str, Any]
) -> dict[str, Any]:
    before = verdict(conn, unit.id)
    conn.execute(
        insert(warranty_adjustments).values(
            unit_id=unit.id, kind=kind, at=datetime.now(UTC), by=actor.username, **values
        )
    )
    after = verdict(conn, unit.id)
    summary = ("status", "end_date", "void")
    audit.append(
        conn,
        actor,
        kind,
        "warranty",
        f"{unit.product_code}/{unit.serial}",
        {k: before[k] for k in summary},
        {k: after[k] for k in summary} | {"adjustment": values},
    )
    return {"serial": unit.serial, "product": unit.product_code} | after


def extend(db: Database, actor: Actor, serial: str, data: ExtensionIn) -> dict[str, Any]:
    """Add months to a unit's warranty (bought or goodwill), with the reason and who; audited.
    A void warranty is not extended: lift the void first."""
    actor.require("warranty.manage")
    with db.write() as conn:
        unit = _locked_unit(conn, actor, serial, data.product)
        case_id = _case_id(conn, unit, data.case)
        void = _adjustments(conn, unit.id)[1]
        if void is not None:
            serial, reason = unit.serial, void["reason"]
            raise Conflict(
                f"the warranty of {serial} is void ({reason}); lift the void first",
                [FieldError("serial", "the warranty is void", unit.serial)],
            )
        values = {
            "months": data.months,
            "paid": data.paid,
            "reason": data.reason.strip(),
            "case_id": case_id,
        }
        return _adjust(conn, actor, unit, "extension", values)


def void(db: Database, actor: Actor, serial: str, data: VoidIn) -> dict[str, Any]:
    """Void a unit's warranty with a reason (tampering, misuse …); audited."""
    actor.require("warranty.manage")
    with db.write() as conn:
        unit = _locked_unit(conn, actor, serial, data.product)
        case_id = _case_id(conn, unit, data.case)
        voided = _adjustments(conn, unit.id)[1]
        if voided is not None:
            serial, reason = unit.serial, voided["reason"]
            raise Conflict(
                f"the warranty of {serial} is already void ({reason})",
                [FieldError("serial", "the warranty is already void", unit.serial)],
            )
        values = {"reason": data.reason.strip(), "case_id": case_id}
        return _adjust(conn, actor, unit, "void", values)


def unvoid(db: Database, actor: Actor, serial: str, data: UnvoidIn) -> dict[str, Any]:
    """Lift the void of a unit's warranty (`warranty.unvoid`), with a reason; audited."""
    actor.require("warranty.unvoid")
    with db.write() as conn:
        unit = _locked_unit(conn, actor, serial, data.product)
        if _adjustments(conn, unit.id)[1] is None:
            serial = unit.serial
            raise Conflict(
                f"the warranty of {serial} is not void",
                [FieldError("serial", "the warranty is not void", unit.serial)],
            )
        return _adjust(conn, actor, unit, "unvoid", {"reason": data.reason.strip()})


def _policy_public(conn: Connection, product: Any) -> dict[str, Any]:
    rows = conn.execute(
        select(warranty_overrides.c.region, parties.c.code, warranty_overrides.c.months)
        .outerjoin(parties, parties.c.id == warranty_overrides.c.party_id)
        .where(warranty_overrides.c.product_id == product.id)
        .order_by(parties.c.code.is_not(None), warranty_overrides.c.region, parties.c.code)
    ).all()
    return {
        "product": product.code,
        "months": product.warranty_months,
        "start": product.warranty_start,
        "fallback": product.warranty_fallback,
        "fallback_days": product.warranty_fallback_days,
        "overrides": [{"region": r.region, "party": r.code, "months": r.months} for r in rows],
    }


def policy(db: Database, actor: Actor, code: str) -> dict[str, Any]:
    """`GET /products/{code}/warranty`: the product's policy and its overrides."""
    actor.require("catalog.read")
    with db.read() as conn:
        return _policy_public(conn, product_row(conn, code))


def _override_rows(conn: Connection, items: list[OverrideIn]) -> list[dict[str, Any]]:
    """The rows of the overrides; every problem at once (field `overrides.N.…`)."""
    problems: list[FieldError] = []
    rows = []
    keys: list[tuple[str, tuple[str, Any], Any]] = []
    for index, item in enumerate(items):
        path = f"overrides.{index}"
        if (item.region is None) == (item.party is None):
            problems.append(FieldError(f"{path}.region", "give exactly one of region and party"))
            continue
        party_id = None
        if item.party is not None:
            party_id = conn.execute(
                select(parties.c.id).where(parties.c.code == item.party)
            ).scalar()
            if party_id is None:
                problems.append(FieldError(f"{path}.party", "unknown party", item.party))
                continue
            keys.append((f"{path}.party", ("party", party_id), item.party))
        else:
            keys.append((f"{path}.region", ("region", item.region), item.region))
        rows.append({"region": item.region, "party_id": party_id, "months": item.months})
    problems.extend(twice_in(keys))
    if problems:
        raise report("the warranty overrides cannot be set", problems)
    return rows


def set_overrides(db: Database, actor: Actor, code: str, data: OverridesIn) -> dict[str, Any]:
    """`PUT /products/{code}/warranty`: replace the product's overrides; audited."""
    actor.require("warranty.manage")
    with db.write() as conn:
        product = product_row(conn, code)
        conn.execute(select(products.c.id).where(products.c.id == product.id).with_for_update())
        rows = _override_rows(conn, data.overrides)
        before = _policy_public(conn, product)
        conn.execute(
            delete(warranty_overrides).where(warranty_overrides.c.product_id == product.id)
        )
        now = datetime.now(UTC)
        for row in rows:
            conn.execute(
                insert(warranty_overrides).values(
                    product_id=product.id, created_at=now, created_by=actor.username, **row
                )
            )
        after = _policy_public(conn, product)
        if after["overrides"] != before["overrides"]:
            audit.append(
                conn,
                actor,
                "update",
                "warranty_policy",
                code,
                before["overrides"],
                after["overrides"],
            )
        return after


def delete_override(
    db: Database, actor: Actor, code: str, region: str | None = None, party: str | None = None
) -> dict[str, Any]:
    """`DELETE /products/{code}/warranty`: remove the override of the region or the party
    (neither: all of the product's overrides); audited."""
    actor.require("warranty.manage")
    if region is not None and party is not None:
        raise report(
            "name the region or the party of the override, not both",
            [FieldError("region", "give region or party, not both", region)],
        )
    with db.write() as conn:
        product = product_row(conn, code)
        conn.execute(select(products.c.id).where(products.c.id == product.id).with_for_update())
        before = _policy_public(conn, product)
        query = delete(warranty_overrides).where(warranty_overrides.c.product_id == product.id)
        if region is not None:
            query = query.where(warranty_overrides.c.region == region)
        elif party is not None:
            ids = select(parties.c.id).where(parties.c.code == party).scalar_subquery()
            query = query.where(warranty_overrides.c.party_id == ids)
        if conn.execute(query).rowcount == 0 and (region or party):
            which, value = ("region", region) if region else ("party", party)
            raise NotFound(
                f"product {code} has no warranty override for {which} {value!r}",
                [FieldError(which, "no override for it", value)],
            )
        after = _policy_public(conn, product)
        if after["overrides"] != before["overrides"]:
            audit.append(
                conn,
                actor,
                "update",
                "warranty_policy",
                code,
                before["overrides"],
                after["overrides"],
            )
        return after
