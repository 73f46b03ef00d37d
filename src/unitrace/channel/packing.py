"""Cartons and pallets: packing units (aggregation), and events that name a container.

A carton holds units; a pallet holds cartons (and loose units). `pack` puts units into a
carton, or cartons onto a pallet — the container is made on its first pack; `unpack` takes
them out again (everything when nothing is named). Any other event may name containers in
`containers`: it is then about every unit inside them (a pallet's cartons included), so one
scan of a carton receives, moves or ships its 24 units. Units and cartons keep their
container while they travel in it; a unit named on its own by an event that takes it
somewhere else (another location, another holder, sold, installed, scrapped) leaves its
carton, and a carton named on its own leaves its pallet the same way.

Plugged into the ledger's write pipeline by `channel.steps`, inside the event's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, bindparam, insert, or_, select, update

from unitrace.access.principal import Actor
from unitrace.core.checkdigits import has_valid_check
from unitrace.core.errors import (
    Conflict,
    FieldError,
    InvalidTransition,
    NotFound,
    ValidationError,
    invalid,
    not_found,
    twice_in,
    unknown_container,
)
from unitrace.core.lifecycle import Effect, Rule, Status, changes
from unitrace.db.tables import containers, event_containers, products, units
from unitrace.ledger.bulk import bulk_insert, chunks
from unitrace.ledger.schemas import EventIn
from unitrace.ledger.scope import write_holder
from unitrace.ledger.write import UNIT_COLUMNS, UnitRow

KINDS = ("carton", "pallet")
SCANNED, TARGET = 0, 1  # roles in event_containers
# a unit that becomes one of these is out of logistics packaging when named on its own
_GONE = frozenset({Status.SOLD, Status.ACTIVE, Status.INSTALLED, Status.SCRAPPED})


@dataclass(frozen=True)
class Container:
    id: int
    code: str
    kind: str
    parent_id: int | None
    location_id: int | None
    holder_id: int | None


@dataclass
class Plan:
    """What an event does with containers; made before the checks, applied after projecting."""

    named: list[Container] = field(default_factory=list)  # `containers` of the event
    tree: list[int] = field(default_factory=list)  # ids of the named ones and all inside them
    units: list[Any] = field(default_factory=list)  # unit rows the named containers add
    target: Container | None = None  # pack / unpack: the container packed into / out of
    new_kind: str | None = None  # pack into a container not made yet


def normalise(code: str) -> str:
    """A container code as stored: the SSCC without its `(00)` application identifier."""
    code = code.strip()
    if code.startswith("(00)"):
        code = code[4:]
    elif len(code) == 20 and code.isdigit() and code.startswith("00"):
        code = code[2:]
    return code


def code_problem(code: str) -> str | None:
    if not code:
        return "is empty"
    if len(code) > 40:
        return "is longer than 40 characters"
    if not code.isprintable() or " " in code:
        return "has spaces or control characters"
    if len(code) == 18 and code.isdigit() and not has_valid_check("gs1", code):
        return "is not a valid SSCC: the check digit is wrong"
    return None


def unknown(named: list[tuple[str, str]]) -> NotFound:
    """Containers not found — or outside a partner's scope: the same words for both."""
    errors = [FieldError(path, unknown_container(code), code) for path, code in named]
    return not_found(unknown_container(named[0][1]), errors)


_COLUMNS = (
    containers.c.id,
    containers.c.code,
    containers.c.kind,
    containers.c.parent_id,
    containers.c.location_id,
    containers.c.holder_id,
)
_BY_CODE = select(*_COLUMNS).where(containers.c.code.in_(bindparam("codes", expanding=True)))
_BY_CODE_HELD = _BY_CODE.where(containers.c.holder_id == bindparam("holder"))
_BY_PARENT = select(*_COLUMNS).where(containers.c.parent_id == bindparam("parent"))


def _tree_query() -> Any:
    tree = (
        select(containers.c.id.label("id"), containers.c.id.label("root"))
        .where(containers.c.id.in_(bindparam("ids", expanding=True)))
        .cte("tree", recursive=True)
    )
    return tree.union_all(
        select(containers.c.id, tree.c.root).join(tree, containers.c.parent_id == tree.c.id)
    )


_TREE = _tree_query()
_TREE_IDS = select(_TREE.c.id, _TREE.c.root)
_CONTENT = (
    select(*UNIT_COLUMNS, _TREE.c.root, units.c.holder_id)
    .join(products, products.c.id == units.c.product_id)
    .join(_TREE, units.c.container_id == _TREE.c.id)
    .order_by(units.c.id)
)
_DIRECT = (
    select(*UNIT_COLUMNS)
    .join(products, products.c.id == units.c.product_id)
    .where(units.c.container_id == bindparam("container"))
    .order_by(units.c.id)
)
_CONTAINER_OF = (
    select(
        units.c.id, units.c.container_id, containers.c.code, units.c.location_id, units.c.holder_id
    )
    .outerjoin(containers, containers.c.id == units.c.container_id)
    .where(units.c.id.in_(bindparam("ids", expanding=True)))
)


def find(conn: Connection, codes: Sequence[str], holder: int | None = None) -> dict[str, Container]:
    """Containers by code; with `holder` (a partner's party) only those that party holds —
    another party's carton is not found, like a code that does not exist."""
    found: dict[str, Container] = {}
    for chunk in chunks(list(codes)):
        if holder is None:
            rows = conn.execute(_BY_CODE, {"codes": list(chunk)})
        else:
            rows = conn.execute(_BY_CODE_HELD, {"codes": list(chunk), "holder": holder})
        for row in rows:
            found[row.code] = Container(*row)
    return found


def prepare(conn: Connection, actor: Actor, event: EventIn, direct: Sequence[UnitRow]) -> Plan:
    """Resolve the event's containers and the units they add; all or NotFound/422.

    A partner names only cartons and pallets its party holds, with nothing inside that another
    party holds; any other is answered as an unknown code before anything is said of it."""
    plan = Plan()
    holder = write_holder(actor)
    codes = [normalise(c) for c in event.containers]
    for i, code in enumerate(codes):
        problem = code_problem(code)
        if problem:
            raise invalid(f"containers.{i}", problem, code)
    twice = twice_in((f"containers.{i}", code, code) for i, code in enumerate(codes))
    if twice:
        raise ValidationError(f"{twice[0].field}: {twice[0].message}", twice)
    if event.type in ("pack", "unpack"):
        _target(conn, holder, event, plan)
    if codes:
        found = find(conn, codes, holder)
        missing = [(f"containers.{i}", c) for i, c in enumerate(codes) if c not in found]
        if missing:
            raise unknown(missing)
        plan.named = [found[c] for c in codes]
        _fill(conn, holder, event, plan, codes)
    if event.type in ("pack", "unpack"):
        _check_pack(conn, event, plan, direct)
    return plan


_FOREIGN = (
    select(_TREE.c.id)
    .join(units, units.c.container_id == _TREE.c.id)
    .where(or_(units.c.holder_id.is_(None), units.c.holder_id != bindparam("holder")))
    .limit(1)
)


def _target(conn: Connection, holder: int | None, event: EventIn, plan: Plan) -> None:
    code = normalise(event.container or "")
    problem = code_problem(code)
    if problem:
        raise invalid("container", problem, code)
    target = find(conn, [code], holder).get(code)
    # a partner's own carton with another party's units inside is not its to name either
    if (
        target is not None
        and holder is not None
        and conn.execute(_FOREIGN, {"ids": [target.id], "holder": holder}).first()
    ):
        raise unknown([("container", code)])
    if target is None:
        if event.type == "unpack":
            raise unknown([("container", code)])
        plan.new_kind = event.container_kind or "carton"
        plan.target = Container(0, code, plan.new_kind, None, None, None)
        return
    if event.container_kind and event.container_kind != target.kind:
        raise invalid("container_kind", f"{code} is a {target.kind}", event.container_kind)
    plan.target = target


def content_ids(conn: Connection, container_id: int) -> list[int]:
    """Every unit in a container, on all levels (a pallet's cartons' units too)."""
    return [int(r.id) for r in conn.execute(_CONTENT, {"ids": [container_id]})]


def _fill(
    conn: Connection, holder: int | None, event: EventIn, plan: Plan, codes: list[str]
) -> None:
    ids = [c.id for c in plan.named]
    position = {c.id: i for i, c in enumerate(plan.named)}
    tree = conn.execute(_TREE_IDS, {"ids": ids}).all()
    for row in tree:
        if row.id != row.root and row.id in position:
            i, outer = position[row.id], plan.named[position[row.root]]
            raise invalid(
                f"containers.{i}", f"is on {outer.kind} {outer.code}, also named", codes[i]
            )
    plan.tree = sorted({int(r.id) for r in tree})
    if event.type == "unpack":
        return  # the named cartons come off the target whole; their units stay in them
    content = conn.execute(_CONTENT, {"ids": ids}).all()
    foreign = {r.root for r in content if r.holder_id != holder} if holder is not None else set()
    roots_with_units = {r.root for r in content}
    for i, c in enumerate(plan.named):
        if c.id in foreign:  # a partner's carton holding another party's units
            raise unknown([(f"containers.{i}", codes[i])])
        if c.id not in roots_with_units and event.type != "pack":
            raise invalid(
                f"containers.{i}", f"{c.kind} {c.code} is empty: nothing to {event.type}", codes[i]
            )
    plan.units = list(content)


def _check_pack(conn: Connection, event: EventIn, plan: Plan, direct: Sequence[UnitRow]) -> None:
    target = plan.target
    assert target is not None
    ids = [u.id for u in direct]
    where = conn.execute(_CONTAINER_OF, {"ids": ids}).all() if ids else []
    serial = {u.id: u.serial for u in direct}
    if event.type == "unpack":
        wrong = [
            FieldError(
                "serials", f"{serial[r.id]} is not in {target.kind} {target.code}", serial[r.id]
            )
            for r in where
            if r.container_id != target.id
        ]
        wrong += [
            FieldError(f"containers.{i}", f"is not on {target.kind} {target.code}", c.code)
            for i, c in enumerate(plan.named)
            if c.parent_id != target.id
        ]
        if wrong:
            raise InvalidTransition(f"not in {target.code}", wrong)
        if not ids and not plan.named:
            plan.units = list(conn.execute(_DIRECT, {"container": target.id}).all())
            plan.named = [Container(*r) for r in conn.execute(_BY_PARENT, {"parent": target.id})]
            if not plan.units and not plan.named:
                raise invalid("container", f"{target.kind} {target.code} is empty", target.code)
        return
    # pack
    if target.kind == "carton" and plan.named:
        raise invalid("containers", "a carton holds units; put cartons on a pallet")
    for i, c in enumerate(plan.named):
        if c.kind == "pallet":
            raise invalid(f"containers.{i}", "a pallet cannot go on a pallet", c.code)
        if c.id == target.id:
            raise invalid(f"containers.{i}", "is the container packed into", c.code)
        if c.parent_id is not None:
            raise InvalidTransition(
                f"{c.code} is already on a pallet: unpack it first",
                [FieldError(f"containers.{i}", "already on a pallet", c.code)],
            )
    inside = [r for r in where if r.container_id is not None]
    if inside:
        raise InvalidTransition(
            f"{serial[inside[0].id]} is already in {inside[0].code}: unpack it first",
            [FieldError("serials", f"already in {r.code}", serial[r.id]) for r in inside],
        )
    places = {(r.location_id, r.holder_id) for r in where}
    places |= {(c.location_id, c.holder_id) for c in plan.named}
    if target.id and _has_content(conn, target.id):
        places.add((target.location_id, target.holder_id))
    if len(places) > 1:
        raise InvalidTransition(
            "the units are in different places: a carton or pallet is packed in one place",
            [FieldError("serials", "in different locations or with different holders")],
        )
    location, holder = places.pop() if places else (None, None)
    plan.target = Container(target.id, target.code, target.kind, None, location, holder)


_ANY_CONTENT = select(units.c.id).where(units.c.container_id == bindparam("c")).limit(1)
_ANY_CHILD = select(containers.c.id).where(containers.c.parent_id == bindparam("c")).limit(1)


def _has_content(conn: Connection, container_id: int) -> bool:
    return (
        conn.execute(_ANY_CONTENT, {"c": container_id}).first() is not None
        or conn.execute(_ANY_CHILD, {"c": container_id}).first() is not None
    )


def takes_out(rule: Rule) -> bool:
    """Whether a unit or carton named on its own leaves its container in this event."""
    if rule.event_type in ("pack", "unpack"):
        return False
    moved = any(e is not Effect.KEEP for e in (rule.location, rule.holder, rule.parent))
    return moved or rule.to in _GONE


def apply(
    conn: Connection,
    rule: Rule,
    plan: Plan,
    event_pk: int,
    refs: dict[str, int | None],
    direct_ids: list[int],
) -> None:
    """Write what the event does to containers (after the units' projection)."""
    links: list[tuple[int, int]] = [(c.id, SCANNED) for c in plan.named]
    if rule.event_type == "pack":
        _apply_pack(conn, plan, event_pk, direct_ids)
    elif rule.event_type == "unpack":
        target = plan.target
        assert target is not None
        unit_ids = direct_ids or [int(u.id) for u in plan.units]
        _changed(
            conn,
            update(units)
            .where(
                units.c.id.in_(bindparam("ids", expanding=True)), units.c.container_id == target.id
            )
            .values(container_id=None),
            unit_ids,
        )
        _changed(
            conn,
            update(containers)
            .where(
                containers.c.id.in_(bindparam("ids", expanding=True)),
                containers.c.parent_id == target.id,
            )
            .values(parent_id=None, last_event_id=event_pk),
            [c.id for c in plan.named],
        )
        _touch(conn, [target.id], {"last_event_id": event_pk})
    else:
        if takes_out(rule) and direct_ids:
            for chunk in chunks(direct_ids):
                conn.execute(
                    update(units)
                    .where(units.c.id.in_(chunk), units.c.container_id.is_not(None))
                    .values(container_id=None)
                )
        if plan.named:
            moved = changes(rule, refs["location_id"], refs["party_id"], None)
            values: dict[str, Any] = {"last_event_id": event_pk}
            values.update((c, v) for c, v in moved.items() if c in ("location_id", "holder_id"))
            _touch(conn, plan.tree, values)
            if takes_out(rule):
                _touch(
                    conn, [c.id for c in plan.named if c.parent_id is not None], {"parent_id": None}
                )
    if plan.target is not None:
        links.append((plan.target.id, TARGET))
    bulk_insert(conn, event_containers, ("container_id", "role"), links, {"event_id": event_pk})


def _apply_pack(conn: Connection, plan: Plan, event_pk: int, direct_ids: list[int]) -> None:
    target = plan.target
    assert target is not None
    values = {
        "location_id": target.location_id,
        "holder_id": target.holder_id,
        "last_event_id": event_pk,
    }
    if plan.new_kind is not None:
        new_id = conn.execute(
            insert(containers).returning(containers.c.id),
            {
                "code": target.code,
                "kind": plan.new_kind,
                "parent_id": None,
                "created_event_id": event_pk,
                **values,
            },
        ).scalar_one()
        target = plan.target = Container(
            int(new_id), target.code, target.kind, None, target.location_id, target.holder_id
        )
    else:
        _touch(conn, [target.id], values)
    _changed(
        conn,
        update(units)
        .where(units.c.id.in_(bindparam("ids", expanding=True)), units.c.container_id.is_(None))
        .values(container_id=target.id),
        direct_ids,
    )
    _changed(
        conn,
        update(containers)
        .where(
            containers.c.id.in_(bindparam("ids", expanding=True)), containers.c.parent_id.is_(None)
        )
        .values(parent_id=target.id, last_event_id=event_pk),
        [c.id for c in plan.named],
    )


def _touch(conn: Connection, ids: list[int], values: dict[str, Any]) -> None:
    for chunk in chunks(ids):
        conn.execute(update(containers).where(containers.c.id.in_(chunk)).values(values))


def _changed(conn: Connection, statement: Any, ids: list[int]) -> None:
    """Run a guarded update; fewer rows than ids means a concurrent change: Conflict."""
    changed = sum(conn.execute(statement, {"ids": list(c)}).rowcount for c in chunks(ids))
    if changed != len(ids):
        raise Conflict(
            "cartons or units changed while this was being recorded; nothing was written, try again"
        )


# --- reading ---------------------------------------------------------------------------------


def content_summary(conn: Connection, container_id: int) -> dict[str, Any]:
    """Units directly in a container and the cartons on it (for pages and the API)."""
    direct = conn.execute(_DIRECT, {"container": container_id}).all()
    children = conn.execute(_BY_PARENT, {"parent": container_id}).all()
    return {
        "units": [
            {"serial": r.serial, "product": r.code, "status": Status(r.status).label}
            for r in direct
        ],
        "containers": [{"code": c.code, "kind": c.kind} for c in children],
    }
