"""Replaying the ledger gives the stored projection: after a random workload, and not after
someone edits a unit behind the ledger's back."""

from __future__ import annotations

import random

from sqlalchemy import update
from typer.testing import CliRunner

from tests.factories import make_location, make_party, make_product, make_units
from unitrace.access.principal import SYSTEM
from unitrace.cli.main import app
from unitrace.core.errors import UnitraceError
from unitrace.core.lifecycle import Status
from unitrace.db.engine import Database
from unitrace.db.tables import units
from unitrace.ledger.replay import verify_ledger
from unitrace.ledger.schemas import EventIn, UnitRef
from unitrace.ledger.service import record_events

SIMPLE = [
    "inspect",
    "receive",
    "move",
    "ship",
    "deliver",
    "sell",
    "activate",
    "return",
    "repair",
    "count",
    "verify",
    "recall",
    "scrap",
]


def random_workload(db: Database, seed: int, steps: int = 250) -> tuple[int, int]:
    rng = random.Random(seed)
    make_product(db, "FG", rule="FG{seq:5}")
    make_product(db, "PART", rule="PT{seq:5}")
    for code in ("WH1", "WH2"):
        make_location(db, code)
    for code in ("D1", "D2"):
        make_party(db, code)
    finished = make_units(db, "FG", 40)
    parts = make_units(db, "PART", 60)
    accepted = rejected = 0
    for _ in range(steps):
        kind = rng.choice(SIMPLE + ["assemble", "disassemble", "replace_part"])
        fields: dict[str, object] = {"type": kind}
        if kind in ("assemble", "replace_part", "disassemble"):
            fields["product"] = "PART"
            fields["serials"] = rng.sample(parts, rng.randint(1, 2))
            fields["parent"] = UnitRef(product="FG", serial=rng.choice(finished))
            if kind == "replace_part":
                fields["removed"] = [UnitRef(product="PART", serial=rng.choice(parts))]
        else:
            product, pool = rng.choice([("FG", finished), ("PART", parts)])
            fields["product"] = product
            fields["serials"] = rng.sample(pool, rng.randint(1, 4))
        if kind in ("receive", "move") or (
            kind in ("deliver", "return", "disassemble") and rng.random() < 0.5
        ):
            fields["location"] = rng.choice(["WH1", "WH2"])
        if kind == "ship" or (kind in ("sell", "deliver") and rng.random() < 0.5):
            fields["party"] = rng.choice(["D1", "D2"])
        try:
            record_events(db, SYSTEM, [EventIn(**fields)])  # type: ignore[arg-type]
            accepted += 1
        except UnitraceError:
            rejected += 1
    return accepted, rejected


def test_replay_matches_projection_after_random_workload(db: Database) -> None:
    accepted, rejected = random_workload(db, seed=7)
    assert accepted > 50 and rejected > 10  # the workload exercised both paths
    result = verify_ledger(db, SYSTEM)
    assert result.units == 100
    assert result.events == accepted + 2
    assert result.mismatches == []


def test_verify_names_a_unit_edited_behind_the_ledger(db: Database, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    random_workload(db, seed=11, steps=120)
    with db.write() as conn:
        conn.execute(
            update(units)
            .where(units.c.serial == "FG00003")
            .values(status=int(Status.SCRAPPED), location_id=None)
        )
        conn.execute(update(units).where(units.c.serial == "PT00009").values(status=55))
    result = verify_ledger(db, SYSTEM)
    assert [m.serial for m in result.mismatches] == ["FG00003", "PT00009"]
    assert "status: ledger says" in result.mismatches[0].problem
    assert "unknown status 55" in result.mismatches[1].problem
    monkeypatch.setenv("UNITRACE_DATABASE_URL", db.url)
    outcome = CliRunner().invoke(app, ["ledger", "verify"])
    assert outcome.exit_code == 1
    assert "FG00003" in outcome.output
