"""Two processes, two threads, one unit or one rule: constraints and transactions, not hope."""

from __future__ import annotations

import multiprocessing
import re
import threading

import pytest

from tests.factories import in_stock, make_party, make_product
from unitrace.access.principal import SYSTEM
from unitrace.core.errors import Conflict, InvalidTransition
from unitrace.db.engine import Database
from unitrace.ledger import queries
from unitrace.ledger.replay import verify_ledger
from unitrace.ledger.schemas import CommissionIn, EventIn
from unitrace.ledger.service import commission_units, record_events

PER_PROCESS = 10_000
BATCH = 250


def _generate(
    url: str, start: multiprocessing.synchronize.Event, out: multiprocessing.Queue
) -> None:  # type: ignore[type-arg]
    db = Database(url)
    start.wait(30)
    made: list[str] = []
    for _ in range(PER_PROCESS // BATCH):
        made += commission_units(db, SYSTEM, CommissionIn(product="AC1", count=BATCH)).serials
    out.put(made)
    db.dispose()


@pytest.mark.slow
def test_two_processes_share_one_sequence_without_gaps_or_repeats(db: Database) -> None:
    make_product(db, rule="SN{yy}-{seq:7}{check:gs1}")
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    workers = [ctx.Process(target=_generate, args=(db.url, start, out)) for _ in range(2)]
    for w in workers:
        w.start()
    start.set()
    results = [out.get(timeout=240) for _ in workers]
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    every = results[0] + results[1]
    assert len(every) == len(set(every)) == 2 * PER_PROCESS
    seqs = sorted(int(re.search(r"-(\d{7})", s).group(1)) for s in every)  # type: ignore[union-attr]
    assert seqs == list(range(1, 2 * PER_PROCESS + 1))


def _race(db: Database, events: list[EventIn]) -> list[object]:
    barrier = threading.Barrier(len(events))
    outcomes: list[object] = [None] * len(events)

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = record_events(db, SYSTEM, [events[i]])[0]
        except (Conflict, InvalidTransition) as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(events))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes


def test_two_clerks_ship_the_same_unit_one_wins(db: Database) -> None:
    serials = in_stock(db, 5)
    make_party(db, "D-SOUTH")
    for serial in serials:
        outcomes = _race(
            db,
            [
                EventIn(type="ship", product="AC1", serials=[serial], party="D-EAST"),
                EventIn(type="ship", product="AC1", serials=[serial], party="D-SOUTH"),
            ],
        )
        errors = [o for o in outcomes if isinstance(o, Exception)]
        assert len(errors) == 1, outcomes
        found = queries.dossier(db, SYSTEM, serial)
        assert [e["type"] for e in found["events"]].count("ship") == 1
        winner = next(o for o in outcomes if not isinstance(o, Exception))
        shipped_to = "D-EAST" if outcomes[0] is winner else "D-SOUTH"
        assert found["holder"] == shipped_to


def test_the_same_event_sent_twice_at_once_is_written_once(db: Database) -> None:
    serials = in_stock(db, 3)
    for i, serial in enumerate(serials):
        event = EventIn(
            event_id=f"dup-{i}", type="move", product="AC1", serials=[serial], location="WH1"
        )
        outcomes = _race(db, [event, event, event])
        assert all(not isinstance(o, Exception) for o in outcomes), outcomes
        assert sum(not o.replayed for o in outcomes) == 1  # type: ignore[attr-defined]
        found = queries.dossier(db, SYSTEM, serial)
        assert [e["type"] for e in found["events"]] == ["commission", "receive", "move"]


def test_two_batches_racing_for_one_unit_write_one_and_the_ledger_replays(db: Database) -> None:
    # each batch names units of its own and one unit both name: one batch wins, the other is
    # refused whole (its own units untouched), and a replay of the ledger agrees
    serials = in_stock(db, 3 * 5)
    make_party(db, "D-SOUTH")
    for k in range(5):
        mine, shared, theirs = serials[3 * k : 3 * k + 3]
        outcomes = _race(
            db,
            [
                EventIn(type="ship", product="AC1", serials=[mine, shared], party="D-EAST"),
                EventIn(type="ship", product="AC1", serials=[theirs, shared], party="D-SOUTH"),
            ],
        )
        errors = [o for o in outcomes if isinstance(o, Exception)]
        assert len(errors) == 1, outcomes
        won = 0 if errors[0] is outcomes[1] else 1
        winner, loser = (mine, theirs)[won], (mine, theirs)[1 - won]
        holder = ("D-EAST", "D-SOUTH")[won]
        assert queries.dossier(db, SYSTEM, shared)["holder"] == holder
        assert queries.dossier(db, SYSTEM, winner)["holder"] == holder
        lost = queries.dossier(db, SYSTEM, loser)
        assert (lost["status"], lost["holder"]) == ("in_stock", None)
        assert [e["type"] for e in lost["events"]] == ["commission", "receive"]
    assert verify_ledger(db, SYSTEM).ok


def test_a_lock_held_too_long_is_a_conflict_not_a_crash(db: Database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """SQLite: a writer that waits past the busy timeout gets a Conflict and writes nothing."""
    if not db.is_sqlite:
        pytest.skip("PostgreSQL waits on row locks instead")
    serials = in_stock(db, 1)
    impatient = Database(db.url, busy_timeout_ms=200)
    with db.write(), pytest.raises(Conflict, match="try again"):  # db holds the write lock
        record_events(impatient, SYSTEM, [EventIn(type="inspect", product="AC1", serials=serials)])
    impatient.dispose()
    assert [e["type"] for e in queries.dossier(db, SYSTEM, serials[0])["events"]] == [
        "commission",
        "receive",
    ]


def test_a_lock_taken_outside_unitrace_is_a_conflict_too(db: Database) -> None:
    """SQLite: another program (sqlite3 shell, a backup) holds the write lock without our
    lock file; BEGIN IMMEDIATE then times out, and that is a Conflict, not a driver error."""
    if not db.is_sqlite:
        pytest.skip("SQLite's own lock")
    import sqlite3

    from sqlalchemy.engine import make_url

    serials = in_stock(db, 1)
    other = sqlite3.connect(make_url(db.url).database, isolation_level=None)
    impatient = Database(db.url, busy_timeout_ms=200)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(Conflict, match="try again"):
            record_events(impatient, SYSTEM, [EventIn(type="inspect", product="AC1",
                                                     serials=serials)])  # fmt: skip
    finally:
        other.execute("ROLLBACK")
        other.close()
        impatient.dispose()
    assert len(queries.dossier(db, SYSTEM, serials[0])["events"]) == 2
