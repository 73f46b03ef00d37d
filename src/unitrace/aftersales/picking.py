"""The warehouse's side of spare-part requests (备件申请): the pick list, picking serialised spares
by scan, cancelling a request, and the fulfilment itself.

Picking is a `move` of the scanned spares to the request's service location, written through
the one write path (`ledger.pipeline.record_in`) with the request and its case as business
transactions (`spare_request` SR-000012, `rma` SC-000001). The fulfilment is not done by the
pick: it is the pipeline step `SparesArrive` (`aftersales.steps`), which sees every event that
brings units in stock to a location — a pick, a move or a receive from the scan station, the
API, the CLI, an import — and counts the spares of a requested product against the oldest open
requests there (the requests the event names first). A request whose spares have all arrived is
`fulfilled`; when no request of a case is left open and the case waits for parts, it moves on
to `in_repair` (by `system`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, case, func, insert, select, update

from unitrace.access import audit
from unitrace.access.principal import Actor
from unitrace.aftersales import cases, spares
from unitrace.catalog.service import location_id
from unitrace.core.errors import (
    Conflict,
    FieldError,
    InvalidTransition,
    NotFound,
    invalid,
    report,
    twice_in,
)
from unitrace.core.lifecycle import Status
from unitrace.db.engine import Database
from unitrace.db.fast import Fast
from unitrace.db.tables import (
    case_history,
    locations,
    products,
    service_cases,
    spare_request_units,
    spare_requests,
    units,
)
from unitrace.ledger.pipeline import record_in
from unitrace.ledger.schemas import BizTransaction, EventIn

BIZ_TYPE = "spare_request"  # the business transaction naming a request on an event
MAX_PICKED = 200  # serials in one pick
STOCK_SHOWN = 5  # locations that hold the product, on each line of the pick list


# --- the pick list -------------------------------------------------------------------------


def _listed() -> Any:
    return (
        select(
            spare_requests,
            service_cases.c.number.label("case_number"),
            service_cases.c.state.label("case_state"),
            units.c.serial.label("unit_serial"),
            products.c.code.label("product_code"),
            products.c.name.label("product_name"),
            locations.c.code.label("location_code"),
            locations.c.name.label("location_name"),
        )
        .join(service_cases, service_cases.c.id == spare_requests.c.case_id)
        .join(units, units.c.id == service_cases.c.unit_id)
        .join(products, products.c.id == spare_requests.c.product_id)
        .join(locations, locations.c.id == spare_requests.c.location_id)
    )


def _status_filter(status: Sequence[str]) -> list[str]:
    wanted = [s.strip() for s in status if s.strip()] or ["open"]
    if "all" in wanted:
        return list(spares.STATUSES)
    wrong = [s for s in wanted if s not in spares.STATUSES]
    if wrong:
        allowed = ", ".join((*spares.STATUSES, "all"))
        given = ", ".join(wrong)
        raise invalid("status", f"one of {allowed}, not {given}", wrong[0])
    return wanted


def pick_list(
    db: Database,
    actor: Actor,
    status: Sequence[str] = ("open",),
    location: str | None = None,
    product: str | None = None,
    case_number: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """Spare-part requests, oldest first (the warehouse picks in that order): the case, the
    product, how many and how many arrived, where they must go, the spares picked so far and
    where the product is in stock."""
    actor.require("spares.manage")
    wanted = _status_filter(status)
    with db.read() as conn:
        problems: list[FieldError] = []
        where: list[Any] = [spare_requests.c.status.in_(wanted)]
        if location:
            try:
                where.append(spare_requests.c.location_id == location_id(conn, location))
            except NotFound as error:
                problems += error.errors
        if product:
            found = conn.execute(select(products.c.id).where(products.c.code == product)).scalar()
            if found is None:
                problems.append(FieldError("product", "unknown product", product))
            where.append(spare_requests.c.product_id == found)
        if case_number:
            where.append(service_cases.c.number == case_number)
        if problems:
            raise report("the pick list cannot be shown", problems)
        query = _listed().where(*where)
        total = conn.execute(
            select(func.count()).select_from(
                query.with_only_columns(spare_requests.c.id).subquery()
            )
        ).scalar_one()
        rows = conn.execute(
            query.order_by(spare_requests.c.created_at, spare_requests.c.id)
            .limit(limit)
            .offset(offset)
        ).all()
        items = _shaped(conn, rows)
    return {"items": items, "total": int(total)}


def for_case(conn: Connection, case_id: int) -> list[dict[str, Any]]:
    """A case's spare-part requests, oldest first (the case page, `casework`)."""
    rows = conn.execute(
        _listed()
        .where(spare_requests.c.case_id == case_id)
        .order_by(spare_requests.c.created_at, spare_requests.c.id)
    ).all()
    return _shaped(conn, rows, stock=False)


def get_request(db: Database, actor: Actor, number: str) -> dict[str, Any]:
    actor.require("spares.manage")
    with db.read() as conn:
        row = conn.execute(
            _listed().where(spare_requests.c.id == spares.request_id(number))
        ).first()
        if row is None:
            raise NotFound(f"no spare-part request {number!r}")
        return _shaped(conn, [row])[0]


def _shaped(conn: Connection, rows: Sequence[Any], stock: bool = True) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    picked: dict[int, list[str]] = defaultdict(list)
    if ids:
        for request, serial in conn.execute(
            select(spare_request_units.c.request_id, units.c.serial)
            .join(units, units.c.id == spare_request_units.c.unit_id)
            .where(spare_request_units.c.request_id.in_(ids))
            .order_by(spare_request_units.c.request_id, units.c.serial)
        ):
            picked[request].append(serial)
    held = _stock(conn, {r.product_id for r in rows if r.status == "open"}) if stock else {}
    return [
        {
            "number": spares.number(r.id),
            "case": r.case_number,
            "case_state": r.case_state,
            "unit": r.unit_serial,
            "product": r.product_code,
            "product_name": r.product_name,
            "quantity": r.quantity,
            "fulfilled": r.fulfilled,
            "remaining": max(r.quantity - r.fulfilled, 0) if r.status == "open" else 0,
            "location": r.location_code,
            "location_name": r.location_name,
            "status": r.status,
            "created_at": r.created_at.isoformat(),
            "updated_at": r.updated_at.isoformat(),
            "spares": picked.get(r.id, []),
            **(
                {
                    "stock": [
                        s
                        for s in (held.get(r.product_id, []) if r.status == "open" else [])
                        if s["location"] != r.location_code
                    ][:STOCK_SHOWN]
                }
                if stock
                else {}
            ),
        }
        for r in rows
    ]


def _stock(conn: Connection, product_ids: set[int]) -> dict[int, list[dict[str, Any]]]:
    """Where the products are in stock and free: one grouped count, most first."""
    if not product_ids:
        return {}
    rows = conn.execute(
        select(units.c.product_id, locations.c.code, func.count().label("units"))
        .join(locations, locations.c.id == units.c.location_id)
        .where(
            units.c.product_id.in_(sorted(product_ids)),
            units.c.status == int(Status.IN_STOCK),
            ~spares.reserved(),
        )
        .group_by(units.c.product_id, locations.c.code)
        .order_by(units.c.product_id, func.count().desc(), locations.c.code)
    ).all()
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for product_id, code, count in rows:
        out[product_id].append({"location": code, "units": int(count)})
    return out


# --- picking and cancelling ----------------------------------------------------------------


def _open_request(conn: Connection, number: str) -> Any:
    row = conn.execute(_listed().where(spare_requests.c.id == spares.request_id(number))).first()
    if row is None:
        raise NotFound(f"no spare-part request {number!r}")
    shown = spares.number(row.id)
    if row.status == "fulfilled":
        raise Conflict(
            f"spare-part request {shown} is already fulfilled; nothing was written",
            [FieldError("request", "already fulfilled", shown)],
        )
    if row.status == "cancelled":
        raise Conflict(
            f"spare-part request {shown} was cancelled; nothing was written",
            [FieldError("request", "cancelled", shown)],
        )
    return row


def pick(db: Database, actor: Actor, number: str, serials: Sequence[str]) -> dict[str, Any]:
    """Send scanned spares to the request's service location: one `move` event through the
    write path naming the request and its case. Every problem with the scan is told at once
    (unknown serial, another product, not in stock, already there or picked for another case,
    more than the request needs), and nothing is written. Two pickers racing for the last spare
    of a request: one fulfils it, the other is told the request is fulfilled (409)."""
    actor.require("spares.manage")
    if not serials:
        raise invalid("serials", "scan at least one spare")
    if len(serials) > MAX_PICKED:
        raise invalid("serials", f"at most {MAX_PICKED} spares in one pick")
    with db.write() as conn:
        request = _open_request(conn, number)
        shown = spares.number(request.id)
        problems = twice_in((f"serials.{i}", s, s) for i, s in enumerate(serials))
        found = _spares(conn, request, serials, problems)
        remaining = request.quantity - request.fulfilled
        scanned = len(serials)
        if scanned > remaining:
            problems.append(
                FieldError(
                    "serials", f"{shown} needs {remaining} more, {scanned} were scanned", scanned
                )
            )
        if problems:
            raise report("nothing was picked", problems)
        event = EventIn(
            type="move",
            product=request.product_code,
            serials=list(serials),
            location=request.location_code,
            biz_transactions=[
                BizTransaction(type=BIZ_TYPE, id=shown),
                BizTransaction(type="rma", id=request.case_number),
            ],
        )
        recorded = record_in(conn, actor, event)
        arrived = [a for a in recorded.extra.get("spare_requests", []) if a["number"] == shown]
        if len(arrived) < len(found):  # another picker filled it between our look and our write
            raise Conflict(
                f"spare-part request {shown} was fulfilled by another pick meanwhile; "
                "nothing was written",
                [FieldError("request", "fulfilled meanwhile", shown)],
            )
        after = conn.execute(
            select(spare_requests.c.fulfilled, spare_requests.c.status).where(
                spare_requests.c.id == request.id
            )
        ).one()
        state = conn.execute(
            select(service_cases.c.state).where(service_cases.c.id == request.case_id)
        ).scalar_one()
    return {
        "number": shown,
        "event_id": recorded.event_id,
        "serials": list(serials),
        "location": request.location_code,
        "quantity": request.quantity,
        "fulfilled": after.fulfilled,
        "status": after.status,
        "case": request.case_number,
        "case_state": state,
    }


def _spares(
    conn: Connection, request: Any, serials: Sequence[str], problems: list[FieldError]
) -> list[Any]:
    """The scanned units of the request's product, or a problem for each that is not a free
    spare in stock elsewhere."""
    rows = conn.execute(
        select(
            units.c.id,
            units.c.serial,
            units.c.status,
            units.c.location_id,
            units.c.product_id,
            products.c.code,
            spares.reserved().label("reserved"),
        )
        .join(products, products.c.id == units.c.product_id)
        .where(units.c.serial.in_(sorted(set(serials))))
    ).all()
    by_serial: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        by_serial[row.serial].append(row)
    found = []
    for index, serial in enumerate(serials):
        field = f"serials.{index}"
        candidates = by_serial.get(serial, [])
        unit = next((u for u in candidates if u.product_id == request.product_id), None)
        if unit is None:
            if candidates:
                others = ", ".join(sorted(u.code for u in candidates))
                wanted = request.product_code
                message = f"is a {others}, not a {wanted}"
            else:
                message = "unknown serial"
            problems.append(FieldError(field, message, serial))
        elif unit.status != int(Status.IN_STOCK):
            state = Status(unit.status).label
            problems.append(FieldError(field, f"is {state}, not in stock", serial))
        elif unit.location_id == request.location_id:
            place = request.location_code
            problems.append(FieldError(field, f"is already at {place}", serial))
        elif unit.reserved:
            problems.append(FieldError(field, "is already picked for another case", serial))
        else:
            found.append(unit)
    return found


def cancel(db: Database, actor: Actor, number: str, reason: str) -> dict[str, Any]:
    """Cancel an open request (the part came another way, the diagnosis changed): with a
    reason, in the case's history and the audit trail. Spares that already arrived for it are
    free again; the case moves on when no request of it is left open and one was fulfilled."""
    actor.require("spares.manage")
    if not reason.strip():
        raise invalid("reason", "say why the request is cancelled")
    now = datetime.now(UTC)
    with db.write() as conn:
        request = _open_request(conn, number)
        shown = spares.number(request.id)
        changed = conn.execute(
            update(spare_requests)
            .where(spare_requests.c.id == request.id, spare_requests.c.status == "open")
            .values(status="cancelled", updated_at=now)
        ).rowcount
        if changed != 1:
            raise Conflict(
                f"spare-part request {shown} changed meanwhile; look again",
                [FieldError("request", "changed meanwhile", shown)],
            )
        conn.execute(
            insert(case_history).values(
                case_id=request.case_id,
                at=now,
                by=actor.username,
                kind="spare",
                text=f"{shown} ({request.product_code} × {request.quantity}) cancelled: {reason}",
            )
        )
        state = _move_on(conn, [request.case_id], now).get(request.case_id, request.case_state)
        audit.append(
            conn,
            actor,
            "cancel",
            "spare_request",
            shown,
            {"status": "open"},
            {"status": "cancelled", "reason": reason, "case": request.case_number},
        )
    return {
        "number": shown,
        "status": "cancelled",
        "case": request.case_number,
        "case_state": state,
    }


# --- fulfilment (the pipeline step) --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Arrival:
    """A unit an event brings into stock at a location."""

    unit_id: int
    serial: str
    product_id: int
    product: str
    location_id: int
    named: frozenset[int]  # the requests the event names (business transactions)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A spare counted against a request (the plan of `plan_arrivals`)."""

    request_id: int
    case_id: int
    unit_id: int
    serial: str
    product: str


_OPEN_AT = select(
    spare_requests.c.id,
    spare_requests.c.case_id,
    spare_requests.c.product_id,
    spare_requests.c.location_id,
    spare_requests.c.quantity,
    spare_requests.c.fulfilled,
).where(
    spare_requests.c.status == "open",
    spare_requests.c.location_id.in_(bindparam("locations", expanding=True)),
)


def named_requests(biz: Sequence[BizTransaction]) -> frozenset[int]:
    found = set()
    for one in biz:
        if one.type == BIZ_TYPE:
            try:
                found.add(spares.request_id(one.id))
            except NotFound:
                continue  # a business transaction of ours we do not know: not a request
    return frozenset(found)


# the usual scan: no request is open anywhere, and one indexed look says so
_ANY_OPEN = Fast(select(spare_requests.c.id).where(spare_requests.c.status == "open").limit(1))


def _open_at(conn: Connection, location_ids: set[int]) -> list[Any]:
    if not location_ids or _ANY_OPEN.scalar(conn, {}) is None:
        return []
    return list(
        conn.execute(
            _OPEN_AT.order_by(spare_requests.c.created_at, spare_requests.c.id),
            {"locations": sorted(location_ids)},
        ).all()
    )


def arrivals(conn: Connection, coming: Sequence[Sequence[Arrival]]) -> list[list[Arrival]]:
    """Of the units each event brings into stock at a location (read before it is written),
    those that may fulfil a request: an open request wants their product there, they were not
    there already, and no open case has them reserved. Asked once per wave; nothing to read
    when no request is open at the wave's locations (the usual scan)."""
    rows = _open_at(conn, {a.location_id for event in coming for a in event})
    wanted = {(r.location_id, r.product_id) for r in rows}
    ids = [a.unit_id for event in coming for a in event if (a.location_id, a.product_id) in wanted]
    if not ids:
        return [[] for _ in coming]
    known = {
        k.id: k
        for k in conn.execute(
            select(units.c.id, units.c.location_id, spares.reserved().label("reserved")).where(
                units.c.id.in_(ids)
            )
        )
    }
    return [
        [
            a
            for a in event
            if (a.location_id, a.product_id) in wanted
            and a.unit_id in known
            and not known[a.unit_id].reserved
            and known[a.unit_id].location_id != a.location_id
        ]
        for event in coming
    ]


def plan_arrivals(conn: Connection, coming: Sequence[Sequence[Arrival]]) -> list[list[Claimed]]:
    """Which open request each arriving spare fulfils, per event in order: the requests the
    event names first, then the oldest open ones for the product at the location."""
    rows = _open_at(conn, {a.location_id for event in coming for a in event})
    room = {r.id: r.quantity - r.fulfilled for r in rows}
    queue: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for r in rows:
        queue[(r.location_id, r.product_id)].append(r)
    plans: list[list[Claimed]] = []
    for event in coming:
        plan = []
        for arrival in event:
            line = queue.get((arrival.location_id, arrival.product_id), [])
            ordered = [r for r in line if r.id in arrival.named] + [
                r for r in line if r.id not in arrival.named
            ]
            target = next((r for r in ordered if room[r.id] > 0), None)
            if target is None:
                continue
            room[target.id] -= 1
            plan.append(
                Claimed(target.id, target.case_id, arrival.unit_id, arrival.serial, arrival.product)
            )
        plans.append(plan)
    return plans


_FULFIL = (
    update(spare_requests)
    .where(
        spare_requests.c.id == bindparam("request"),
        spare_requests.c.status == "open",
        spare_requests.c.fulfilled < spare_requests.c.quantity,
    )
    .values(
        fulfilled=spare_requests.c.fulfilled + 1,
        status=case(
            (spare_requests.c.fulfilled + 1 >= spare_requests.c.quantity, "fulfilled"),
            else_=spare_requests.c.status,
        ),
        updated_at=bindparam("at"),
    )
)


def fulfil(
    conn: Connection, plan: Sequence[Claimed], event_pk: int, location: str, by: str
) -> list[dict[str, Any]]:
    """Count the planned spares against their requests (guarded: a request another writer
    filled meanwhile takes no more), link them, note them in the case's history, and move on
    the cases that have everything. What was fulfilled, as the event's answer says it."""
    now = datetime.now(UTC)
    done: list[dict[str, Any]] = []
    touched: list[int] = []
    for claimed in plan:
        if conn.execute(_FULFIL, {"request": claimed.request_id, "at": now}).rowcount != 1:
            continue
        shown = spares.number(claimed.request_id)
        conn.execute(
            insert(spare_request_units).values(
                request_id=claimed.request_id,
                unit_id=claimed.unit_id,
                event_id=event_pk,
                state="arrived",
            )
        )
        conn.execute(
            insert(case_history).values(
                case_id=claimed.case_id,
                at=now,
                by=by,
                kind="spare",
                event_id=event_pk,
                text=f"spare {claimed.product}/{claimed.serial} arrived at {location} ({shown})",
            )
        )
        touched.append(claimed.case_id)
        done.append({"number": shown, "serial": claimed.serial, "case_id": claimed.case_id})
    if not done:
        return []
    moved = _move_on(conn, touched, now)
    ids = sorted({d["case_id"] for d in done})
    numbers = dict(
        conn.execute(
            select(service_cases.c.id, service_cases.c.number).where(service_cases.c.id.in_(ids))
        ).all()
    )
    states = dict(
        conn.execute(
            select(spare_requests.c.id, spare_requests.c.status).where(
                spare_requests.c.id.in_(sorted({spares.request_id(d["number"]) for d in done}))
            )
        ).all()
    )
    return [
        {
            "number": d["number"],
            "serial": d["serial"],
            "status": states[spares.request_id(d["number"])],
            "case": numbers[d["case_id"]],
            **({"case_state": moved[d["case_id"]]} if d["case_id"] in moved else {}),
        }
        for d in done
    ]


def _move_on(conn: Connection, case_ids: Sequence[int], at: datetime) -> dict[int, str]:
    """Cases waiting for parts whose requests are all fulfilled or cancelled (one fulfilled at
    least) go on to in_repair, by `system`; the cases moved and their new state."""
    wanted = sorted(set(case_ids))
    rows = conn.execute(
        select(
            spare_requests.c.case_id,
            func.sum(case((spare_requests.c.status == "open", 1), else_=0)).label("open"),
            func.sum(case((spare_requests.c.status == "fulfilled", 1), else_=0)).label("done"),
        )
        .join(service_cases, service_cases.c.id == spare_requests.c.case_id)
        .where(
            spare_requests.c.case_id.in_(wanted),
            service_cases.c.state == "waiting_for_parts",
        )
        .group_by(spare_requests.c.case_id)
    ).all()
    moved = {}
    for row in rows:
        if row.open or not row.done:
            continue
        try:
            cases.move(conn, row.case_id, "in_repair", "system", at, "spare parts arrived")
        except InvalidTransition:  # moved by someone meanwhile: their move stands
            continue
        moved[row.case_id] = "in_repair"
    return moved
