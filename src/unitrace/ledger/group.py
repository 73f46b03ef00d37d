"""Group commit for single events: scans from many clients written together.

A scan is one small event, and a transaction per scan spends most of its time on what every
transaction pays — taking the writer lock, BEGIN, chaining the audit record, COMMIT — while
the other scanners wait in line. Here single events queue for one writer thread per database.
It takes everything that is waiting (up to `MAX_BATCH`) and hands it to the write pipeline as
one batch whose events answer each for itself (`pipeline.record(atomic=False)`): every check
of an event runs before anything of it is written, so a refused scan costs the others nothing
— no savepoint, no rollback, no second run. The audit records are chained in one go and the
batch commits once. Every caller gets its own answer — its `Recorded`, or its own error —
only after the commit: an acknowledged scan is written.

If the batch fails as a whole (the commit, the lock, a concurrent writer on PostgreSQL, a
bug), nothing of it was written and every event is written again on its own by
`record_events`, which answers for itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import weakref
from collections import defaultdict
from concurrent.futures import Future
from dataclasses import dataclass, field

from sqlalchemy import Connection

from unitrace.access import audit
from unitrace.access.principal import Actor
from unitrace.db import fast
from unitrace.db.engine import Database
from unitrace.ledger import pipeline
from unitrace.ledger.limits import check_request
from unitrace.ledger.schemas import EventIn
from unitrace.ledger.write import Recorded, event_hash

MAX_BATCH = 128
IDLE_SECONDS = 2.0  # the writer thread ends after this long without work; the next starts it


@dataclass
class _Job:
    actor: Actor
    event: EventIn
    digest: str
    future: Future[Recorded] | None = field(default_factory=Future)
    # a caller on an event loop waits on an asyncio future instead (and `future` is None):
    # the writer wakes each loop once per batch with all of its answers, not once per answer
    loop: asyncio.AbstractEventLoop | None = None
    waiter: asyncio.Future[Recorded] | None = None


Outcome = Recorded | BaseException


def _answer(outcomes: list[tuple[_Job, Outcome]]) -> None:
    loops: defaultdict[asyncio.AbstractEventLoop, list[tuple[_Job, Outcome]]] = defaultdict(list)
    for job, outcome in outcomes:
        if job.loop is not None:
            loops[job.loop].append((job, outcome))
        elif job.future is None or job.future.done():  # a caller that gave up
            continue
        elif isinstance(outcome, Recorded):
            job.future.set_result(outcome)
        else:
            job.future.set_exception(outcome)
    for loop, answers in loops.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(_settle, answers)


def _settle(answers: list[tuple[_Job, Outcome]]) -> None:
    for job, outcome in answers:
        if job.waiter is None or job.waiter.done():  # cancelled: the client went away
            continue
        if isinstance(outcome, Recorded):
            job.waiter.set_result(outcome)
        else:
            job.waiter.set_exception(outcome)


class GroupWriter:
    """The queue and writer thread of one database."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._guard = threading.Lock()
        self._running = False

    def submit(self, actor: Actor, event: EventIn) -> Future[Recorded]:
        check_request(actor, [event])  # refused before it queues for the writer
        future: Future[Recorded] = Future()
        self.put(_Job(actor, event, event_hash(event), future))
        return future

    def put(self, job: _Job) -> None:
        self._queue.put(job)
        with self._guard:  # read under the lock the writer holds while it decides to end
            if not self._running:
                self._start()

    def _start(self) -> None:  # under self._guard
        self._running = True
        threading.Thread(target=self._run, name="unitrace-group-writer", daemon=True).start()

    def _run(self) -> None:
        held: list[Connection] = []  # the writer's connection, kept from batch to batch
        idle, jobs = False, []
        try:
            while True:
                try:
                    jobs = [self._queue.get(timeout=IDLE_SECONDS)]
                except queue.Empty:
                    with self._guard:
                        if self._queue.empty():
                            self._running, idle = False, True
                            return
                    continue
                while len(jobs) < MAX_BATCH:
                    try:
                        jobs.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                self._write(jobs, held)
        except BaseException as error:
            logging.getLogger("unitrace").exception("the group writer stopped; restarting it")
            _answer([(job, error) for job in jobs])  # those answered already keep their answer
        finally:
            for conn in held:
                with contextlib.suppress(Exception):
                    conn.close()
            if not idle:  # ended by an error: the next thread takes what is waiting
                with self._guard:
                    self._running = False
                    if not self._queue.empty():
                        self._start()

    def _write(self, jobs: list[_Job], held: list[Connection] | None = None) -> None:
        answers: list[tuple[_Job, Outcome]] = []
        alone: list[_Job] = []
        try:
            if held is not None and not held:
                held.append(self._db.engine.connect())
            with self._db.write(held[0] if held else None) as conn, audit.deferred(conn):
                fast.start_batch(conn)
                try:
                    work = [pipeline.Job(job.actor, job.event, job.digest) for job in jobs]
                    outcomes = pipeline.record(conn, work, atomic=False)
                finally:
                    fast.end_batch(conn)
            answers = list(zip(jobs, outcomes, strict=True))
        except Exception:  # noqa: BLE001 — nothing was written; each one on its own answers
            answers, alone = [], jobs
            if held:  # a fresh connection for the next batch
                with contextlib.suppress(Exception):
                    held.pop().close()
        _answer(answers)
        for job in alone:
            _write_alone(self._db, job)


def _write_alone(db: Database, job: _Job) -> None:
    from unitrace.ledger.service import record_events

    outcome: Outcome
    try:
        outcome = record_events(db, job.actor, [job.event])[0]
    except BaseException as error:  # noqa: BLE001 — the caller's request re-raises it
        outcome = error
    _answer([(job, outcome)])


_writers: weakref.WeakKeyDictionary[Database, GroupWriter] = weakref.WeakKeyDictionary()
_writers_guard = threading.Lock()


def _writer(db: Database) -> GroupWriter:
    writer = _writers.get(db)
    if writer is None:
        with _writers_guard:
            writer = _writers.get(db)
            if writer is None:
                writer = _writers[db] = GroupWriter(db)
    return writer


def submit(db: Database, actor: Actor, event: EventIn) -> Future[Recorded]:
    """Queue one event for the database's group writer; the future holds its answer."""
    return _writer(db).submit(actor, event)


async def record(db: Database, actor: Actor, event: EventIn) -> Recorded:
    """Queue one event from an event loop and wait for its answer (after the commit)."""
    check_request(actor, [event])  # refused before it queues for the writer
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[Recorded] = loop.create_future()
    _writer(db).put(_Job(actor, event, event_hash(event), None, loop, waiter))
    return await waiter
