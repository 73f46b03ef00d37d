"""One write path, three ways in: a seeded random workload written through the group writer
(every event submitted on its own, many at once from threads), through one `record_events`
call per event and through large batches gives the same database, answer for answer, and the
replay check (`unitrace ledger verify`) passes on each.

The workload is made of lanes: a lane is the life of a few units (commissioned, received,
moved, packed, shipped, sold to a partner, repaired, assembled, recalled …), one event of it
per round. Events of one round name different units and cartons, so the order in which the
group writer takes them cannot change what they do; the next round starts when every answer
of the last one is in. Bad events are mixed into the rounds, each with the error it must get:
an unknown serial or carton, a transition the lifecycle forbids, a step not on the route, a
unit named twice, a partner naming another partner's unit, an event id used for other content.
"""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select
from typer.testing import CliRunner

from tests.factories import make_location, make_lot, make_party, make_product
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM, Actor
from unitrace.cli.main import app as cli_app
from unitrace.core.errors import Conflict, InvalidTransition, NotFound, UnitraceError
from unitrace.core.errors import ValidationError as Invalid
from unitrace.db.engine import Database
from unitrace.db.tables import (
    containers,
    diversion_alerts,
    event_containers,
    event_units,
    events,
    locations,
    lot_uses,
    lots,
    parties,
    products,
    recall_units,
    recalls,
    unit_steps,
    units,
    users,
)
from unitrace.ledger import group
from unitrace.ledger import service as ledger
from unitrace.ledger.replay import verify_ledger
from unitrace.ledger.schemas import EventIn
from unitrace.production import recall
from unitrace.production import service as production
from unitrace.production.schemas import BomIn, BomLineIn, RecallIn, RouteIn, StepDefIn, TraceQuery

# one seed in the fast set, more in the slow one (each takes some seconds)
SEEDS = [3, pytest.param(17, marks=pytest.mark.slow), pytest.param(2024, marks=pytest.mark.slow)]
OK = "ok"
THREADS = 6
PASSWORD = "correct horse battery"
ACTORS = {"sys": None, "wh": "warehouse", "pa": "partner", "pb": "partner"}
PARTNER_OF = {"pa": "D-A", "pb": "D-B"}
SETUP_TIME = datetime(2024, 5, 1, 8, tzinfo=UTC)


# --- the workload -----------------------------------------------------------------------


@dataclass
class Step:
    actor: str
    event: dict[str, Any]
    expected: str | type[UnitraceError] = OK
    index: int = -1  # position in the whole workload


@dataclass
class Workload:
    rounds: list[list[Step]]
    after_round: dict[int, str] = field(default_factory=dict)  # round → recall campaign code

    def steps(self) -> Iterator[Step]:
        for steps in self.rounds:
            yield from steps


class Builder:
    """Lanes of steps, laid out in rounds: step i of a lane that starts in round r is in
    round r + i."""

    def __init__(self, rng: random.Random, start: datetime) -> None:
        self.rng = rng
        self.start = start
        self.rounds: defaultdict[int, list[Step]] = defaultdict(list)
        self.count = 0

    def lane(self, first_round: int, steps: list[Step | None]) -> None:
        for offset, step in enumerate(steps):
            if step is not None:
                self.at(first_round + offset, step)

    def at(self, round_: int, step: Step) -> None:
        self.count += 1
        step.event.setdefault("event_id", f"ev-{self.count:05d}")
        # a time for every event, so that the paths agree on it too (seconds apart)
        step.event.setdefault("event_time", self.start + timedelta(seconds=self.count))
        self.rounds[round_].append(step)

    def build(self) -> Workload:
        rounds = [self.rounds[r] for r in range(max(self.rounds) + 1)]
        index = 0
        for steps in rounds:
            self.rng.shuffle(steps)
            for step in steps:
                step.index = index
                index += 1
        return Workload(rounds)


def _ev(type_: str, **kw: Any) -> dict[str, Any]:
    return {"type": type_, **kw}


def workload(seed: int) -> Workload:
    rng = random.Random(seed)
    b = Builder(rng, datetime.now(UTC).replace(microsecond=0) - timedelta(hours=12))

    def serials(prefix: str, n: int) -> list[str]:
        return [f"{prefix}-{j}" for j in range(n)]

    # a unit's way through the channel to a partner, sold (seen where the partner may sell,
    # or elsewhere: a diversion alert), activated, returned, repaired and scrapped
    for lane in range(rng.randint(3, 5)):
        s = serials(f"CH{lane}", rng.randint(1, 3))
        ac = {"product": "AC1", "serials": s}
        shipped = _ev(
            "ship", **ac, party="D-A", biz_transactions=[{"type": "po", "id": f"PO{lane}"}]
        )
        delivered = _ev("deliver", **ac, event_id=f"dl-ch{lane}")
        region = rng.choice(["CN-44", "CN-31", "CN-44-01"])
        steps: list[Step | None] = [
            Step("sys", _ev("commission", **ac, location="WH1", data={"line": "L1"})),
            Step("wh", _ev("receive", **ac, location="WH1")),
            Step("wh", _ev("move", **ac, location="WH2", read_point="dock", operator="op7")),
            Step("sys", shipped),
            Step("pa", delivered),
        ]
        if rng.random() < 0.5:  # the same event again: acknowledged, not doubled
            steps.append(Step("pa", delivered))  # the same dict: the same id and time
        if rng.random() < 0.5:  # its id for other content: a conflict
            steps.append(Step("pa", _ev("verify", **ac, event_id=f"dl-ch{lane}"), Conflict))
        steps += [
            Step("pa", _ev("sell", **ac, region=region, data={"customer": "C1"})),
            Step("pa", _ev("activate", **ac, region=region)),
            Step("pa", _ev("return", **ac)),
            Step("wh", _ev("receive", **ac, location="WH1")),
            Step("sys", _ev("repair", **ac, data={"case": f"RMA{lane}"})),
            Step("sys", _ev("scrap", **ac)),
        ]
        b.lane(rng.randint(0, 2), steps)

    # stock: counted, inspected (failed, then passed: two attempts), verified, recalled by an
    # event, received again and sold by the other partner
    for lane in range(rng.randint(2, 4)):
        ac = {"product": "AC1", "serials": serials(f"ST{lane}", rng.randint(1, 4))}
        first = rng.choice([("fail", "D1"), ("pass", None)])
        b.lane(rng.randint(0, 2), [
            Step("sys", _ev("commission", **ac, location="WH1")),
            Step("wh", _ev("receive", **ac, location="WH1")),
            Step("wh", _ev("count", **ac, location="WH1")),
            Step("sys", _ev("inspect", **ac, step={"code": "FQC", "result": first[0],
                                                    "defect_code": first[1]}, data={"v": 1.5})),
            Step("wh", _ev("inspect", **ac, step={"code": "FQC", "result": "pass"})),
            Step("sys", _ev("verify", **ac, region="CN-44")),
            Step("sys", _ev("recall", **ac, data={"why": "test"})),
            Step("sys", _ev("ship", **ac, party="D-B"), InvalidTransition),  # recalled
            Step("wh", _ev("receive", **ac, location="WH1")),
            Step("sys", _ev("ship", **ac, party="D-B")),
            Step("sys", _ev("deliver", **ac)),
            Step("pb", _ev("sell", **ac, region="CN-31")),
        ])  # fmt: skip

    # a carton: packed, moved and shipped whole, delivered and emptied by the partner
    for lane in range(rng.randint(2, 3)):
        s = serials(f"CT{lane}", rng.randint(2, 5))
        ac = {"product": "AC1", "serials": s}
        box = {"containers": [f"CTN-{lane}"]}
        b.lane(rng.randint(0, 2), [
            Step("sys", _ev("commission", **ac, location="WH1")),
            Step("wh", _ev("receive", **ac, location="WH1")),
            Step("wh", _ev("pack", **ac, container=f"CTN-{lane}")),
            Step("wh", _ev("move", **box, location="WH2")),
            Step("sys", _ev("ship", **box, party="D-B")),
            Step("pb", _ev("deliver", **box)),
            Step("pb", _ev("unpack", container=f"CTN-{lane}")),
            Step("pb", _ev("sell", product="AC1", serials=s[:1], region="CN-44")),  # diverted
            Step("pb", _ev("verify", product="AC1", serials=s[1:])),
        ])  # fmt: skip

    # a pallet of two cartons, moved and shipped whole, unpacked level by level
    for lane in range(rng.randint(1, 2)):
        s = serials(f"PL{lane}", 2 * rng.randint(2, 3))
        half = len(s) // 2
        a, c, pallet = f"CTA-{lane}", f"CTB-{lane}", f"PAL-{lane}"
        ac = {"product": "AC1", "serials": s}
        b.lane(rng.randint(0, 2), [
            Step("sys", _ev("commission", **ac, location="WH1")),
            Step("wh", _ev("receive", **ac, location="WH1")),
            Step("wh", _ev("pack", product="AC1", serials=s[:half], container=a)),
            Step("wh", _ev("pack", product="AC1", serials=s[half:], container=c)),
            Step("wh", _ev("pack", containers=[a, c], container=pallet, container_kind="pallet")),
            Step("wh", _ev("move", containers=[pallet], location="WH2")),
            Step("wh", _ev("pack", product="AC1", serials=s[:1], container=c), InvalidTransition),
            Step("sys", _ev("ship", containers=[pallet], party="D-A")),
            Step("pa", _ev("deliver", containers=[pallet])),
            Step("pa", _ev("unpack", container=pallet)),
            Step("pa", _ev("count", containers=[c])),
            Step("pa", _ev("unpack", container=a)),
        ])  # fmt: skip

    # assemblies: one round of at least 50 (the large batch takes the set-based path), then
    # each parent inspected, received into stock (its route's gate), a part replaced or taken
    # out, and shipped; the parents that used lot S-R are recalled by a campaign
    n = rng.randint(50, 55)
    recalled = set(rng.sample(range(n), rng.randint(4, 8)))
    parents = [f"P{i}" for i in range(n)]
    parts, spares = [f"M{i}" for i in range(n)], [f"N{i}" for i in range(n)]
    b.at(0, Step("sys", _ev("commission", product="PC", serials=parents, location="WH1")))
    b.at(0, Step("sys", _ev("commission", product="MB", serials=parts)))
    b.at(0, Step("sys", _ev("commission", product="MB", serials=spares, location="WH1")))
    assembly_round = 2
    campaign_round = assembly_round + 1
    for i in range(n):
        pc = {"product": "PC", "serials": [parents[i]]}
        into = {"serial": parents[i], "product": "PC"}
        lot = "S-R" if i in recalled else "S-1"
        assemble = Step("sys", _ev("assemble", product="MB", serials=[parts[i]], parent=into,
                                   consumed=[{"product": "SCREW", "lot": lot, "quantity": 4}],
                                   operator=f"op{i % 3}", equipment="press-1"))  # fmt: skip
        if i in recalled:
            steps = [
                assemble,
                Step("sys", _ev("inspect", **pc, step={"code": "FQC", "result": "pass"})),
                # the campaign marks it recalled here
                Step("sys", _ev("sell", **pc), InvalidTransition),
                Step("sys", _ev("repair", **pc)),
                Step("wh", _ev("receive", **pc, location="WH1")),
                Step("sys", _ev("ship", **pc, party="D-B")),
            ]
        else:
            passed = rng.random() < 0.8
            steps = [
                assemble,
                Step("sys", _ev("inspect", **pc, step={
                    "code": "FQC", "result": "pass" if passed else "fail",
                    "defect_code": None if passed else "SOLDER"})),
            ]  # fmt: skip
            if not passed:  # the route's gate keeps it out of stock until it passes
                steps += [
                    Step("wh", _ev("receive", **pc, location="WH1"), InvalidTransition),
                    Step("sys", _ev("inspect", **pc, step={"code": "FQC", "result": "pass"})),
                ]
            steps.append(Step("wh", _ev("receive", **pc, location="WH1")))
            if rng.random() < 0.5:
                steps.append(
                    Step(
                        "sys",
                        _ev(
                            "replace_part",
                            product="MB",
                            serials=[spares[i]],
                            parent=into,
                            removed=[{"serial": parts[i]}],
                        ),
                    )
                )
                steps.append(Step("sys", _ev("disassemble", product="MB", serials=[spares[i]],
                                             parent=into, location="WH1")))  # fmt: skip
            else:
                steps.append(Step("sys", _ev("disassemble", product="MB", serials=[parts[i]],
                                             parent=into, location="WH2")))  # fmt: skip
            steps.append(Step("sys", _ev("ship", **pc, party=rng.choice(["D-A", "D-B"]))))
        b.lane(assembly_round, steps)

    # bad events, each alone with what it must get, on bystanders no lane touches
    last = max(b.rounds)
    bad: list[Step] = [
        Step("wh", _ev("move", product="AC1", serials=["NO-SUCH-1"], location="WH2"), NotFound),
        Step("wh", _ev("deliver", product="AC1", serials=["BY-0"]), InvalidTransition),
        Step("sys", _ev("inspect", product="AC1", serials=["BY-1"],
                        step={"code": "NOPE", "result": "pass"}), Invalid),
        Step("wh", _ev("move", product="AC1", serials=["BY-2", "BY-2"], location="WH2"), Invalid),
        Step("pa", _ev("sell", product="AC1", serials=["BY-B0"]), NotFound),  # D-B's unit
        Step("pb", _ev("verify", product="AC1", serials=["BY-A0"]), NotFound),  # D-A's unit
        Step("pa", _ev("deliver", product="AC1", serials=["BY-A1"]), InvalidTransition),
        Step("wh", _ev("move", containers=["CTN-NONE"], location="WH2"), NotFound),
        Step("sys", _ev("scrap", product="AC1", serials=["BY-3", "NO-SUCH-2"]), NotFound),
        Step("sys", _ev("assemble", product="MB", serials=["M-NOPE"],
                        parent={"serial": "PB-0", "product": "PC"}), NotFound),
    ]  # fmt: skip
    for _ in range(rng.randint(2, 3)):
        for step in bad:
            copy = Step(step.actor, {k: v for k, v in step.event.items() if k != "event_id"},
                        step.expected)  # fmt: skip
            b.at(rng.randint(0, last), copy)
    for _ in range(rng.randint(2, 4)):  # beside the assemblies, in their round
        b.at(assembly_round, Step("sys", _ev("assemble", product="MB", serials=["M-NOPE"],
                                             parent={"serial": "PB-0", "product": "PC"}),
                                  NotFound))  # fmt: skip
        b.at(
            assembly_round,
            Step(
                "sys",
                _ev(
                    "inspect",
                    product="PC",
                    serials=["PB-1"],
                    step={"code": "NOPE", "result": "fail"},
                ),
                Invalid,
            ),
        )
    built = b.build()
    built.after_round[campaign_round] = "RC-1"
    return built


# --- the world every path starts from --------------------------------------------------


def world(db: Database) -> dict[str, Actor]:
    """Catalog, route, BOM, bystander units and the actors (partners act through tokens)."""
    for code in ("AC1", "PC", "MB"):
        make_product(db, code, rule=None)
    make_product(db, "SCREW", rule=None, tracking="lot")
    make_lot(db, "SCREW", "S-1")
    make_lot(db, "SCREW", "S-R")
    make_location(db, "WH1")
    make_location(db, "WH2")
    make_party(db, "D-A", regions=["CN-44"])
    make_party(db, "D-B", regions=["CN-31"])
    production.set_route(db, SYSTEM, "AC1", RouteIn(steps=[
        StepDefIn(code="FQC", name="final check", required=False),
        StepDefIn(code="BURN", name="burn-in", required=False)]))  # fmt: skip
    production.set_route(db, SYSTEM, "PC", RouteIn(steps=[
        StepDefIn(code="FQC", name="final check", required=True)]))  # fmt: skip
    production.set_bom(db, SYSTEM, "PC", BomIn(lines=[
        BomLineIn(component="MB", quantity=1, required=False),
        BomLineIn(component="SCREW", quantity=10, required=False)]))  # fmt: skip

    made = iter(range(1, 100))

    def setup(**kw: Any) -> None:
        n = next(made)
        event = EventIn(**kw, event_id=f"setup-{n}", event_time=SETUP_TIME + timedelta(seconds=n))
        ledger.record_events(db, SYSTEM, [event])

    by = [f"BY-{j}" for j in range(4)]
    by_a, by_b = ["BY-A0", "BY-A1"], ["BY-B0", "BY-B1"]
    setup(type="commission", product="AC1", serials=by + by_a + by_b, location="WH1")
    setup(type="receive", product="AC1", serials=by + by_a + by_b, location="WH1")
    for party, held in (("D-A", by_a), ("D-B", by_b)):
        setup(type="ship", product="AC1", serials=held, party=party)
        setup(type="deliver", product="AC1", serials=held)
    setup(type="commission", product="PC", serials=["PB-0", "PB-1"], location="WH1")
    actors = {"sys": SYSTEM}
    for name, role in ACTORS.items():
        if role is None:
            continue
        access.create_user(db, SYSTEM, name, PASSWORD, role, PARTNER_OF.get(name))
        actors[name] = access.authenticate(db, access.create_token(db, SYSTEM, name, "t")["token"])
    return actors


# --- the three ways in -----------------------------------------------------------------

Answer = tuple[Any, ...]


def answer_of(outcome: Any) -> Answer:
    if isinstance(outcome, UnitraceError):
        return (type(outcome).__name__, outcome.detail)
    if isinstance(outcome, BaseException):
        raise outcome
    return (OK, outcome.event_id, outcome.replayed, outcome.unit_count, tuple(outcome.warnings))


def _campaign(db: Database, code: str) -> None:
    query = TraceQuery(lot="S-R", product="SCREW")
    recall.create_recall(db, SYSTEM, RecallIn(code=code, title="screws", trace=query))
    recall.mark_recalled(db, SYSTEM, code)


def through_group_writer(
    db: Database, actors: dict[str, Actor], work: Workload
) -> dict[int, Answer]:
    answers: dict[int, Answer] = {}
    for r, steps in enumerate(work.rounds):
        futures: dict[int, Future[Any]] = {}
        lock = threading.Lock()
        start = threading.Barrier(THREADS)

        def scanner(
            part: list[Step],
            futures: dict[int, Future[Any]] = futures,
            lock: threading.Lock = lock,
            start: threading.Barrier = start,
        ) -> None:
            start.wait()  # all threads queue at once: the writer takes batches of them
            for step in part:
                future = group.submit(db, actors[step.actor], EventIn(**step.event))
                with lock:
                    futures[step.index] = future

        threads = [threading.Thread(target=scanner, args=(steps[k::THREADS],))
                   for k in range(THREADS)]  # fmt: skip
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for index, future in futures.items():
            error = future.exception(timeout=60)
            answers[index] = answer_of(error if error is not None else future.result())
        if r in work.after_round:
            _campaign(db, work.after_round[r])
    return answers


def one_call_each(db: Database, actors: dict[str, Actor], work: Workload) -> dict[int, Answer]:
    answers: dict[int, Answer] = {}
    for r, steps in enumerate(work.rounds):
        for step in steps:
            try:
                outcome = ledger.record_events(db, actors[step.actor], [EventIn(**step.event)])[0]
            except UnitraceError as error:
                outcome = error
            answers[step.index] = answer_of(outcome)
        if r in work.after_round:
            _campaign(db, work.after_round[r])
    return answers


def large_batches(db: Database, actors: dict[str, Actor], work: Workload) -> dict[int, Answer]:
    """Each round's events by actor (and the assemblies apart) in one batch. A batch with a bad
    event is refused whole and writes nothing; then the good ones go as one batch, and each
    bad one alone."""
    answers: dict[int, Answer] = {}
    for r, steps in enumerate(work.rounds):
        groups: defaultdict[tuple[str, bool], list[Step]] = defaultdict(list)
        for step in steps:
            groups[(step.actor, step.event["type"] == "assemble")].append(step)
        for (actor_name, _), batch in groups.items():
            actor = actors[actor_name]
            good = [s for s in batch if s.expected == OK]
            if len(good) < len(batch):
                with pytest.raises(UnitraceError):
                    ledger.record_events(db, actor, [EventIn(**s.event) for s in batch])
            if good:
                recorded = ledger.record_events(db, actor, [EventIn(**s.event) for s in good])
                for step, outcome in zip(good, recorded, strict=True):
                    answers[step.index] = answer_of(outcome)
            for step in batch:
                if step.expected == OK:
                    continue
                try:
                    ledger.record_events(db, actor, [EventIn(**step.event)])
                    answers[step.index] = (OK,)
                except UnitraceError as error:
                    answers[step.index] = answer_of(error)
        if r in work.after_round:
            _campaign(db, work.after_round[r])
    return answers


# --- what is compared ------------------------------------------------------------------


def snapshot(db: Database) -> dict[str, Any]:
    """The database without surrogate ids and record times: units by (product, serial),
    events by event_id, containers by code."""
    with db.read() as conn:

        def codes(table: Any, column: Any = None) -> dict[int, Any]:
            return dict(conn.execute(select(table.c.id, column if column is not None
                                            else table.c.code)).all())  # fmt: skip

        product, place, party = codes(products), codes(locations), codes(parties)
        lot = {r.id: (product[r.product_id], r.number) for r in conn.execute(select(lots))}
        user = codes(users, users.c.username)
        box = codes(containers)
        unit = {
            r.id: (product[r.product_id], r.serial)
            for r in conn.execute(select(units.c.id, units.c.product_id, units.c.serial))
        }
        event = {r.id: r.event_id for r in conn.execute(select(events.c.id, events.c.event_id))}
        out: dict[str, Any] = {}
        out["units"] = {
            unit[r.id]: (r.status, place.get(r.location_id), party.get(r.holder_id),
                         unit.get(r.parent_id), box.get(r.container_id), lot.get(r.lot_id),
                         r.attributes, event[r.last_event_id])
            for r in conn.execute(select(units))
        }  # fmt: skip
        links: defaultdict[int, list[Any]] = defaultdict(list)
        for r in conn.execute(select(event_units)):
            links[r.event_id].append((unit[r.unit_id], r.role))
        boxed: defaultdict[int, list[Any]] = defaultdict(list)
        for r in conn.execute(select(event_containers)):
            boxed[r.event_id].append((box[r.container_id], r.role))
        ours, theirs = {}, []
        for r in conn.execute(select(events)):
            content = (r.type, r.event_time, r.event_tz, place.get(r.location_id),
                       party.get(r.party_id), unit.get(r.parent_unit_id), lot.get(r.lot_id),
                       r.read_point, r.operator, r.equipment, r.region, user.get(r.actor_user_id),
                       r.biz_transactions, r.data, r.unit_count, r.payload_hash,
                       sorted(links[r.id]), sorted(boxed[r.id]))  # fmt: skip
            if r.event_id.startswith(("setup-", "ev-", "dl-", "D-A:", "D-B:")):
                ours[r.event_id] = content
            else:  # the campaign's recall event: its id is made by the ledger
                theirs.append(content[:1] + content[2:])
        out["events"] = ours
        out["other events"] = sorted(theirs, key=repr)
        out["lot uses"] = sorted(
            (event[r.event_id], lot[r.lot_id], unit[r.unit_id], r.quantity)
            for r in conn.execute(select(lot_uses))
        )
        out["unit steps"] = sorted(
            (unit[r.unit_id], event[r.event_id], product[r.product_id], r.step, r.attempt,
             r.passed, r.defect_code, r.started_at, r.ended_at)
            for r in conn.execute(select(unit_steps))
        )  # fmt: skip
        out["containers"] = {
            r.code: (r.kind, box.get(r.parent_id), place.get(r.location_id),
                     party.get(r.holder_id), event[r.created_event_id], event[r.last_event_id])
            for r in conn.execute(select(containers))
        }  # fmt: skip
        out["diversion alerts"] = sorted(
            (unit[r.unit_id], party[r.party_id], event[r.ship_event_id], r.expected,
             r.seen_region, event[r.source_event_id], r.source_type, r.status, r.note)
            for r in conn.execute(select(diversion_alerts))
        )  # fmt: skip
        campaigns = {r.id: (r.code, r.status, r.trace) for r in conn.execute(select(recalls))}
        out["recalls"] = sorted(campaigns.values(), key=repr)
        out["recall units"] = sorted(
            (campaigns[r.recall_id][0], unit[r.unit_id], party.get(r.holder_id), r.region,
             r.status_at_start)
            for r in conn.execute(select(recall_units))
        )  # fmt: skip
    return out


def _same(name: str, *snapshots: dict[str, Any]) -> None:
    first = snapshots[0]
    for label, other in zip(("one call each", "large batches"), snapshots[1:], strict=True):
        for part in first:
            if first[part] == other[part]:
                continue
            mine, theirs = first[part], other[part]
            if isinstance(mine, dict):
                keys = sorted({*mine, *theirs} - {k for k in mine if mine.get(k) == theirs.get(k)},
                              key=repr)[:5]  # fmt: skip
                diff = [(k, mine.get(k), theirs.get(k)) for k in keys]
            else:
                diff = [sorted(set(map(repr, mine)) ^ set(map(repr, theirs)))[:5]]
            pytest.fail(f"{name}: {part} differ between the group writer and {label}: {diff}")


def _verify(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    report = verify_ledger(db, SYSTEM)
    assert report.ok, report.mismatches[:5]
    monkeypatch.setenv("UNITRACE_DATABASE_URL", db.url)
    result = CliRunner().invoke(cli_app, ["ledger", "verify"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.usefixtures("fast_hashing")
def test_the_group_writer_single_calls_and_large_batches_write_the_same_database(
    fresh_database: Callable[[], Database], monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    work = workload(seed)
    expected = {step.index: step.expected for step in work.steps()}
    snapshots, answers = [], []
    commits = []
    for way in (through_group_writer, one_call_each, large_batches):
        database = fresh_database()
        actors = world(database)
        counted = commits.append(0) or len(commits) - 1

        def count(_conn: Any, counted: int = counted) -> None:
            commits[counted] += 1

        sa_event.listen(database.engine, "commit", count)
        try:
            answers.append(way(database, actors, work))
        finally:
            sa_event.remove(database.engine, "commit", count)
        snapshots.append(snapshot(database))
        _verify(database, monkeypatch)
    # batches formed: the group writer committed less often than one call per event
    assert commits[0] < commits[1]
    grouped, single, batched = answers
    wrong = [
        (step.index, step.actor, step.event["type"], step.expected, single[step.index])
        for step in work.steps()
        if single[step.index][0] != (OK if step.expected == OK else step.expected.__name__)
    ]
    assert not wrong, f"answers other than the workload expects: {wrong[:5]}"
    assert grouped == single, [(i, grouped[i], single[i]) for i in single
                               if grouped[i] != single[i]][:5]  # fmt: skip
    good = {i: a for i, a in single.items() if expected[i] == OK}
    assert {i: batched[i] for i in good} == good
    assert {i: batched[i][0] for i in single} == {i: a[0] for i, a in single.items()}
    _same(f"seed {seed}", *snapshots)
    # what the workload is meant to cover is there
    first = snapshots[0]
    assert {e[0] for e in first["events"].values()} >= set(EVERY_TYPE)
    assert first["diversion alerts"] and first["lot uses"] and first["unit steps"]
    assert first["recall units"] and {c[0] for c in first["containers"].values()} == {
        "carton",
        "pallet",
    }
    assert any(role == 0 for e in first["events"].values() for _code, role in e[-1])


EVERY_TYPE = ("commission", "receive", "move", "ship", "deliver", "sell", "activate", "return",
               "repair", "inspect", "assemble", "disassemble", "replace_part", "pack", "unpack",
               "count", "verify", "recall", "scrap")  # fmt: skip


def _assembly_world(db: Database, n: int) -> list[EventIn]:
    """n parents and n parts in stock, two parts packed in a carton, one under an open recall;
    the n assemblies (one part into each parent) to record."""
    make_product(db, "PC", rule=None)
    make_product(db, "MB", rule=None)
    make_location(db, "WH1")
    parents, parts = [f"P{i}" for i in range(n)], [f"M{i}" for i in range(n)]
    at = iter(SETUP_TIME + timedelta(seconds=s) for s in range(1, 100))
    for i, event in enumerate([
        EventIn(type="commission", product="PC", serials=parents, location="WH1"),
        EventIn(type="commission", product="MB", serials=parts, location="WH1"),
        EventIn(type="receive", product="MB", serials=parts, location="WH1"),
        EventIn(type="pack", product="MB", serials=parts[:2], container="CTN-1"),
    ]):  # fmt: skip
        ledger.record_events(db, SYSTEM, [event.model_copy(update={
            "event_id": f"setup-{i}", "event_time": next(at)})])  # fmt: skip
    return [
        EventIn(event_id=f"ev-{i}", type="assemble", product="MB", serials=[parts[i]],
                parent={"serial": parents[i], "product": "PC"}, event_time=next(at))
        for i in range(n)
    ]  # fmt: skip


def test_a_packed_part_assembled_in_a_large_batch_leaves_its_carton_as_one_by_one(
    fresh_database: Callable[[], Database],
) -> None:
    snapshots = []
    for batched in (False, True):
        database = fresh_database()
        batch = _assembly_world(database, 60)
        if batched:
            ledger.record_events(database, SYSTEM, batch)
        else:
            for event in batch:
                ledger.record_events(database, SYSTEM, [event])
        snapshots.append(snapshot(database))
    one_by_one, large = snapshots
    assert one_by_one["units"][("MB", "M0")][4] is None  # out of its carton, into its parent
    assert large["units"] == one_by_one["units"]


def test_a_large_assembly_batch_with_a_recalled_part_is_refused_as_one_by_one(
    db: Database,
) -> None:
    batch = _assembly_world(db, 60)
    recall.create_recall(
        db,
        SYSTEM,
        RecallIn(code="R1", title="bad part", trace=TraceQuery(serial="M5", product="MB")),
    )
    with pytest.raises(InvalidTransition, match="under open recall"):
        ledger.record_events(db, SYSTEM, batch[5:6])  # one by one: refused
    with pytest.raises(InvalidTransition, match="under open recall"):
        ledger.record_events(db, SYSTEM, batch)  # in a batch: refused whole
