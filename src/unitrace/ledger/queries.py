"""Read side of the ledger: the unit dossier and unit lists (keyset-paginated)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from contextlib import nullcontext
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, or_, select
from sqlalchemy.orm import aliased

from unitrace.access.principal import Actor
from unitrace.catalog.identifiers import company_prefix_length, unit_identifiers
from unitrace.catalog.service import location_id, lot_id, party_id, product_row
from unitrace.core.errors import FieldError, NotFound, ValidationError, invalid
from unitrace.core.lifecycle import Role, Status, rule_for
from unitrace.core.serials import parse_template
from unitrace.db.engine import Database
from unitrace.db.tables import (
    event_units,
    events,
    locations,
    lots,
    parties,
    products,
    units,
)
from unitrace.ledger import reads
from unitrace.ledger.genealogy import tree
from unitrace.ledger.scanned import check_unit, is_gs1, length_exceeded, read_scan
from unitrace.ledger.scope import partner_view, partner_views, party_of, unit_condition
from unitrace.ledger.write import unknown_serial

MAX_PAGE = 1000


def find_unit_query(actor: Actor, serial: str, product: str | None) -> Any:
    """The units with this serial (of this product) that the actor may see."""
    query = select(units, products.c.code.label("product_code")).join(
        products, products.c.id == units.c.product_id
    )
    query = query.where(units.c.serial == serial)
    scope = unit_condition(actor)
    if scope is not None:
        query = query.where(scope)
    if product is not None:
        query = query.where(products.c.code == product)
    return query


def find_unit(conn: Connection, actor: Actor, serial: str, product: str | None) -> Any:
    """The unit a serial — or whatever a scanner sent (`scanned.read_scan`: a GS1 code's
    GTIN and serial, its lot and expiry checked) — names among those the actor may see."""
    scan = read_scan(conn, serial, product)
    serial, product = scan.serial, scan.product
    rows = conn.execute(find_unit_query(actor, serial, product)).all()
    if not rows:
        raise _no_unit(serial, product)
    check_unit(conn, scan, rows[0].id)
    if len(rows) > 1:
        codes = ", ".join(sorted(r.product_code for r in rows))
        raise ValidationError(
            f"serial {serial!r} is used by products {codes}; name the product",
            [FieldError("product", f"required: serial is used by {codes}", serial)],
        )
    return rows[0]


def _no_unit(serial: str, product: str | None) -> NotFound:
    return NotFound(
        unknown_serial(serial, product), [FieldError("serial", "unknown serial", serial)]
    )


def _code(conn: Connection, table: Any, row_id: int | None) -> str | None:
    if row_id is None:
        return None
    return conn.execute(select(table.c.code).where(table.c.id == row_id)).scalar()


@lru_cache(maxsize=256)
def _zone(offset: str) -> timezone:
    sign = -1 if offset.startswith("-") else 1
    return timezone(timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])) * sign)


def local_time(moment: datetime, offset: str) -> str:
    """A UTC moment as ISO text in the UTC offset it was recorded with (`+08:00`)."""
    return moment.astimezone(_zone(offset)).isoformat()


def dossier(
    db: Database,
    actor: Actor,
    serial: str,
    product: str | None = None,
    *,
    conn: Connection | None = None,
) -> dict[str, Any]:
    """Everything about one unit: identity, state, components and its whole event timeline.
    A partner sees only its own time with the unit (`scope.partner_view`). `conn`: a read
    transaction the caller holds (the service desk reads its whole answer in one)."""
    actor.require("read")
    with nullcontext(conn) if conn is not None else db.read() as conn:
        unit = find_unit(conn, actor, serial, product)
        prod = conn.execute(select(products).where(products.c.id == unit.product_id)).one()
        lot_info = lot = None
        if unit.lot_id is not None:
            lot = conn.execute(select(lots).where(lots.c.id == unit.lot_id)).one()
            lot_info = {
                "number": lot.number,
                "production_date": lot.production_date.isoformat() if lot.production_date else None,
                "expiry_date": lot.expiry_date.isoformat() if lot.expiry_date else None,
                "supplier": _code(conn, parties, lot.supplier_id),
            }
        rows = conn.execute(_TIMELINE, {"unit_pk": unit.id}).all()
        status = Status(unit.status)
        now: dict[str, Any] = {
            "location": _code(conn, locations, unit.location_id),
            "holder": _code(conn, parties, unit.holder_id),
            "parent": None,
            "components": _unit_brief(conn, units.c.parent_id == unit.id),
        }
        if unit.parent_id is not None:
            parent_row = _unit_brief(conn, units.c.id == unit.parent_id)
            now["parent"] = parent_row[0] if parent_row else None
        seen: frozenset[int] | None = None  # the events a partner may see (staff: all)
        holds = True
        if actor.is_partner:
            view = partner_view(rows, party_of(actor))
            seen = view.event_ids
            rows = [r for r in rows if r.id in view.event_ids]
            holds = unit.holder_id is not None and unit.holder_id == actor.party_id
            if not holds:
                # a former holder: the unit as it let it go, nothing of it now
                if view.state is None:
                    raise _no_unit(serial, product)
                status = view.state.status
                now = {"location": None, "holder": None, "parent": None, "components": []}
        sections = {s.key: s.read(conn, unit.id, seen, holds) for s in reads.sections()}
        timeline = [_timeline_item(r) for r in rows]
        component_tree = (
            tree(conn, unit.id, actor.is_partner)["components"] if now["components"] else []
        )
        if actor.is_partner:
            # A partner learns nothing about other parties: their codes are hidden.
            own = _code(conn, parties, actor.party_id)
            now["holder"] = now["holder"] if now["holder"] == own else None
            now["location"] = None
            for item in timeline:
                item["location"] = item["read_point"] = None
                item["operator"] = item["equipment"] = None
                if item["party"] != own:
                    item["party"] = None
                    item["data"] = {}
                item["biz_transactions"] = item["biz_transactions"] if item["party"] else []
            _hide_suppliers(component_tree)
            if lot_info is not None:
                lot_info["supplier"] = None
    commissioned = next((e for e in timeline if e["type"] == "commission"), None)
    produced = (lot_info or {}).get("production_date") or (
        commissioned["event_time"][:10] if commissioned else None
    )
    return {
        "serial": unit.serial,
        "product": {"code": prod.code, "name": prod.name, "gtin": prod.gtin},
        "lot": lot_info,
        "production_date": produced,
        "identifiers": unit_identifiers(
            prod.gtin,
            unit.serial,
            company_prefix_length(prod.gtin14, prod.gs1_company_prefix_length),
            lot.number if lot is not None else None,
            lot.expiry_date if lot is not None else None,
        ),
        "status": status.label,
        "location": now["location"],
        "holder": now["holder"],
        "parent": now["parent"],
        "components": now["components"],
        "component_tree": component_tree,
        **sections,
        "attributes": unit.attributes or {},
        "events": timeline,
    }


def _hide_suppliers(nodes: list[dict[str, Any]]) -> None:
    for node in nodes:
        node["supplier"] = None
        _hide_suppliers(node["components"])


def _unit_brief(conn: Connection, where: Any) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(units.c.serial, units.c.status, products.c.code, products.c.name)
        .join(products, products.c.id == units.c.product_id)
        .where(where)
        .order_by(units.c.id)
    ).all()
    return [
        {"serial": r.serial, "product": r.code, "name": r.name, "status": Status(r.status).label}
        for r in rows
    ]


def timeline_query(unit_pk: Any) -> Any:
    """A unit's events, oldest first (uses the event_units primary key: unit_id first);
    `unit_pk` a unit's id, or a bound parameter (`_TIMELINE`)."""
    parent_unit = aliased(units)
    return (
        select(
            events,
            event_units.c.role,
            locations.c.code.label("location_code"),
            parties.c.code.label("party_code"),
            parent_unit.c.serial.label("parent_serial"),
        )
        .join(event_units, event_units.c.event_id == events.c.id)
        .outerjoin(locations, locations.c.id == events.c.location_id)
        .outerjoin(parties, parties.c.id == events.c.party_id)
        .outerjoin(parent_unit, parent_unit.c.id == events.c.parent_unit_id)
        .where(event_units.c.unit_id == unit_pk)
        .order_by(events.c.event_time, events.c.id)
    )


# built once: a dossier of 200 events spends its time on rows, not on building its query
_TIMELINE = timeline_query(bindparam("unit_pk"))
_ROLE_NAMES = {int(role): role.name.lower() for role in Role}


def _timeline_item(r: Any) -> dict[str, Any]:
    rule = rule_for(r.type)
    return {
        "event_id": r.event_id,
        "type": r.type,
        "role": _ROLE_NAMES[r.role],
        "event_time": local_time(r.event_time, r.event_tz),
        "record_time": r.record_time.isoformat(),
        "biz_step": rule.biz_step,
        "disposition": rule.disposition,
        "location": r.location_code,
        "party": r.party_code,
        "parent": r.parent_serial,
        "read_point": r.read_point,
        "operator": r.operator,
        "equipment": r.equipment,
        "region": r.region,
        "biz_transactions": r.biz_transactions,
        "data": r.data,
        "unit_count": r.unit_count,
    }


def unit_list_query(conditions: list[Any]) -> Any:
    """Units matching the conditions in id order, with product, lot, location, holder, parent."""
    parent_unit = aliased(units)
    return (
        select(
            units.c.id,
            units.c.serial,
            units.c.status,
            products.c.code.label("product"),
            lots.c.number.label("lot"),
            locations.c.code.label("location"),
            parties.c.code.label("holder"),
            units.c.holder_id,
            parent_unit.c.serial.label("parent"),
        )
        .join(products, products.c.id == units.c.product_id)
        .outerjoin(lots, lots.c.id == units.c.lot_id)
        .outerjoin(locations, locations.c.id == units.c.location_id)
        .outerjoin(parties, parties.c.id == units.c.holder_id)
        .outerjoin(parent_unit, parent_unit.c.id == units.c.parent_id)
        .where(*conditions)
        .order_by(units.c.id)
    )


def list_units(
    db: Database,
    actor: Actor,
    *,
    product: str | None = None,
    lot: str | None = None,
    status: str | None = None,
    location: str | None = None,
    holder: str | None = None,
    after: int | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """Units matching every given filter, in id order; `next` is the cursor of the next page.

    A partner's filters name only what is its own: a lot or holder it has no unit of lists
    nothing, exactly like one that does not exist; a unit it held before shows (and matches
    `status`) as it was when it left the partner."""
    actor.require("read")
    if not 1 <= limit <= MAX_PAGE:
        raise invalid("limit", f"must be from 1 to {MAX_PAGE}", limit)
    conditions = []
    wanted_status = None
    with db.read() as conn:
        product_pk = None
        if product:
            product_pk = product_row(conn, product).id
            conditions.append(units.c.product_id == product_pk)
        if lot:
            if product_pk is None:
                raise invalid("lot", "filtering by lot needs the product too")
            if actor.is_partner:  # no lookup that could tell another partner's lot from none
                lot_pk = select(lots.c.id).where(
                    lots.c.product_id == product_pk, lots.c.number == lot
                )
                conditions.append(units.c.lot_id == lot_pk.scalar_subquery())
            else:
                conditions.append(units.c.lot_id == lot_id(conn, product_pk, lot))
        if status:
            try:
                wanted_status = Status.from_label(status)
            except ValueError as exc:
                raise invalid("status", str(exc), status) from None
        if location:
            actor.require("catalog.read")
            conditions.append(units.c.location_id == location_id(conn, location))
        if holder:
            if actor.is_partner:  # a partner may only filter by itself
                holder_id = actor.party_id if _code(conn, parties, actor.party_id) == holder else -1
            else:
                holder_id = party_id(conn, holder, "holder")
            conditions.append(units.c.holder_id == holder_id)
        scope = unit_condition(actor)
        if scope is not None:
            conditions.append(scope)
        if wanted_status is not None and actor.is_partner:
            # units held before: their status then is compared below, not their status now
            party = party_of(actor)
            conditions.append(
                or_(
                    units.c.holder_id.is_(None),
                    units.c.holder_id != party,
                    units.c.status == int(wanted_status),
                )
            )
        elif wanted_status is not None:
            conditions.append(units.c.status == int(wanted_status))
        found: list[dict[str, Any]] = []
        while len(found) <= limit:
            page = conditions + ([units.c.id > after] if after is not None else [])
            rows = conn.execute(unit_list_query(page).limit(limit + 1)).all()
            found += _as_seen(conn, actor, rows, wanted_status)
            if len(rows) <= limit:
                break
            after = rows[-1].id
    more = len(found) > limit
    found = found[:limit]
    return {
        "items": [{k: v for k, v in r.items() if k not in ("id", "holder_id")} for r in found],
        "next": str(found[-1]["id"]) if more and found else None,
    }


def _upper_case_only(template: str | None, code: str) -> bool:
    """Whether a serial rule makes only serials without lower-case letters: then a serial
    typed in lower case means the upper-case one."""
    if not template:
        return False
    try:
        tokens = parse_template(template)
    except ValidationError:
        return False
    texts = [t.text for t in tokens if t.kind == "literal"] + [code]
    return all(text == text.upper() for text in texts)


def _prefix_range(column: Any, prefix: str) -> list[Any]:
    """Serials that begin with `prefix`, as a range an index on the serial serves (SQLite
    compares serials byte by byte; the LIKE keeps the answer right where a database sorts
    otherwise)."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return [column >= prefix, column < upper, column.like(escaped + "%", escape="\\")]


def search_units(
    db: Database,
    actor: Actor,
    q: str,
    *,
    product: str | None = None,
    after: int | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """Units whose serial begins with `q` (a whole serial included), in serial order, a page
    at a time (`next`: the cursor of the next page). A `q` with lower-case letters also finds
    the upper-case serials of products whose serial rule makes only those. A partner finds
    only units it may see, as it may see them."""
    actor.require("read")
    q = q.strip()
    if not q:
        raise invalid("q", "type the serial or its beginning")
    if length_exceeded(q) is not None:
        raise invalid("q", "a serial has at most 64 characters", q)
    if not 1 <= limit <= MAX_PAGE:
        raise invalid("limit", f"must be from 1 to {MAX_PAGE}", limit)
    with db.read() as conn:
        base: list[Any] = []
        scanned = is_gs1(q)
        if scanned:  # a GS1 code names one unit (`find_unit`): that unit is the answer
            named = find_unit(conn, actor, q, product)
            q, product = named.serial, named.product_code
            base.append(units.c.id == named.id)
        product_pk = None
        if product:
            product_pk = product_row(conn, product).id
            base.append(units.c.product_id == product_pk)
        scope = unit_condition(actor)
        if scope is not None:
            base.append(scope)
        variants: list[tuple[str, list[Any]]] = [(q, [])]
        if q.upper() != q:
            rules = conn.execute(select(products.c.id, products.c.code, products.c.serial_rule))
            upper = [r.id for r in rules if _upper_case_only(r.serial_rule, r.code)]
            if product_pk is not None:
                upper = [pk for pk in upper if pk == product_pk]
            if upper:
                variants.append((q.upper(), [units.c.product_id.in_(upper)]))
        start: tuple[str, int] | None = None
        if after is not None:
            found = conn.execute(select(units.c.serial).where(units.c.id == after)).first()
            if found is None:
                raise invalid("after", "is not a cursor from a previous page", after)
            start = (found.serial, after)
        rows: list[Any] = []
        for prefix, only in variants:
            conditions = base + only + _prefix_range(units.c.serial, prefix)
            if start is not None:
                conditions.append(
                    or_(
                        units.c.serial > start[0],
                        and_(units.c.serial == start[0], units.c.id > start[1]),
                    )
                )
            query = unit_list_query(conditions).order_by(None).order_by(units.c.serial, units.c.id)
            rows += conn.execute(query.limit(limit + 1)).all()
        rows.sort(key=lambda r: (r.serial, r.id))
        found_rows = _as_seen(conn, actor, rows[: limit + 1], None)
    more = len(found_rows) > limit
    found_rows = found_rows[:limit]
    answer = {
        "items": [{k: v for k, v in r.items() if k not in ("id", "holder_id")} for r in found_rows],
        "next": str(found_rows[-1]["id"]) if more and found_rows else None,
    }
    return answer | {"scanned": True} if scanned else answer


def _as_seen(
    conn: Connection, actor: Actor, rows: Sequence[Any], wanted: Status | None
) -> list[dict[str, Any]]:
    """List rows as the actor may see them: a partner sees no location and no other party, and
    a unit it no longer holds as it was when it left (dropped if that misses `wanted`)."""
    out = []
    partner = actor.is_partner
    former = [r.id for r in rows if partner and r.holder_id != actor.party_id]
    views = partner_views(conn, actor, former) if former else {}
    for r in rows:
        item = {
            "id": r.id,
            "serial": r.serial,
            "product": r.product,
            "lot": r.lot,
            "status": Status(r.status).label,
            "location": r.location,
            "holder": r.holder,
            "parent": r.parent,
            "holder_id": r.holder_id,
        }
        if partner:
            item["location"] = None
            if r.id in views:
                state = views[r.id].state
                if state is None or (wanted is not None and state.status != wanted):
                    continue
                item.update(status=state.status.label, holder=None, parent=None)
        out.append(item)
    return out


def overview(db: Database, actor: Actor, latest: int = 10) -> dict[str, Any]:
    """Counts of units by status and by product, and the latest events (the home page)."""
    actor.require("read")
    scope = unit_condition(actor)
    with db.read() as conn:
        by_status = select(units.c.status, func.count()).group_by(units.c.status)
        by_product = (
            select(products.c.code, products.c.name, func.count())
            .join(units, units.c.product_id == products.c.id)
            .group_by(products.c.code, products.c.name)
            .order_by(products.c.code)
        )
        recent = (
            select(
                events.c.event_id,
                events.c.type,
                events.c.event_time,
                events.c.event_tz,
                events.c.unit_count,
            )
            .order_by(events.c.id.desc())
            .limit(latest)
        )
        statuses: Counter[str] = Counter()
        if scope is not None:
            # its own units as they are now, the ones it held before as they were when they left
            party = party_of(actor)
            by_status = by_status.where(units.c.holder_id == party)
            by_product = by_product.where(scope)
            recent = recent.where(events.c.party_id == party)
            former = select(units.c.id).where(
                scope, or_(units.c.holder_id.is_(None), units.c.holder_id != party)
            )
            views = partner_views(conn, actor, conn.execute(former).scalars())
            statuses.update(v.state.status.label for v in views.values() if v.state is not None)
        statuses.update({Status(s).label: n for s, n in conn.execute(by_status)})
        product_counts = [
            {"code": c, "name": n, "units": k} for c, n, k in conn.execute(by_product)
        ]
        latest_events = [
            {
                "event_id": r.event_id,
                "type": r.type,
                "unit_count": r.unit_count,
                "event_time": local_time(r.event_time, r.event_tz),
            }
            for r in conn.execute(recent)
        ]
    return {"statuses": dict(statuses), "products": product_counts, "latest": latest_events}
