"""Capabilities plug their steps into the write pipeline: the registry finds production's and
channel's, `pipeline.using` adds one for a while, a refusal in a step's `check` costs the other
events of a group-writer batch nothing, and a step's `apply` sees each written event once."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from sqlalchemy import func, select

from tests.factories import in_stock, make_location, make_product
from unitrace.access.principal import SYSTEM
from unitrace.aftersales import steps as aftersales_steps
from unitrace.channel import steps as channel_steps
from unitrace.core.errors import FieldError, InvalidTransition, NotFound
from unitrace.core.lifecycle import Status
from unitrace.db.engine import Database
from unitrace.db.tables import audit_log, events
from unitrace.interop import steps as interop_steps
from unitrace.ledger import group, pipeline, queries
from unitrace.ledger.pipeline import Batch, Item, Step
from unitrace.ledger.schemas import EventIn
from unitrace.production import steps as production_steps
from unitrace.verify import steps as verify_steps


class RefuseScraps(Step):
    """A rule switched on by a test: no scrap events today."""

    name = "no scraps"
    types = frozenset({"scrap"})

    def __init__(self, order: int) -> None:
        self.order = order  # type: ignore[misc]
        self.checked: list[int] = []

    def check(self, batch: Batch, items: list[Item]) -> None:
        for item in items:
            self.checked.append(item.index)
            batch.refuse(
                item,
                InvalidTransition("no scraps today", [FieldError("type", "refused by a rule")]),
            )


class Recorder(Step):
    """Keeps what each `apply` was handed: (index, type, primary key) per event."""

    name = "recorder"
    order = 200

    def __init__(self) -> None:
        self.checked: list[int] = []
        self.applied: list[list[tuple[int, str, int]]] = []

    def check(self, batch: Batch, items: list[Item]) -> None:
        self.checked += [i.index for i in items]

    def apply(self, batch: Batch, items: list[Item]) -> None:
        self.applied.append([(i.index, i.type, i.pk) for i in items])


def _count(db: Database, table: object) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def _write_batch(db: Database, batch: Sequence[EventIn]) -> list[group._Job]:
    """One group-writer batch, as the writer thread would take it."""
    jobs = [group._Job(SYSTEM, e, group.event_hash(e)) for e in batch]
    group.GroupWriter(db)._write(jobs)
    return jobs


@pytest.fixture
def no_write_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch must never fall back to writing its events one by one."""

    def refuse(*args: object) -> None:
        raise AssertionError("the batch was rolled back and written event by event")

    monkeypatch.setattr(group, "_write_alone", refuse)


# --- the registry -----------------------------------------------------------------------------


def test_the_registry_holds_productions_and_channels_steps_in_their_order() -> None:
    registered = pipeline.steps()
    assert [type(s).__name__ for s in registered] == [
        "Containers",
        "RecallBlock",
        "BillOfMaterials",
        "CompletionGate",
        "StepResults",
        "Sightings",
        "Codes",
        "Verifications",
        "CaseLink",
        "SparesArrive",
        "Outbox",  # interop (webhooks): last, the event complete
    ]
    orders = [s.order for s in registered]
    assert orders == sorted(orders)
    assert {type(s) for s in registered} == {
        *(type(s) for s in production_steps.STEPS),
        *(type(s) for s in channel_steps.STEPS),
        *(type(s) for s in aftersales_steps.STEPS),
        *(type(s) for s in verify_steps.STEPS),
        *(type(s) for s in interop_steps.STEPS),
    }
    # the recall block comes before the ledger's own checks, the others after them
    assert [s.order < pipeline.CORE_ORDER for s in registered] == [
        True,
        True,
        False,
        False,
        False,
        False,
        False,
        False,
        False,
        False,
        False,
    ]


def test_using_adds_a_step_in_its_order_for_a_while() -> None:
    before = list(pipeline.steps())
    extra = RefuseScraps(order=45)
    with pipeline.using([extra]):
        during = pipeline.steps()
        assert extra in during and len(during) == len(before) + 1
        assert [s.order for s in during] == sorted(s.order for s in during)
        assert during.index(extra) == 2  # after the recall block (40), before the BOM (60)
    assert pipeline.steps() == before
    with pytest.raises(RuntimeError), pipeline.using([extra]):
        raise RuntimeError("a test failed inside")
    assert pipeline.steps() == before


# --- a step's refusal ---------------------------------------------------------------------------


@pytest.mark.parametrize("order", [20, 95], ids=["before-core", "after-core"])
def test_a_steps_refusal_writes_nothing_of_its_event_and_leaves_the_others_written(
    db: Database, order: int, no_write_alone: None
) -> None:
    serials = in_stock(db, 3)
    make_location(db, "WH2")
    events_before, audit_before = _count(db, events), _count(db, audit_log)
    rule = RefuseScraps(order)
    move = {"type": "move", "product": "AC1", "location": "WH2"}
    with pipeline.using([rule]):
        first, scrap, last = _write_batch(
            db,
            [
                EventIn(**move, serials=[serials[0]]),
                EventIn(type="scrap", product="AC1", serials=[serials[1]]),
                EventIn(**move, serials=[serials[2]]),
            ],
        )
    assert set(rule.checked) == {1}  # only its type; checked again after the event before it
    assert first.future is not None and scrap.future is not None and last.future is not None
    with pytest.raises(InvalidTransition, match="no scraps today"):
        scrap.future.result(timeout=5)
    assert first.future.result(timeout=5).unit_count == 1
    assert last.future.result(timeout=5).unit_count == 1
    assert _count(db, events) - events_before == 2
    assert _count(db, audit_log) - audit_before == 2
    refused = queries.dossier(db, SYSTEM, serials[1], "AC1")
    assert refused["status"] == Status.IN_STOCK.label
    assert [e["type"] for e in refused["events"]] == ["commission", "receive"]
    for moved in (serials[0], serials[2]):
        assert queries.dossier(db, SYSTEM, moved, "AC1")["location"] == "WH2"


def test_without_the_step_the_same_batch_is_written_whole(db: Database) -> None:
    serials = in_stock(db, 1)
    (scrap,) = _write_batch(db, [EventIn(type="scrap", product="AC1", serials=serials)])
    assert scrap.future is not None and scrap.future.result(timeout=5).unit_count == 1


# --- a step's apply -----------------------------------------------------------------------------


def test_a_steps_apply_gets_every_written_event_of_a_wave_once(
    db: Database, no_write_alone: None
) -> None:
    serials = in_stock(db, 3)
    make_location(db, "WH2")
    recorder = Recorder()
    with pipeline.using([recorder, RefuseScraps(95)]):
        jobs = _write_batch(
            db,
            [
                EventIn(type="move", product="AC1", serials=[serials[0]], location="WH2"),
                EventIn(type="move", product="AC1", serials=[serials[1]], location="WH2"),
                EventIn(type="scrap", product="AC1", serials=[serials[2]]),  # refused by a step
                EventIn(type="move", product="AC1", serials=["NO-SUCH"], location="WH2"),
                EventIn(  # the same unit again: the next wave
                    type="move", product="AC1", serials=[serials[0]], location="WH1", event_id="m-1"
                ),
                EventIn(  # a replay: written before, not again
                    type="move", product="AC1", serials=[serials[0]], location="WH1", event_id="m-1"
                ),
            ],
        )
    outcomes: list[object] = []
    for job in jobs:
        assert job.future is not None
        error = job.future.exception(timeout=5)
        outcomes.append(error or job.future.result())
    assert isinstance(outcomes[2], InvalidTransition) and isinstance(outcomes[3], NotFound)
    written = {
        job_index: outcome.id
        for job_index, outcome in enumerate(outcomes)
        if not isinstance(outcome, Exception) and not outcome.replayed  # type: ignore[attr-defined]
    }
    assert sorted(written) == [0, 1, 4]
    seen = [entry for call in recorder.applied for entry in call]
    assert sorted(index for index, _type, _pk in seen) == [0, 1, 4]  # each once, none refused
    assert {index: pk for index, _type, pk in seen} == written  # handed after its row is written
    assert all(call for call in recorder.applied)  # never an empty call
    assert len(recorder.applied) >= 2  # a unit named twice: two waves
    assert recorder.applied[0] == [(0, "move", written[0]), (1, "move", written[1])]


def test_a_steps_apply_gets_commission_events_too(db: Database) -> None:
    make_product(db, "PLAIN", rule=None)
    recorder = Recorder()
    with pipeline.using([recorder]):
        (made,) = _write_batch(db, [EventIn(type="commission", product="PLAIN", serials=["P1"])])
    assert made.future is not None
    recorded = made.future.result(timeout=5)
    assert recorded.serials == ["P1"]
    assert recorder.checked == [0]  # its check saw the event
    assert [entry for call in recorder.applied for entry in call] == [
        (0, "commission", recorded.id)
    ]


def test_the_app_refuses_to_start_without_the_capabilities_steps(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a checkout run without being installed has no entry points: no rules would run
    from unitrace.api.app import create_app

    monkeypatch.setattr(pipeline, "_registered", [])
    monkeypatch.setattr(pipeline, "_sources", set())
    with pytest.raises(RuntimeError, match="no steps of aftersales, channel, production"):
        create_app(db)
    pipeline.require()  # nothing asked, nothing missing
