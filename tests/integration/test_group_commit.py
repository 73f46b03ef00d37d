"""Group commit: single events queued from many threads are written together, yet every caller
gets its own answer, a refused event leaves the others written, and the audit chain holds."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import Future

import pytest
from sqlalchemy import Connection, func, select

from tests.factories import in_stock, make_location
from unitrace.access import audit
from unitrace.access.principal import SYSTEM, Actor
from unitrace.core.errors import InvalidTransition, NotFound, ValidationError
from unitrace.db.engine import Database
from unitrace.db.tables import audit_log, events
from unitrace.ledger import group, queries
from unitrace.ledger import service as ledger_service
from unitrace.ledger.schemas import EventIn, StepIn
from unitrace.ledger.write import Recorded


def test_scans_from_many_threads_each_get_their_own_answer(db: Database) -> None:
    serials = in_stock(db, 40)
    make_location(db, "WH2")
    with db.read() as conn:
        events_before = conn.execute(select(func.count()).select_from(events)).scalar_one()
        audit_before = conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
    start = threading.Barrier(8)
    futures: dict[str, Future[Recorded]] = {}
    lock = threading.Lock()

    def scanner(k: int) -> None:
        start.wait()
        for serial in serials[k::8]:
            event = EventIn(type="move", product="AC1", serials=[serial], location="WH2")
            with lock:
                futures[serial] = group.submit(db, SYSTEM, event)
        wrong = EventIn(type="move", product="AC1", serials=[f"NO-SUCH-{k}"], location="WH2")
        with lock:
            futures[f"NO-SUCH-{k}"] = group.submit(db, SYSTEM, wrong)

    threads = [threading.Thread(target=scanner, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for serial in serials:
        assert futures[serial].result(timeout=30).unit_count == 1
    for k in range(8):
        with pytest.raises(NotFound, match=f"NO-SUCH-{k}"):
            futures[f"NO-SUCH-{k}"].result(timeout=30)
    assert {queries.dossier(db, SYSTEM, s, "AC1")["location"] for s in serials} == {"WH2"}
    with db.read() as conn:
        events_after = conn.execute(select(func.count()).select_from(events)).scalar_one()
        audit_after = conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
    assert events_after - events_before == 40  # the refused ones wrote nothing
    assert audit_after - audit_before == 40
    assert audit.verify_chain(db, SYSTEM).ok


def test_a_refused_event_in_a_batch_leaves_the_others_and_a_replay_is_one_event(
    db: Database,
) -> None:
    serials = in_stock(db, 3)
    writer = group.GroupWriter(db)
    ship = {"type": "ship", "product": "AC1", "party": "D-EAST"}
    jobs = [
        group._Job(SYSTEM, e, group.event_hash(e))
        for e in (
            EventIn(**ship, serials=[serials[0]], event_id="s-1"),
            EventIn(**ship, serials=[serials[0]]),  # shipped just before in the same batch
            EventIn(**ship, serials=[serials[0]], event_id="s-1"),  # the same event again
            EventIn(**ship, serials=[serials[1]]),
        )
    ]
    writer._write(jobs)  # one batch, as the writer thread would take it
    first, twice, again, other = (j.future for j in jobs)
    assert not first.result().replayed and again.result().replayed
    with pytest.raises(InvalidTransition, match="in_transit"):
        twice.result()
    assert other.result().unit_count == 1
    shipped = [e for e in queries.dossier(db, SYSTEM, serials[0], "AC1")["events"]
               if e["type"] == "ship"]  # fmt: skip
    assert len(shipped) == 1
    assert audit.verify_chain(db, SYSTEM).ok


def test_a_batch_that_fails_whole_is_written_event_by_event(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    serials = in_stock(db, 2)
    writer = group.GroupWriter(db)
    broken = Actor("broken", "warehouse")
    calls = {"n": 0}
    real = audit.deferred

    def failing_once(conn):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("commit failed")
        return real(conn)

    monkeypatch.setattr(audit, "deferred", failing_once)
    jobs = [
        group._Job(broken, e, group.event_hash(e))
        for e in (EventIn(type="move", product="AC1", serials=[s], location="WH1") for s in serials)
    ]
    writer._write(jobs)
    assert [j.future.result().unit_count for j in jobs] == [1, 1]


def test_scans_awaited_on_two_event_loops_each_get_their_own_answer(db: Database) -> None:
    # the server's path: callers on event loops (two worker threads here) wait on asyncio
    # futures that the writer settles once per loop and batch; a caller that gave up
    # (cancelled) does not keep the others from their answers
    import asyncio

    serials = in_stock(db, 30)
    make_location(db, "WH2")
    outcomes: dict[str, object] = {}
    lock = threading.Lock()

    async def loop_of(part: list[str], tag: str) -> None:
        async def one(serial: str) -> object:
            event = EventIn(type="move", product="AC1", serials=[serial], location="WH2")
            try:
                return (await group.record(db, SYSTEM, event)).unit_count
            except NotFound as error:
                return error

        loop_errors: list[dict[str, object]] = []
        asyncio.get_running_loop().set_exception_handler(lambda _, ctx: loop_errors.append(ctx))
        gave_up = asyncio.ensure_future(one(part[0]))  # queued first, answered first
        tasks = {s: asyncio.ensure_future(one(s)) for s in part[1:]}
        tasks[f"NO-SUCH-{tag}"] = asyncio.ensure_future(one(f"NO-SUCH-{tag}"))
        await asyncio.sleep(0)
        gave_up.cancel()
        results = await asyncio.gather(*tasks.values())
        await asyncio.sleep(0.05)  # a late answer to the cancelled waiter would fail here
        assert gave_up.cancelled()
        moved = EventIn(type="move", product="AC1", serials=[part[0]], location="WH1")
        assert (await group.record(db, SYSTEM, moved)).unit_count == 1  # written meanwhile
        assert not loop_errors
        with lock:
            outcomes.update(zip(tasks, results, strict=True))

    threads = [  # daemons: a loop left waiting fails the test instead of hanging it
        threading.Thread(target=asyncio.run, args=(loop_of(serials[k::2], str(k)),), daemon=True)
        for k in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads), "a caller is still waiting for its answer"
    assert all(outcomes[s] == 1 for s in serials if s not in serials[:2])
    assert all(isinstance(outcomes[f"NO-SUCH-{k}"], NotFound) for k in range(2))
    assert {queries.dossier(db, SYSTEM, s, "AC1")["location"] for s in serials[2:]} == {"WH2"}
    assert {queries.dossier(db, SYSTEM, s, "AC1")["location"] for s in serials[:2]} == {"WH1"}
    assert audit.verify_chain(db, SYSTEM).ok


def test_a_writer_that_fails_answers_its_batch_and_the_next_one_takes_over(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # something escaping the batch (a bug, a broken connection) must neither leave callers
    # waiting for ever nor stop later scans: the batch gets the error, a new writer starts
    serials = in_stock(db, 3)
    make_location(db, "WH2")
    real = group.GroupWriter._write
    failures = {"left": 1}

    def failing_once(self, jobs, held=None):  # type: ignore[no-untyped-def]
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("writer broke")
        return real(self, jobs, held)

    monkeypatch.setattr(group.GroupWriter, "_write", failing_once)
    first = group.submit(db, SYSTEM, EventIn(type="move", product="AC1", serials=[serials[0]],
                                             location="WH2"))  # fmt: skip
    with pytest.raises(RuntimeError, match="writer broke"):
        first.result(timeout=30)
    later = [
        group.submit(db, SYSTEM, EventIn(type="move", product="AC1", serials=[s], location="WH2"))
        for s in serials[1:]
    ]
    assert [f.result(timeout=30).unit_count for f in later] == [1, 1]


def test_after_a_failed_batch_the_writer_goes_on_with_a_fresh_connection(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    serials = in_stock(db, 4)
    make_location(db, "WH2")
    real = audit.deferred
    calls = {"n": 0}

    def failing_second(conn):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            conn.connection.dbapi_connection.close()  # the held connection breaks mid-batch
        return real(conn)

    monkeypatch.setattr(audit, "deferred", failing_second)
    answers = []
    for serial in serials:  # one after another: one batch each
        event = EventIn(type="move", product="AC1", serials=[serial], location="WH2")
        answers.append(group.submit(db, SYSTEM, event).result(timeout=30).unit_count)
    assert answers == [1, 1, 1, 1]
    assert {queries.dossier(db, SYSTEM, s, "AC1")["location"] for s in serials} == {"WH2"}
    assert audit.verify_chain(db, SYSTEM).ok


def test_one_refused_event_in_a_batch_leaves_the_others_written_once_and_not_rerun(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # [move, inspect with a step not on the route, move] in one batch: the inspect is refused
    # by a check, so the batch needs no rollback and no event is written again on its own
    serials = in_stock(db, 4)
    make_location(db, "WH2")
    alone: list[list[EventIn]] = []
    real = ledger_service.record_events

    def spy(db: Database, actor: Actor, batch: list[EventIn]) -> list[Recorded]:
        alone.append(list(batch))
        return real(db, actor, batch)

    monkeypatch.setattr(ledger_service, "record_events", spy)
    batch = [
        EventIn(type="move", product="AC1", serials=[serials[0]], location="WH2"),
        EventIn(
            type="inspect",
            product="AC1",
            serials=[serials[1]],
            step=StepIn(code="NOPE", result="pass"),
        ),
        EventIn(type="move", product="AC1", serials=[serials[2]], location="WH2"),
    ]
    # the writer is held in its first batch (a move of another unit) while the three queue:
    # its next batch takes all three
    entered, go = threading.Event(), threading.Event()
    real_write = db.write

    @contextlib.contextmanager
    def held_once(held: Connection | None = None) -> Iterator[Connection]:
        if not entered.is_set():
            entered.set()
            assert go.wait(30)
        with real_write(held) as conn:
            yield conn

    monkeypatch.setattr(db, "write", held_once)
    first = group.submit(db, SYSTEM, EventIn(type="move", product="AC1", serials=[serials[3]],
                                             location="WH2"))  # fmt: skip
    assert entered.wait(30)
    futures = [group.submit(db, SYSTEM, event) for event in batch]
    go.set()
    assert first.result(timeout=30).unit_count == 1
    moved_first, inspected, moved_last = futures
    with pytest.raises(ValidationError, match="NOPE"):
        inspected.result(timeout=30)
    assert moved_first.result(timeout=30).unit_count == 1
    assert moved_last.result(timeout=30).unit_count == 1
    for serial in (serials[0], serials[2]):
        moves = [e for e in queries.dossier(db, SYSTEM, serial, "AC1")["events"]
                 if e["type"] == "move"]  # fmt: skip
        assert len(moves) == 1
        assert queries.dossier(db, SYSTEM, serial, "AC1")["location"] == "WH2"
    assert not [e for e in queries.dossier(db, SYSTEM, serials[1], "AC1")["events"]
                if e["type"] == "inspect"]  # fmt: skip
    assert alone == [], "the batch was rolled back and its events written again one by one"
    assert audit.verify_chain(db, SYSTEM).ok
