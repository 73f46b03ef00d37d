"""Production rules, each in one place: the bill of materials at assembly, the route's required
steps before finished stock, step results, lot consumption, and open recalls that block
shipping and selling. `production.steps` plugs them into the ledger's write pipeline.

Every check works on many events at once (all their units in a few set-based queries), inside
the pipeline's transaction, and answers per event instead of raising.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, and_, bindparam, exists, func, insert, literal, or_, select

from unitrace.core.errors import (
    MAX_REPORTED,
    FieldError,
    InvalidTransition,
    UnitraceError,
    ValidationError,
)
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
        or_(
            *[
                and_(events.c.type == kind, event_units.c.role == int(role))
                for kind, role in RESOLVING.items()
            ]
        ),
    )
)
_OPEN_RECALLS = (
    select(recall_units.c.unit_id, recalls.c.code, recalls.c.title)
    .join(recalls, recalls.c.id == recall_units.c.recall_id)
    .where(
        recalls.c.status == "open",
        recall_units.c.unit_id.in_(bindparam("ids", expanding=True)),
        ~exists(_SETTLED),
    )
)


_ANY_OPEN_RECALL = Fast(select(recalls.c.id).where(recalls.c.status == "open").limit(1))
_OPEN_RECALL_ONE = Fast(
    select(recall_units.c.unit_id, recalls.c.code, recalls.c.title)
    .join(recalls, recalls.c.id == recall_units.c.recall_id)
    .where(recalls.c.status == "open", recall_units.c.unit_id == bindparam("id"), ~exists(_SETTLED))
    .limit(1)
)


def open_recalls(conn: Connection, unit_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """unit id → (campaign code, title) for units in an open campaign not yet settled (built
    once above: it runs for every ship, sell, deliver, activate and assembly)."""
    found: dict[int, tuple[str, str]] = {}
    if not once_per_batch(
        conn, "any open recall", lambda: _ANY_OPEN_RECALL.scalar(conn, {}) is not None
    ):
        return found
    if len(unit_ids) == 1:  # a scan
        row = _OPEN_RECALL_ONE.run(conn, {"id": unit_ids[0]}).fetchone()
        return {int(row[0]): (row[1], row[2])} if row else {}
    for chunk in chunks(list(unit_ids)):
        for row in conn.execute(_OPEN_RECALLS, {"ids": list(chunk)}):
            found.setdefault(int(row.unit_id), (row.code, row.title))
    return found


def recall_refusal(
    event_type: str, subjects: Sequence[Unit], blocked: dict[int, tuple[str, str]]
) -> InvalidTransition | None:
    """The refusal of an event on units under open recall (`open_recalls`), or None."""
    hit = [u for u in subjects if u.id in blocked]
    if not hit:
        return None
    errors = [
        FieldError(
            "serials",
            f"{u.serial} is under open recall {blocked[u.id][0]} ({blocked[u.id][1]})",
            u.serial,
        )
        for u in hit[:MAX_REPORTED]
    ]
    first = hit[0]
    code, title = blocked[first.id]
    return InvalidTransition(
        f"cannot {event_type} {first.product}/{first.serial}: it is under open recall {code} "
        f"({title}); repair it (a repair event) or scrap it first",
        errors,
    )


# --- bill of materials ------------------------------------------------------------------


_COMPONENT = products.alias("component")
_BOM = (
    select(
        products.c.bom_policy,
        bom_lines.c.component_id,
        _COMPONENT.c.code,
        bom_lines.c.quantity,
        bom_lines.c.required,
    )
    .select_from(products)
    .outerjoin(bom_lines, bom_lines.c.product_id == products.c.id)
    .outerjoin(_COMPONENT, _COMPONENT.c.id == bom_lines.c.component_id)
    .where(products.c.id == bindparam("product_id"))
)
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


def check_bom(conn: Connection, assemblies: Sequence[Assembly]) -> list[Verdict]:
    """Components and lots going into each parent against its product's bill of materials.
    Unexpected products or more than the BOM's quantity: refused, or warnings (policy warn).
    One BOM query per parent product and two grouped queries per chunk of parents."""
    boms = {pid: _bom(conn, pid) for pid in {a.parent.product_id for a in assemblies}}
    checked = [a for a in assemblies if boms[a.parent.product_id][1]]
    inside = installed(conn, [a.parent.id for a in checked]) if checked else {}
    verdicts: dict[int, Verdict] = {}
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
            FieldError(
                "serials" if pid in serialised else "consumed",
                f"{codes.get(pid, pid)} is not in the bill of materials of {a.parent.product}",
                codes.get(pid),
            )
            for pid, n in after.items()
            if n > 0 and pid not in bom
        ] + [
            FieldError(
                "serials",
                f"{after[pid]} × {code} is more than the {quantity} "
                f"the bill of materials of {a.parent.product} allows",
                code,
            )
            for pid, (code, quantity, _required) in bom.items()
            if after[pid] > quantity
        ]
        verdicts[id(a)] = refuse_or_warn(
            policy, f"assembly into {a.parent.serial} breaks its bill of materials", problems
        )
    return [verdicts.get(id(a), Verdict()) for a in assemblies]


@dataclass(frozen=True)
class Verdict:
    """What a check says of one event: warnings, or the error that refuses it."""

    warnings: Sequence[str] = ()
    error: UnitraceError | None = None


def refuse_or_warn(policy: str, detail: str, problems: list[FieldError]) -> Verdict:
    if not problems:
        return Verdict()
    if policy == "refuse":
        return Verdict(error=ValidationError(f"{detail}: {problems[0].message}", problems))
    return Verdict([p.message for p in problems])


# --- completion gate: route steps and required components before finished stock -----------


_EVER_IN_STOCK = (
    select(event_units.c.unit_id)
    .join(events, events.c.id == event_units.c.event_id)
    .where(
        event_units.c.unit_id.in_(bindparam("ids", expanding=True)),
        events.c.type.in_(["receive", "disassemble"]),
    )
    .distinct()
)


# products with something to check when their units first enter stock (one query a scan)
_GATED = Fast(
    select(literal(1)).where(
        or_(
            exists().where(
                route_steps.c.product_id == bindparam("product_id"), route_steps.c.required
            ),
            exists().where(bom_lines.c.product_id == bindparam("product_id"), bom_lines.c.required),
        )
    )
)


def _gated(conn: Connection, product_id: int) -> bool:
    def ask() -> bool:
        return _GATED.scalar(conn, {"product_id": product_id}) is not None

    return bool(once_per_batch(conn, ("gated", product_id), ask))


def check_completion(conn: Connection, groups: Sequence[Sequence[Unit]]) -> list[Verdict]:
    """Units entering stock for the first time (a receive or disassemble, whatever their state
    now: commissioned, recalled, returned from a replaced part): every required step of their
    route passed (the last result counts) and every required BOM component installed. Units
    that were in stock before went through this check then. One verdict per group (event)."""
    every = [u for group in groups for u in group]
    gated = {p for p in {u.product_id for u in every} if _gated(conn, p)}
    every = [u for u in every if u.product_id in gated]
    been: set[int] = set()
    for chunk in chunks([u.id for u in every]):
        been.update(int(i) for i in conn.execute(_EVER_IN_STOCK, {"ids": list(chunk)}).scalars())
    fresh = [u for u in every if u.id not in been]
    if not fresh:
        return [Verdict() for _ in groups]
    by_product: dict[int, list[Unit]] = defaultdict(list)
    for u in fresh:
        by_product[u.product_id].append(u)
    skipped: dict[int, list[FieldError]] = defaultdict(list)
    missing: dict[int, list[FieldError]] = defaultdict(list)
    policies: dict[int, str] = {}
    for product_id, units_of in by_product.items():
        for found in _step_problems(conn, product_id, units_of):
            skipped[found.unit_id].append(found.error)
        policy, problems = _component_problems(conn, product_id, units_of)
        policies[product_id] = policy
        for unit_id, error in problems:
            missing[unit_id].append(error)
    verdicts = []
    for group in groups:
        errors = [e for u in group for e in skipped.get(u.id, ())]
        if errors:
            detail = f"not ready for finished stock: {errors[0].message}"
            if len(errors) > 1:
                detail += f" ({len(errors)} problems in all)"
            verdicts.append(Verdict(error=InvalidTransition(detail, errors[:MAX_REPORTED])))
            continue
        lacking = [e for u in group for e in missing.get(u.id, ())]
        policy = "refuse"
        if lacking:
            units_lacking = [u for u in group if u.id in missing]
            policy = policies[units_lacking[0].product_id]
        verdicts.append(refuse_or_warn(policy, "incomplete assembly", lacking))
    return verdicts


@dataclass(frozen=True)
class _UnitError:
    unit_id: int
    error: FieldError


def _step_problems(conn: Connection, product_id: int, group: Sequence[Unit]) -> list[_UnitError]:
    required = conn.execute(
        select(route_steps.c.code, route_steps.c.name)
        .where(route_steps.c.product_id == product_id, route_steps.c.required)
        .order_by(route_steps.c.position)
    ).all()
    if not required:
        return []
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
                message = f"{u.serial} skipped required step {code} ({name})"
            elif not passed:
                message = f"{u.serial} failed required step {code} ({name}), not passed since"
            else:
                continue
            errors.append(_UnitError(u.id, FieldError("serials", message, u.serial)))
    return errors


def _component_problems(
    conn: Connection, product_id: int, group: Sequence[Unit]
) -> tuple[str, list[tuple[int, FieldError]]]:
    policy, bom = _bom(conn, product_id)
    needed = {pid: (code, quantity) for pid, (code, quantity, req) in bom.items() if req}
    if not needed:
        return policy, []
    problems = []
    inside = installed(conn, [u.id for u in group])
    for u in group:
        have = inside[u.id]
        for pid, (code, quantity) in needed.items():
            if have[pid] < quantity:
                lacking = quantity - have[pid]
                message = f"{u.serial} misses {lacking} × {code} of its bill of materials"
                problems.append((u.id, FieldError("serials", message, u.serial)))
    return policy, problems


# --- lot consumption and step results ---------------------------------------------------


_LOT = (
    select(lots.c.id, products.c.id.label("product_id"), products.c.tracking)
    .join(products, products.c.id == lots.c.product_id)
    .where(products.c.code == bindparam("product"), lots.c.number == bindparam("lot"))
)


def lot_of(conn: Connection, product: str, number: str) -> tuple[int, int, str] | None:
    """(lot id, product id, tracking) of a product's lot, or None."""
    row = conn.execute(_LOT, {"product": product, "lot": number}).first()
    return None if row is None else (int(row.id), int(row.product_id), str(row.tracking))


def consumed_lots(
    consumed: Sequence[Any], lookup: Callable[[str, str], tuple[int, int, str] | None]
) -> list[LotUse]:
    """The lots an assembly consumes (`product`, `lot`, `quantity` each), looked up; all or
    ValidationError naming every bad line."""
    uses = []
    errors = []
    seen: dict[tuple[str, str], int] = {}
    for i, item in enumerate(consumed):
        found = lookup(item.product, item.lot)
        first = seen.setdefault((item.product, item.lot), i)
        if first != i:
            message = f"names a lot twice; add the quantities up (also consumed.{first})"
            errors.append(FieldError(f"consumed.{i}.lot", message, item.lot))
        elif found is None:
            message = f"no lot {item.lot} of product {item.product}"
            errors.append(FieldError(f"consumed.{i}.lot", message, item.lot))
        elif found[2] != "lot":
            message = f"{item.product} is tracked by {found[2]}: install its units instead"
            errors.append(FieldError(f"consumed.{i}.product", message, item.product))
        else:
            uses.append(LotUse(found[0], found[1], item.product, item.lot, item.quantity))
    if errors:
        raise ValidationError(f"{errors[0].field}: {errors[0].message}", errors)
    return uses


def record_lot_uses_many(conn: Connection, uses: Iterable[tuple[int, int, LotUse]]) -> None:
    """(event pk, parent unit id, lot use) rows, in one statement batch."""
    rows = ((pk, u.lot_id, parent, u.quantity) for pk, parent, u in uses)
    bulk_insert(conn, lot_uses, ("event_id", "lot_id", "unit_id", "quantity"), rows)


def steps_off_route(conn: Connection, wanted: Sequence[tuple[str, int]]) -> set[tuple[str, int]]:
    """Of (step code, product id) pairs, those whose step is not on the product's route."""
    codes = sorted({code for code, _pid in wanted})
    products_of = sorted({pid for _code, pid in wanted})
    on_route = {
        (str(code), int(pid))
        for code, pid in conn.execute(
            select(route_steps.c.code, route_steps.c.product_id).where(
                route_steps.c.code.in_(codes), route_steps.c.product_id.in_(products_of)
            )
        )
    }
    return {pair for pair in wanted if pair not in on_route}


@dataclass(frozen=True)
class StepResult:
    """One event's step result for its units."""

    event_pk: int
    subjects: Sequence[Unit]
    step: Any
    ended_at: datetime


def record_steps(conn: Connection, results: Sequence[StepResult]) -> None:
    """One step result per unit and event, numbered by attempt."""
    attempts: Counter[tuple[int, str]] = Counter()
    query = (
        select(unit_steps.c.unit_id, unit_steps.c.step, func.count())
        .where(
            unit_steps.c.step.in_(bindparam("steps", expanding=True)),
            unit_steps.c.unit_id.in_(bindparam("ids", expanding=True)),
        )
        .group_by(unit_steps.c.unit_id, unit_steps.c.step)
    )
    codes = sorted({r.step.code for r in results})
    for chunk in chunks(sorted({u.id for r in results for u in r.subjects})):
        for unit_id, step, n in conn.execute(query, {"ids": list(chunk), "steps": codes}):
            attempts[(int(unit_id), str(step))] = int(n)
    rows = []
    for r in results:
        for u in r.subjects:
            attempts[(u.id, r.step.code)] += 1
            rows.append(
                {
                    "unit_id": u.id,
                    "event_id": r.event_pk,
                    "product_id": u.product_id,
                    "step": r.step.code,
                    "attempt": attempts[(u.id, r.step.code)],
                    "passed": r.step.result == "pass",
                    "defect_code": r.step.defect_code,
                    "started_at": r.step.started_at,
                    "ended_at": r.ended_at,
                }
            )
    if rows:
        conn.execute(insert(unit_steps), rows)
