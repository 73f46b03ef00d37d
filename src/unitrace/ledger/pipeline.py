"""The write pipeline: every event of the ledger is written here, one scan or a million units.

Every edge — the API, the pages, the CLI, importers, EPCIS capture, rules — hands its events to
`record` (through `service.record_events`, the group writer, or `record_in` inside a use case's
own transaction). The pipeline has two phases for a whole batch:

- **check**: reads only. Permissions, the fields each event type takes, replays by `event_id`,
  the units, parent and removed parts each event names (one set-based lookup for the batch),
  the lifecycle rule, the cycle check, partner scope — then every registered step's checks
  (bill of materials, open recalls, route gates, cartons …). A check refuses one event or adds a
  warning to it; nothing is written.
- **apply**: set-based writes for every event that passed: the event rows, the projection, the
  unit links, then every registered step's writes (lot uses, step results, cartons, alerts).

The events of a batch are checked against the database as it is before them, so a batch is cut
into *waves*: runs of events that name no unit, carton or event id another event of the run
names. A wave is checked whole and then written whole; the next wave sees what the one before it
wrote. An event refused in the middle of a wave ends it there (it and the events after it are
checked again in the next wave, after the events before it are written): a refusal is final only
when every event before it is written, so the answers are those of writing the events one by one,
in order — and since every check runs before any write of its wave, a refusal never undoes
another event's work (the group writer's promise).

Capabilities add their rules as `Step`s, found through the `unitrace.steps` entry points (see
`pyproject.toml`): the ledger imports none of them, and their tables stay theirs.

`atomic` batches (a request, an import) are all or nothing: the first final refusal is raised,
naming the event's index. Other batches (the group writer's: many requests) answer each event
for itself.
"""

from __future__ import annotations

import contextlib
import functools
import gc
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import entry_points
from typing import Any, ClassVar

from sqlalchemy import Connection, bindparam, func, select, text, update

from unitrace.access import audit
from unitrace.access.principal import Actor
from unitrace.core.errors import (
    MAX_REPORTED,
    Conflict,
    FieldError,
    InvalidTransition,
    UnitraceError,
    ValidationError,
    report,
    twice_in,
)
from unitrace.core.lifecycle import (
    REMOVED_CHANGES,
    REMOVED_FROM,
    Role,
    Rule,
    Status,
    before_commission,
    changes,
    field_problems,
    parent_problem,
    refusal,
    rule_for,
    state_text,
)
from unitrace.db.fast import Fast
from unitrace.db.tables import UTCDateTime, event_units, events, units
from unitrace.ledger import limits
from unitrace.ledger.bulk import bulk_insert, chunks
from unitrace.ledger.schemas import EventIn
from unitrace.ledger.scope import (
    event_id_prefix,
    named_location,
    named_party,
    own_event_id,
    write_holder,
)
from unitrace.ledger.write import (
    Recorded,
    Ref,
    UnitRow,
    ancestors_of,
    audit_summary,
    commission_check,
    commission_times,
    commission_write,
    event_hash,
    event_row,
    find_replays,
    holders,
    insert_events,
    lookup_units,
    same_event,
)

_TIME = UTCDateTime()
SUMMARY_AFTER = 50  # an atomic batch of more events gets one audit record naming them all


# --- the events on their way -------------------------------------------------------------


@dataclass(eq=False, slots=True)
class Item:
    """One event on its way through the pipeline, and what the checks found for it."""

    index: int
    actor: Actor
    event: EventIn
    digest: str
    rule: Rule
    generated: bool = False  # commission: serials made by the product's rule, checked there
    event_id: str | None = None  # as the ledger keeps it (a partner's ids are namespaced)
    event_time: datetime | None = None
    location_id: int | None = None
    party_id: int | None = None
    direct: list[UnitRow] = field(default_factory=list)  # named by serial
    subjects: list[UnitRow] = field(default_factory=list)  # direct + inside named cartons
    parent: UnitRow | None = None
    removed: list[UnitRow] = field(default_factory=list)
    keys: set[Hashable] = field(default_factory=set)  # what no other event of a wave may name
    warnings: list[str] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)  # what steps keep for their apply
    answer: dict[str, Any] = field(default_factory=dict)  # what steps add to the answer
    error: UnitraceError | None = None
    invalid: UnitraceError | None = None  # what is wrong with it, said unless it is a replay
    refs: list[Ref] = field(default_factory=list)  # the units it names as its subjects
    pk: int = 0

    @property
    def type(self) -> str:
        return self.rule.event_type

    @property
    def unit_count(self) -> int:
        return len(self.subjects) + len(self.removed)


class Step:
    """A capability's part of the pipeline for the event types in `types` (None: all).

    `names` (no reads) and `expand` (reads) add what the event is about beyond the units it
    names — the units inside the cartons it names; `check` reads and refuses or warns;
    `apply` writes, set-based, for the events that passed. Steps run in `order`; the ledger's
    own checks (parent, removed parts, lifecycle rule) run at `CORE_ORDER`."""

    name: ClassVar[str] = "step"
    order: ClassVar[int] = 100
    types: ClassVar[frozenset[str] | None] = None

    def wants(self, item: Item) -> bool:
        return self.types is None or item.type in self.types

    def names(self, event: EventIn) -> Iterable[Hashable]:
        return ()

    def expand(self, batch: Batch, items: list[Item]) -> None:
        return None

    def check(self, batch: Batch, items: list[Item]) -> None:
        return None

    def apply(self, batch: Batch, items: list[Item]) -> None:
        return None


CORE_ORDER = 50

_registered: list[Step] | None = None
_sources: set[str] = set()  # the entry points the steps came from


def steps() -> list[Step]:
    """The steps the installed capabilities register (entry point group `unitrace.steps`:
    each names a sequence of `Step`s), in their order."""
    global _registered
    if _registered is None:
        found: list[Step] = []
        # by value: two copies of one distribution on the path must not run a step twice
        points = {point.value: point for point in entry_points(group="unitrace.steps")}
        for _value, point in sorted(points.items()):
            found.extend(point.load())
            _sources.add(point.name)
        _registered = sorted(found, key=lambda s: s.order)
    return _registered


def require(*capabilities: str) -> None:
    """Refuse to start without the steps of these capabilities: a checkout run without being
    installed has no entry points, and would write events without their rules."""
    steps()
    missing = sorted(set(capabilities) - _sources)
    if missing:
        raise RuntimeError(
            f"the write pipeline has no steps of {', '.join(missing)}: install unitrace "
            "(pip install -e .) so that its entry points (unitrace.steps) are registered"
        )


@contextlib.contextmanager
def using(extra: Sequence[Step]) -> Iterator[None]:
    """Run with more steps (tests, a rule switched on for a while)."""
    global _registered
    before = steps()
    _registered = sorted([*before, *extra], key=lambda s: s.order)
    try:
        yield
    finally:
        _registered = before


class Batch:
    """The connection and the shared lookups of one pipeline run."""

    def __init__(self, conn: Connection, atomic: bool) -> None:
        self.conn = conn
        self.atomic = atomic
        self._cache: dict[Hashable, Any] = {}

    def refuse(self, item: Item, error: UnitraceError) -> None:
        """The first refusal of an event is its answer."""
        if item.error is None:
            item.error = error

    def each(self, items: Iterable[Item], check: Callable[[Item], None]) -> None:
        """Run a check that raises, one event at a time: its error refuses that event only."""
        for item in items:
            if item.error is None:
                try:
                    check(item)
                except UnitraceError as error:
                    self.refuse(item, error)

    def cached(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]


# --- the pipeline ------------------------------------------------------------------------


@dataclass
class Job:
    """One event handed to the pipeline."""

    actor: Actor
    event: EventIn
    digest: str | None = None
    generated: bool = False


Outcome = Recorded | UnitraceError


def record(conn: Connection, jobs: Sequence[Job], atomic: bool = True) -> list[Outcome]:
    """Write `jobs` on an open write transaction; one answer per job, in order. `atomic`:
    raise the first refusal (nothing may be written, the caller rolls back)."""
    if len(jobs) < LARGE or not gc.isenabled():
        return _record(conn, jobs, atomic)
    # A large batch makes millions of small objects that all live until its end: the cycle
    # collector would walk them again and again (a third of an import's time); it runs after.
    gc.disable()
    try:
        return _record(conn, jobs, atomic)
    finally:
        gc.enable()


LARGE = 1_000  # events in a batch from which the cycle collector waits until its end


def _record(conn: Connection, jobs: Sequence[Job], atomic: bool) -> list[Outcome]:
    batch = Batch(conn, atomic)
    items: list[Item] = []
    outcomes: list[Outcome | None] = [None] * len(jobs)
    for i, job in enumerate(jobs):
        item = _prepare(i, job)
        if item.error is not None:
            _final(batch, item, outcomes, len(jobs))
        else:
            items.append(item)
    registered = steps()
    pending = items
    while pending:
        wave, pending = _wave(batch, pending, registered)
        for item in wave:
            if item.error is not None:
                _final(batch, item, outcomes, len(jobs))
        written = [item for item in wave if item.error is None]
        for item, outcome in zip(written, _apply(batch, written, registered), strict=True):
            outcomes[item.index] = outcome
    _audit(batch, items, outcomes)
    return [o for o in outcomes if o is not None]


def record_in(
    conn: Connection,
    actor: Actor,
    event: EventIn,
    digest: str | None = None,
    generated: bool = False,
) -> Recorded:
    """Write one event on the caller's open write transaction, or raise its refusal."""
    outcome = record(conn, [Job(actor, event, digest, generated)])[0]
    assert isinstance(outcome, Recorded)
    return outcome


def _final(batch: Batch, item: Item, outcomes: list[Outcome | None], size: int) -> None:
    assert item.error is not None
    if batch.atomic:
        raise _numbered(item.error, item.index, size)
    outcomes[item.index] = item.error


def _numbered(error: UnitraceError, index: int, size: int) -> UnitraceError:
    """Errors of a list name the event's index (`3.serials.0`)."""
    if size > 1:
        error.detail = f"event {index}: {error.detail}"
        for one in error.errors:
            one.field = f"{index}.{one.field}"
    return error


def _prepare(index: int, job: Job) -> Item:
    """What needs no database: permission, the fields the event type takes, units named twice."""
    event = job.event
    rule = rule_for(event.type)
    item = Item(index, job.actor, event, job.digest or event_hash(event), rule, job.generated)
    try:
        job.actor.require(f"event:{event.type}")
    except UnitraceError as error:
        item.error = error
        return item
    given = tuple(name for name in _OPTIONAL if getattr(event, name))
    errors = [FieldError(name, message) for name, message in _field_problems(event.type, given)]
    twice: list[FieldError] = []
    if event.type != "commission":
        refs = item.refs = _refs(event)
        twice = twice_in((path, (product, serial), serial) for path, product, serial in refs)
    if errors:  # every problem of the event at once: its fields, then units named twice
        first = errors[0]
        item.invalid = report(f"{first.field}: {first.message}", errors + twice)
    elif twice:
        item.invalid = report("the event names a unit more than once", twice)
    return item


_OPTIONAL = (
    "product",
    "units",
    "location",
    "party",
    "parent",
    "removed",
    "consumed",
    "step",
    "container",
    "container_kind",
    "containers",
    "attributes",
    "lot",
)


_field_problems = functools.lru_cache(maxsize=1024)(field_problems)  # few shapes of event


def _refs(event: EventIn) -> list[Ref]:
    """(field, product or None, serial) of every unit an event names as its subject."""
    refs = [(f"serials.{i}", event.product, s) for i, s in enumerate(event.serials)]
    refs += [
        (f"units.{i}.serial", u.product or event.product, u.serial)
        for i, u in enumerate(event.units)
    ]
    return refs


def _names(item: Item, registered: Sequence[Step]) -> set[Hashable]:
    """What an event names before anything is looked up: serials, codes, its id."""
    event = item.event
    found: set[Hashable] = {("serial", s) for s in event.serials}
    found.update(("serial", u.serial) for u in event.units)
    found.update(("serial", u.serial) for u in event.removed)
    if event.parent is not None:
        found.add(("serial", event.parent.serial))
    if event.event_id is not None:
        found.add(("event", item.actor.party_id, event.event_id))
    for step in registered:
        if step.wants(item):
            found.update(step.names(event))
    return found


def _wave(
    batch: Batch, pending: list[Item], registered: Sequence[Step]
) -> tuple[list[Item], list[Item]]:
    """Check the next wave of `pending`; returns it (each event refused or ready to write)
    and the events left for the waves after it."""
    # 1. the longest run naming nothing twice (before any read; one event alone needs none)
    names: set[Hashable] = set()
    end = 1
    if len(pending) > 1:
        end = 0
        for item in pending:
            own = _names(item, registered)
            if end and own & names:
                break
            names |= own
            end += 1
    wave, rest = pending[:end], pending[end:]
    # 2. replays, places, units, cartons; then the run that touches no unit twice
    _replays(batch, wave)
    for item in wave:
        if item.invalid is not None and "replay" not in item.state:
            batch.refuse(item, item.invalid)
    _places(batch, wave)
    _resolve(batch, wave)
    for step in registered:
        wanted = [i for i in wave if i.error is None and step.wants(i)]
        if wanted:
            step.expand(batch, wanted)
    wave, later = _independent(wave)
    rest = later + rest
    # 3. the checks, in order: the registered ones around the ledger's own
    live = [i for i in wave if i.error is None]
    core_done = False
    for step in registered:
        if step.order >= CORE_ORDER and not core_done:
            _check_core(batch, [i for i in live if i.error is None])
            core_done = True
        wanted = [i for i in live if i.error is None and step.wants(i)]
        if wanted:
            step.check(batch, wanted)
    if not core_done:
        _check_core(batch, [i for i in live if i.error is None])
    # 4. a refusal is final only when nothing before it waits to be written
    for position, item in enumerate(wave):
        if item.error is not None and position > 0:
            later = wave[position:]
            for again in later:
                _reset(again)
            return wave[:position], later + rest
    return wave, rest


def _reset(item: Item) -> None:
    """Forget what the checks found: the event is checked again in the next wave."""
    item.event_id = item.event_time = None
    item.location_id = item.party_id = item.parent = None
    item.direct, item.subjects, item.removed = [], [], []
    item.keys, item.warnings, item.state, item.answer = set(), [], {}, {}
    item.error = None


def _independent(wave: list[Item]) -> tuple[list[Item], list[Item]]:
    """The longest run of `wave` in which no unit or carton belongs to two events."""
    if len(wave) == 1:
        return wave, []
    taken: set[Hashable] = set()
    for position, item in enumerate(wave):
        if item.error is not None:
            continue
        own = set(item.keys)
        own.update(("unit", u.id) for u in item.subjects)
        own.update(("unit", u.id) for u in item.removed)
        if item.parent is not None:
            own.add(("unit", item.parent.id))
        if position and own & taken:
            later = wave[position:]
            for again in later:
                _reset(again)
            return wave[:position], later
        taken |= own
    return wave, []


# --- the ledger's own checks ---------------------------------------------------------------


def _replays(batch: Batch, wave: list[Item]) -> None:
    """An event id seen before answers the earlier recording (or a conflict)."""
    for item in wave:
        given = item.event.event_id
        if given is not None and item.actor.is_partner:  # a partner's ids are its own
            key = ("prefix", item.actor.party_id)
            prefix = batch.cached(key, functools.partial(event_id_prefix, batch.conn, item.actor))
            try:
                item.event_id = own_event_id(prefix, given)
            except UnitraceError as error:
                batch.refuse(item, error)
        else:
            item.event_id = given
    named = [i for i in wave if i.error is None and i.event_id is not None]
    if not named:
        return
    found = find_replays(batch.conn, [i.event_id for i in named if i.event_id is not None])
    for item in named:
        assert item.event_id is not None
        previous = found.get(item.event_id)
        if previous is None:
            continue
        if not same_event(previous.digest, item.event, item.digest):
            batch.refuse(
                item,
                Conflict(
                    f"event_id {item.event_id!r} was used for a different event",
                    [FieldError("event_id", "already used with other content", item.event_id)],
                ),
            )
        else:
            item.state["replay"] = previous.recorded


def _places(batch: Batch, wave: list[Item]) -> None:
    for item in wave:
        if item.error is not None or "replay" in item.state:
            continue
        event = item.event
        item.event_time = event.event_time or datetime.now().astimezone()
        try:
            if event.location:
                item.location_id = batch.cached(
                    ("location", item.actor.is_partner, event.location),
                    functools.partial(named_location, batch.conn, item.actor, event.location),
                )
            if event.party:
                item.party_id = batch.cached(
                    ("party", item.actor.party_id, event.party),
                    functools.partial(named_party, batch.conn, item.actor, event.party),
                )
        except UnitraceError as error:  # not kept: the cache keeps only what was found
            batch.refuse(item, error)


def _resolve(batch: Batch, wave: list[Item]) -> None:
    """The units, parents and removed parts of the whole wave: one lookup per holder and
    product (a partner's only among what its party holds, `scope.write_holder`)."""
    wanted: dict[int | None, list[Ref]] = defaultdict(list)
    plan: list[tuple[Item, list[Ref], Ref | None, list[Ref]]] = []
    for item in wave:
        if item.error is not None or "replay" in item.state or item.type == "commission":
            continue
        event = item.event
        holder = write_holder(item.actor)
        own = item.refs
        parent = None
        if event.parent is not None:
            parent = ("parent.serial", event.parent.product or event.product, event.parent.serial)
        removed = [
            (f"removed.{i}.serial", r.product or event.product, r.serial)
            for i, r in enumerate(event.removed)
        ]
        wanted[holder] += own + removed + ([parent] if parent else [])
        plan.append((item, own, parent, removed))
    found = {holder: lookup_units(batch.conn, refs, holder) for holder, refs in wanted.items()}
    for item, own, parent, removed in plan:
        lookup = found[write_holder(item.actor)]
        try:
            item.direct = lookup.take(own)
            item.parent = lookup.take([parent])[0] if parent else None
            twice = twice_in(
                (path, ("removed", product, serial), serial) for path, product, serial in removed
            )
            if twice:
                raise ValidationError(f"{twice[0].field}: named twice", twice)
            item.removed = lookup.take(removed)
        except UnitraceError as error:
            batch.refuse(item, error)
            continue
        item.subjects = list(item.direct)
        paired = zip(own, item.direct, strict=True)
        twice = twice_in((path, u.id, u.serial) for (path, _product, _serial), u in paired)
        if twice:
            batch.refuse(item, report("the event names a unit more than once", twice))


def _check_core(batch: Batch, items: list[Item]) -> None:
    """Partner limits, parents, removed parts, cycles and the lifecycle rule."""
    for item in items:
        if item.actor.is_partner and item.type != "commission" and "replay" not in item.state:
            try:
                limits.check_units(item.actor, len(item.subjects), limits.named_field(item.event))
            except UnitraceError as error:
                batch.refuse(item, error)
    live = [i for i in items if i.error is None and "replay" not in i.state]
    batch.each([i for i in live if i.type == "commission"], lambda i: _commission_check(batch, i))
    live = [i for i in live if i.type != "commission"]
    batch.each([i for i in live if i.parent is not None], _check_parent)
    _check_cycles(
        batch,
        [i for i in live if i.error is None and i.parent is not None and i.type != "disassemble"],
    )
    _check_transitions(batch, [i for i in live if i.error is None])
    _check_times(batch, [i for i in live if i.error is None])


_LATEST_COMMISSION = Fast(
    select(func.max(events.c.event_time)).where(events.c.type == "commission")
)


def _check_times(batch: Batch, items: list[Item]) -> None:
    """No event before the commission of a unit it is about (subjects, parent, removed parts).
    One indexed look-up of the latest commission of all answers for the usual scan, which
    happens after it; only events dated before that look up their own units' commissions."""
    if not items:
        return
    raw = _LATEST_COMMISSION.run(batch.conn, {}).fetchone()[0]
    latest = _TIME.process_result_value(raw, batch.conn.dialect)
    if latest is None:
        return
    early = [i for i in items if i.event_time is not None and i.event_time < latest]
    if not early:
        return

    def named(item: Item) -> list[UnitRow]:
        return item.subjects + item.removed + ([item.parent] if item.parent else [])

    born = commission_times(batch.conn, list({u.id for i in early for u in named(i)}))
    for item in early:
        moment = item.event_time
        assert moment is not None
        errors, first = [], None
        for unit in named(item):
            commissioned = born.get(unit.id)
            shown = before_commission(moment, commissioned) if commissioned else None
            if shown is not None:
                serial = unit.serial
                said = f"{serial} was commissioned later, at {shown}"
                errors.append(FieldError("event_time", said, serial))
                first = first or (f"{unit.product}/{serial}", shown)
        if first is not None:
            unit_name, shown = first
            said = f"event_time {moment} is before the commission of {unit_name} at {shown}"
            batch.refuse(item, report(said, errors))


def _commission_check(batch: Batch, item: Item) -> None:
    item.state["commission"] = commission_check(batch.conn, item.event, item.generated)


def _check_parent(item: Item) -> None:
    parent = item.parent
    assert parent is not None
    problem = parent_problem(item.type, parent.status)
    if problem:
        raise InvalidTransition(
            f"parent {parent.product}/{parent.serial} {problem}",
            [FieldError("parent", problem, parent.serial)],
        )
    if item.type == "disassemble":
        wrong = [
            FieldError("serials", f"{u.serial} is not installed in {parent.serial}", u.serial)
            for u in item.subjects
            if u.parent_id != parent.id
        ]
        if wrong:
            raise report(f"units are not in {parent.serial}", wrong, InvalidTransition)
    wrong = [
        FieldError(
            f"removed.{i}",
            f"{u.serial} is {u.status.label}, not installed in {parent.serial}",
            u.serial,
        )
        for i, u in enumerate(item.removed)
        if u.parent_id != parent.id or u.status not in REMOVED_FROM
    ]
    if wrong:
        raise report(
            f"removed parts are not installed in {parent.serial}", wrong, InvalidTransition
        )


def _check_cycles(batch: Batch, items: list[Item]) -> None:
    """A unit may not end up inside itself: the parent is none of the components, and none of
    them is above the parent. The parent's ancestors are also what the event touches (two
    assemblies of one wave could close a ring between them)."""
    inside = [i for i in items if i.parent is not None and i.parent.parent_id is not None]
    above = ancestors_of(batch.conn, [i.parent.id for i in inside if i.parent is not None])
    for item in items:
        parent = item.parent
        assert parent is not None
        over = above.get(parent.id, set())
        item.keys.update(("unit", a) for a in over)
        ids = {u.id for u in item.subjects}
        if parent.id in ids or ids & over:
            batch.refuse(
                item,
                InvalidTransition(
                    f"installing into {parent.serial} would put a unit inside itself",
                    [
                        FieldError(
                            "parent", "is one of the components or contains them", parent.serial
                        )
                    ],
                ),
            )


def _check_transitions(batch: Batch, items: list[Item]) -> None:
    bad = {i.index: [u for u in i.subjects if not i.rule.allows(u.status)] for i in items}
    parents = [u.parent_id for found in bad.values() for u in found if u.parent_id is not None]
    held = holders(batch.conn, parents) if parents else {}
    for item in items:
        refused = bad[item.index]
        if not refused:
            continue

        def state(u: UnitRow) -> str:
            return state_text(u.status, held.get(u.parent_id) if u.parent_id else None)

        errors = [
            FieldError("serials", refusal(item.rule, f"{u.product}/{u.serial}", state(u)), u.serial)
            for u in refused[:MAX_REPORTED]
        ]
        first = refused[0]
        allowed = item.rule.describe_allowed() or "nowhere"
        batch.refuse(
            item,
            report(
                f"cannot {item.type} unit {first.product}/{first.serial}: it is {state(first)}, "
                f"and {item.type} is allowed only from {allowed}",
                errors,
                InvalidTransition,
                len(refused),
            ),
        )


# --- writing -------------------------------------------------------------------------------


def _apply(batch: Batch, items: list[Item], registered: Sequence[Step]) -> list[Recorded]:
    """Write every checked event of a wave; set-based for the whole wave."""
    fresh = [i for i in items if "replay" not in i.state]
    if fresh:
        rows = [
            event_row(
                i.actor,
                i.event,
                i.event_id,
                i.digest,
                i.event_time,
                i.location_id,
                i.party_id,
                i.parent.id if i.parent else None,
                _lot(i),
                len(i.event.serials) if i.type == "commission" else i.unit_count,
            )
            for i in fresh
        ]
        for item, (pk, event_id) in zip(fresh, insert_events(batch.conn, rows), strict=True):
            item.pk, item.event_id = pk, event_id
        made = [i for i in fresh if i.type == "commission"]
        for item in made:
            commission_write(
                batch.conn, item.event, item.state["commission"], item.pk, item.location_id
            )
        moved = [i for i in fresh if i.type != "commission"]
        _project(batch.conn, moved)
        _link(batch.conn, moved)
        for step in registered:  # a step sees in `apply` what it saw in `check`
            wanted = [i for i in fresh if step.wants(i)]
            if wanted:
                step.apply(batch, wanted)
    out = []
    for item in items:
        if "replay" in item.state:
            out.append(item.state["replay"])
        elif item.type == "commission":
            serials = list(item.event.serials)
            out.append(
                Recorded(item.event_id or "", item.pk, item.type, len(serials), False, serials)
            )
        else:
            out.append(
                Recorded(
                    item.event_id or "",
                    item.pk,
                    item.type,
                    item.unit_count,
                    False,
                    warnings=item.warnings,
                    extra=item.answer,
                )
            )
    return out


def _lot(item: Item) -> int | None:
    made = item.state.get("commission")
    return made.lot_id if made is not None else None


def _project(conn: Connection, items: list[Item]) -> None:
    """The projection of every unit of the wave, guarded by the statuses each rule allows
    (the concurrency check): the units an event is about, then the parts it took out."""
    shaped: dict[tuple[Any, ...], list[tuple[dict[str, Any], list[int]]]] = defaultdict(list)
    for item in items:
        values: dict[str, Any] = changes(
            item.rule, item.location_id, item.party_id, item.parent.id if item.parent else None
        )
        values["last_event_id"] = item.pk
        ids = [u.id for u in item.subjects]
        if ids:
            shaped[(item.rule.allowed_from, tuple(sorted(values)), None)].append((values, ids))
        if item.removed:
            assert item.parent is not None
            out = {**REMOVED_CHANGES, "last_event_id": item.pk}
            guard = ("parent", item.parent.id)
            shaped[(REMOVED_FROM, tuple(sorted(out)), guard)].append(
                (out, [u.id for u in item.removed])
            )
    for (allowed, columns, guard), groups in shaped.items():
        _update(conn, allowed, columns, guard, groups)


def _update(
    conn: Connection,
    allowed: frozenset[Status],
    columns: tuple[str, ...],
    guard: tuple[str, int] | None,
    groups: list[tuple[dict[str, Any], list[int]]],
) -> None:
    """One statement shape for many units: one row (a scan), an IN list (a few events of many
    units each), or one driver batch of per-unit rows (many events, a few units each)."""
    expected = sum(len(ids) for _values, ids in groups)
    extra = {"guard": guard[1]} if guard is not None else {}
    changed = 0
    if len(groups) <= 4 and any(len(ids) > 1 for _values, ids in groups):
        statement = _in_list(allowed, columns, guard is not None)
        for values, ids in groups:
            if len(ids) == 1:
                one = _one_row(allowed, columns, guard is not None)
                changed += one.run(conn, {**values, **extra, "id": ids[0]}).rowcount
                continue
            for chunk in chunks(ids):
                changed += conn.execute(statement, {**values, **extra, "ids": list(chunk)}).rowcount
    elif expected == 1:
        values, ids = groups[0]
        one = _one_row(allowed, columns, guard is not None)
        changed = one.run(conn, {**values, **extra, "id": ids[0]}).rowcount
    else:
        changed = _per_row(conn, allowed, columns, guard, groups)
    if changed != expected:
        raise Conflict(
            f"{expected - changed} of the units changed while the events were being recorded; "
            "nothing was written, try again",
            [FieldError("serials", "changed by a concurrent event")],
        )


def _status_in(allowed: frozenset[Status]) -> str:
    return ", ".join(str(int(s)) for s in sorted(allowed))  # integers only


@functools.cache
def _one_row(allowed: frozenset[Status], columns: tuple[str, ...], guarded: bool) -> Fast:
    where: list[Any] = [
        units.c.id == bindparam("id"),
        text(f"units.status IN ({_status_in(allowed)})"),
    ]
    if guarded:
        where.append(units.c.parent_id == bindparam("guard"))
    return Fast(update(units).where(*where).values({c: bindparam(c) for c in columns}))


@functools.cache
def _in_list(allowed: frozenset[Status], columns: tuple[str, ...], guarded: bool) -> Any:
    where: list[Any] = [
        units.c.id.in_(bindparam("ids", expanding=True)),
        text(f"units.status IN ({_status_in(allowed)})"),
    ]
    if guarded:
        where.append(units.c.parent_id == bindparam("guard"))
    return update(units).where(*where).values({c: bindparam(c) for c in columns})


def _per_row(
    conn: Connection,
    allowed: frozenset[Status],
    columns: tuple[str, ...],
    guard: tuple[str, int] | None,
    groups: list[tuple[dict[str, Any], list[int]]],
) -> int:
    """One driver-level statement batch (SQLAlchemy's executemany adds ~100 µs a row); the
    driver sums the rows each changed."""
    marker = "%s" if conn.dialect.name == "postgresql" else "?"
    sets = ", ".join(f"{c} = {marker}" for c in columns)
    where = f"id = {marker} AND status IN ({_status_in(allowed)})"
    if guard is not None:
        where += f" AND parent_id = {marker}"
    rows = [
        (*(values[c] for c in columns), unit, *((guard[1],) if guard else ()))
        for values, ids in groups
        for unit in ids
    ]
    rows.sort(key=lambda row: row[len(columns)])  # in key order: the index pages in turn
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(f"UPDATE units SET {sets} WHERE {where}", rows)
        return int(cursor.rowcount)
    finally:
        cursor.close()


_LINK = Fast(
    event_units.insert().values(
        unit_id=bindparam("unit_id"), event_id=bindparam("event_id"), role=bindparam("role")
    )
)


def _link(conn: Connection, items: list[Item]) -> None:
    links: list[tuple[int, int, int]] = []
    for item in items:
        links += [(u.id, item.pk, int(Role.SUBJECT)) for u in item.subjects]
        links += [(u.id, item.pk, int(Role.REMOVED)) for u in item.removed]
        if item.parent is not None:
            links.append((item.parent.id, item.pk, int(Role.PARENT)))
    links.sort()  # in key order (unit, event): appended page by page
    if len(links) <= 3:  # a scan
        _LINK.many(conn, [{"unit_id": u, "event_id": e, "role": r} for u, e, r in links])
    else:
        bulk_insert(conn, event_units, ("unit_id", "event_id", "role"), links)


def _audit(batch: Batch, items: list[Item], outcomes: Sequence[Outcome | None]) -> None:
    """One audit record per event written; an atomic batch of many: one naming them all."""
    written = [
        (item, outcome)
        for item in items
        if isinstance(outcome := outcomes[item.index], Recorded) and not outcome.replayed
    ]
    if not written:
        return
    if batch.atomic and len(written) > SUMMARY_AFTER:
        first, last = written[0][1], written[-1][1]
        counts: dict[str, int] = defaultdict(int)
        for item, _outcome in written:
            counts[item.type] += 1
        audit.append(
            batch.conn,
            written[0][0].actor,
            "record",
            "event",
            f"{first.event_id} … {last.event_id}",
            None,
            {
                "events": len(written),
                "types": dict(counts),
                "unit_count": sum(o.unit_count for _i, o in written),
            },
        )
        return
    for item, outcome in written:
        audit.append(
            batch.conn,
            item.actor,
            "record",
            "event",
            outcome.event_id,
            None,
            audit_summary(item.event, outcome),
        )


__all__ = [
    "Batch",
    "Item",
    "Job",
    "Step",
    "record",
    "record_in",
    "steps",
    "using",
]
