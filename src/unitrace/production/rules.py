"""Production rules the ledger's write path applies, each in one place: the bill of materials
at assembly, the route's required steps before finished stock, step results, lot consumption,
and open recalls that block shipping and selling.

Every check works on a whole event (all its units in a few set-based queries), inside the
event's transaction.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, and_, bindparam, exists, func, insert, literal, or_, select

from unitrace.core.errors import FieldError, InvalidTransition, ValidationError, invalid
from unitrace.core.lifecycle import Role, Status
from unitrace.db.fast import Fast, once_per_batch
from unitrace.db.tables import (
    bom_lines,
    event_units,
    events,
    lot_uses,
    lots,
    products,
    recall_units,
    recalls,
    route_steps,
    unit_steps,
    units,
)
from unitrace.ledger.bulk import bulk_insert, chunks

# installing a recalled unit into another would carry it out past the block
BLOCKED_BY_RECALL = frozenset({"ship", "sell", "deliver", "activate", "assemble", "replace_part"})
# events after a campaign started that settle a unit: it may be shipped and sold again. A
# replaced part does not: which part was replaced is not known to be the recalled one.
RESOLVING = {"repair": Role.SUBJECT, "scrap": Role.SUBJECT}


class Unit(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def serial(self) -> str: ...
    @property
    def product(self) -> str: ...
    @property
    def status(self) -> Status: ...
    @property
    def product_id(self) -> int: ...


@dataclass(frozen=True)
class LotUse:
    lot_id: int
    product_id: int
    product: str
    number: str
    quantity: int


# --- recalls ----------------------------------------------------------------------------


_SETTLED = (
    select(event_units.c.unit_id)
    .join(events, events.c.id == event_units.c.event_id)
    .where(
        event_units.c.unit_id == recall_units.c.unit_id,
        events.c.id > recalls.c.after_event_id,
        or_(*[and_(events.c.type == kind, event_units.c.role == int(role))
              for kind, role in RESOLVING.items()]),
    )
)  # fmt: skip
_OPEN_RECALLS = (
    select(recall_units.c.unit_id, recalls.c.code, recalls.c.title)
    .join(recalls, recalls.c.id == recall_units.c.recall_id)
    .where(recalls.c.status == "open",
           recall_units.c.unit_id.in_(bindparam("ids", expanding=True)), ~exists(_SETTLED))
)  # fmt: skip


_ANY_OPEN_RECALL = Fast(select(recalls.c.id).where(recalls.c.status == "open").limit(1))
_OPEN_RECALL_ONE = Fast(
    select(recall_units.c.unit_id, recalls.c.code, recalls.c.title)
    .join(recalls, recalls.c.id == recall_units.c.recall_id)
    .where(recalls.c.status == "open", recall_units.c.unit_id == bindparam("id"),
           ~exists(_SETTLED))
    .limit(1)
)  # fmt: skip


def open_recalls(conn: Connection, unit_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """unit id → (campaign code, title) for units in an open campaign not yet settled (built
    once above: it runs for every ship, sell, deliver, activate and assembly)."""
    found: dict[int, tuple[str, str]] = {}
    if not once_per_batch(conn, "any open recall",
                          lambda: _ANY_OPEN_RECALL.scalar(conn, {}) is not None):  # fmt: skip
        return found
    if len(unit_ids) == 1:  # a scan
        row = _OPEN_RECALL_ONE.run(conn, {"id": unit_ids[0]}).fetchone()
        return {int(row[0]): (row[1], row[2])} if row else {}
    for chunk in chunks(list(unit_ids)):
        for row in conn.execute(_OPEN_RECALLS, {"ids": list(chunk)}):
            found.setdefault(int(row.unit_id), (row.code, row.title))
    return found


def check_recall_block(conn: Connection, event_type: str, subjects: Sequence[Unit]) -> None:
    if event_type not in BLOCKED_BY_RECALL or not subjects:
        return
    blocked = open_recalls(conn, [u.id for u in subjects])
    if not blocked:
        return
    errors = [
        FieldError("serials", f"{u.serial} is under open recall {blocked[u.id][0]} "
                   f"({blocked[u.id][1]})", u.serial)
        for u in subjects if u.id in blocked
    ]  # fmt: skip
    first = next(u for u in subjects if u.id in blocked)
    code, title = blocked[first.id]
    raise InvalidTransition(
        f"cannot {event_type} {first.product}/{first.serial}: it is under open recall {code} "
        f"({title}); repair it (a repair event) or scrap it first",
        errors,
    )


# --- bill of materials ------------------------------------------------------------------


_COMPONENT = products.alias("component")
_BOM = (
    select(products.c.bom_policy, bom_lines.c.component_id, _COMPONENT.c.code,
           bom_lines.c.quantity, bom_lines.c.required)
    .select_from(products)
    .outerjoin(bom_lines, bom_lines.c.product_id == products.c.id)
    .outerjoin(_COMPONENT, _COMPONENT.c.id == bom_lines.c.component_id)
    .where(products.c.id == bindparam("product_id"))
)  # fmt: skip
_PARTS_IN = (
    select(units.c.parent_id, units.c.product_id, func.count())
    .where(units.c.parent_id.in_(bindparam("ids", expanding=True)))
    .group_by(units.c.parent_id, units.c.product_id)
)
_LOTS_USED_IN = (
    select(lot_uses.c.unit_id, lots.c.product_id, func.sum(lot_uses.c.quantity))
    .join(lots, lots.c.id == lot_uses.c.lot_id)
    .where(lot_uses.c.unit_id.in_(bindparam("ids", expanding=True)))
    .group_by(lot_uses.c.unit_id, lots.c.product_id)
)


def _bom(conn: Connection, product_id: int) -> tuple[str, dict[int, tuple[str, int, bool]]]:
    """(policy, component product id → (code, quantity, required)) of a product; one query."""
    rows = conn.execute(_BOM, {"product_id": product_id}).all()
    policy = str(rows[0][0]) if rows else "refuse"
    return policy, {int(r[1]): (r[2], int(r[3]), bool(r[4])) for r in rows if r[1] is not None}


def installed(conn: Connection, parent_ids: Sequence[int]) -> dict[int, Counter[int]]:
    """Per parent: component product id → how many are in it now (serialised parts and the
    quantities of lots it consumed). Two grouped queries per chunk of parents."""
    counts: dict[int, Counter[int]] = defaultdict(Counter)
    for chunk in chunks(list(parent_ids)):
        for query in (_PARTS_IN, _LOTS_USED_IN):
            for parent, product_id, n in conn.execute(query, {"ids": list(chunk)}):
                counts[int(parent)][int(product_id)] += int(n or 0)
    return counts


@dataclass(frozen=True)
class Assembly:
    """What one assembly event puts into (and takes out of) one parent."""

    parent: Unit
    adding: Sequence[Unit]
    removing: Sequence[Unit] = ()
    using: Sequence[LotUse] = ()
    path: str = ""  # prefix of error fields: the event's index in a batch


def check_bom(conn: Connection, assemblies: Sequence[Assembly]) -> list[list[str]]:
    """Components and lots going into each parent against its product's bill of materials.
    Unexpected products or more than the BOM's quantity: refused, or warnings (policy warn).
    One BOM query per parent product and two grouped queries per chunk of parents."""
    boms = {pid: _bom(conn, pid) for pid in {a.parent.product_id for a in assemblies}}
    checked = [a for a in assemblies if boms[a.parent.product_id][1]]
    inside = installed(conn, [a.parent.id for a in checked]) if checked else {}
    warnings: dict[int, list[str]] = {}
    for a in checked:
        policy, bom = boms[a.parent.product_id]
        after = Counter(inside.get(a.parent.id, Counter()))
        for u in a.adding:
            after[u.product_id] += 1
        for u in a.removing:
            after[u.product_id] -= 1
        for use in a.using:
            after[use.product_id] += use.quantity
        serialised = {u.product_id: u.product for u in (*a.adding, *a.removing)}
        codes = serialised | {u.product_id: u.product for u in a.using}
        problems = [
            FieldError(a.path + ("serials" if pid in serialised else "consumed"),
                       f"{codes.get(pid, pid)} is not in the bill of materials of "
                       f"{a.parent.product}", codes.get(pid))
            for pid, n in after.items() if n > 0 and pid not in bom
        ] + [
            FieldError(a.path + "serials", f"{after[pid]} × {code} is more than the {quantity} "
                       f"the bill of materials of {a.parent.product} allows", code)
            for pid, (code, quantity, _required) in bom.items() if after[pid] > quantity
        ]  # fmt: skip
        warnings[id(a)] = _refuse_or_warn(
            policy, f"assembly into {a.parent.serial} breaks its bill of materials", problems
        )
    return [warnings.get(id(a), []) for a in assemblies]


def _refuse_or_warn(policy: str, detail: str, problems: list[FieldError]) -> list[str]:
    if not problems:
        return []
    if policy == "refuse":
        raise ValidationError(f"{detail}: {problems[0].message}", problems)
    return [p.message for p in problems]


# --- completion gate: route steps and required components before finished stock -----------


_EVER_IN_STOCK = (
    select(event_units.c.unit_id)
    .join(events, events.c.id == event_units.c.event_id)
    .where(event_units.c.unit_id.in_(bindparam("ids", expanding=True)),
           events.c.type.in_(["receive", "disassemble"]))
    .distinct()
)  # fmt: skip


# products with something to check when their units first enter stock (one query a scan)
_GATED = Fast(
    select(literal(1)).where(or_(
        exists().where(route_steps.c.product_id == bindparam("product_id"), route_steps.c.required),
        exists().where(bom_lines.c.product_id == bindparam("product_id"), bom_lines.c.required),
    ))
)  # fmt: skip


def _gated(conn: Connection, product_id: int) -> bool:
    def ask() -> bool:
        return _GATED.scalar(conn, {"product_id": product_id}) is not None

    return bool(once_per_batch(conn, ("gated", product_id), ask))


def check_completion(conn: Connection, subjects: Sequence[Unit]) -> list[str]:
    """Units entering stock for the first time (a receive or disassemble, whatever their state
    now: commissioned, recalled, returned from a replaced part): every required step of their
    route passed (the last result counts) and every required BOM component installed. Units
    that were in stock before went through this check then."""
    gated = {p for p in {u.product_id for u in subjects} if _gated(conn, p)}
    subjects = [u for u in subjects if u.product_id in gated]
    been = set()
    for chunk in chunks([u.id for u in subjects]):
        been.update(int(i) for i in conn.execute(_EVER_IN_STOCK, {"ids": list(chunk)}).scalars())
    fresh = [u for u in subjects if u.id not in been]
    if not fresh:
        return []
    warnings: list[str] = []
    by_product: dict[int, list[Unit]] = defaultdict(list)
    for u in fresh:
        by_product[u.product_id].append(u)
    for product_id, group in by_product.items():
        _check_steps(conn, product_id, group)
        warnings += _check_required_components(conn, product_id, group)
    return warnings


def _check_steps(conn: Connection, product_id: int, group: Sequence[Unit]) -> None:
    required = conn.execute(
        select(route_steps.c.code, route_steps.c.name)
        .where(route_steps.c.product_id == product_id, route_steps.c.required)
        .order_by(route_steps.c.position)
    ).all()
    if not required:
        return
    last: dict[tuple[int, str], bool] = {}
    query = (
        select(unit_steps.c.unit_id, unit_steps.c.step, unit_steps.c.passed)
        .where(unit_steps.c.unit_id.in_(bindparam("ids", expanding=True)))
        .order_by(unit_steps.c.id)
    )
    for chunk in chunks([u.id for u in group]):
        for row in conn.execute(query, {"ids": list(chunk)}):
            last[(int(row.unit_id), row.step)] = bool(row.passed)
    errors = []
    for u in group:
        for code, name in required:
            passed = last.get((u.id, code))
            if passed is None:
                errors.append(FieldError("serials", f"{u.serial} skipped required step {code} "
                                         f"({name})", u.serial))  # fmt: skip
            elif not passed:
                message = f"{u.serial} failed required step {code} ({name}), not passed since"
                errors.append(FieldError("serials", message, u.serial))
    if errors:
        raise InvalidTransition(
            f"not ready for finished stock: {errors[0].message}"
            + (f" ({len(errors)} problems in all)" if len(errors) > 1 else ""),
            errors[:1000],
        )


def _check_required_components(
    conn: Connection, product_id: int, group: Sequence[Unit]
) -> list[str]:
    policy, bom = _bom(conn, product_id)
    needed = {pid: (code, quantity) for pid, (code, quantity, req) in bom.items() if req}
    if not needed:
        return []
    problems = []
    inside = installed(conn, [u.id for u in group])
    for u in group:
        have = inside[u.id]
        problems += [
            FieldError("serials", f"{u.serial} misses {quantity - have[pid]} × {code} of its "
                       "bill of materials", u.serial)
            for pid, (code, quantity) in needed.items() if have[pid] < quantity
        ]  # fmt: skip
    return _refuse_or_warn(policy, "incomplete assembly", problems)


# --- lot consumption and step results ---------------------------------------------------


_LOT = (
    select(lots.c.id, products.c.id.label("product_id"), products.c.tracking)
    .join(products, products.c.id == lots.c.product_id)
    .where(products.c.code == bindparam("product"), lots.c.number == bindparam("lot"))
)


def resolve_lot_uses(conn: Connection, consumed: Sequence[Any]) -> list[LotUse]:
    """The lots an assembly consumes (`product`, `lot`, `quantity` each), looked up."""
    uses = []
    for i, item in enumerate(consumed):
        row = conn.execute(_LOT, {"product": item.product, "lot": item.lot}).first()
        if row is None:
            raise invalid(f"consumed.{i}.lot", f"no lot {item.lot} of product {item.product}",
                          item.lot)  # fmt: skip
        if row.tracking != "lot":
            message = f"{item.product} is tracked by {row.tracking}: install its units instead"
            raise invalid(f"consumed.{i}.product", message, item.product)
        uses.append(LotUse(int(row.id), int(row.product_id), item.product, item.lot,
                           item.quantity))  # fmt: skip
    if len({u.lot_id for u in uses}) != len(uses):
        raise invalid("consumed", "names a lot twice; add the quantities up")
    return uses


def record_lot_uses_many(conn: Connection, uses: Iterable[tuple[int, int, LotUse]]) -> None:
    """(event pk, parent unit id, lot use) rows, in one statement batch."""
    bulk_insert(conn, lot_uses, ("event_id", "lot_id", "unit_id", "quantity"),
                ((pk, u.lot_id, parent, u.quantity) for pk, parent, u in uses))  # fmt: skip


def record_steps(
    conn: Connection,
    event_pk: int,
    subjects: Sequence[Unit],
    step: Any,
    ended_at: datetime,
) -> None:
    """One step result per unit; the step must be on the route of each unit's product."""
    product_ids = sorted({u.product_id for u in subjects})
    on_route = {
        int(pid)
        for (pid,) in conn.execute(
            select(route_steps.c.product_id).where(
                route_steps.c.code == step.code, route_steps.c.product_id.in_(product_ids)
            )
        )
    }
    missing = sorted({u.product for u in subjects if u.product_id not in on_route})
    if missing:
        raise invalid("step.code", f"step {step.code} is not on the route of {', '.join(missing)}",
                      step.code)  # fmt: skip
    attempts: Counter[int] = Counter()
    query = (
        select(unit_steps.c.unit_id, func.count())
        .where(unit_steps.c.step == step.code,
               unit_steps.c.unit_id.in_(bindparam("ids", expanding=True)))
        .group_by(unit_steps.c.unit_id)
    )  # fmt: skip
    for chunk in chunks([u.id for u in subjects]):
        for unit_id, n in conn.execute(query, {"ids": list(chunk)}):
            attempts[int(unit_id)] = int(n)
    conn.execute(
        insert(unit_steps),
        [
            {"unit_id": u.id, "event_id": event_pk, "product_id": u.product_id,
             "step": step.code, "attempt": attempts[u.id] + 1, "passed": step.result == "pass",
             "defect_code": step.defect_code, "started_at": step.started_at,
             "ended_at": ended_at}
            for u in subjects
        ],
    )  # fmt: skip
