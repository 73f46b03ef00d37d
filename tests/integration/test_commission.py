import re
from datetime import date

import pytest
from sqlalchemy import func, select

from tests.clients import Api
from tests.factories import make_location, make_lot, make_product, make_units
from unitrace.access.principal import SYSTEM
from unitrace.core.errors import Conflict, NotFound, ValidationError
from unitrace.core.serials import GenerationContext, SerialTemplate
from unitrace.db.engine import Database
from unitrace.db.tables import events, units
from unitrace.ledger import queries
from unitrace.ledger.schemas import CommissionIn
from unitrace.ledger.service import commission_units


def count_rows(db: Database, table: object) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_count_makes_distinct_serials_matching_the_rule(db: Database) -> None:
    make_product(db)
    make_location(db)
    make_lot(db, "AC1", "L1")
    serials = make_units(db, count=1000, lot="L1", location="WH1")
    assert len(set(serials)) == 1000
    template = SerialTemplate.parse("SN{yy}{mm}-{seq:6}{check:luhn}")
    assert all(template.mismatch(s) is None for s in serials)
    more = make_units(db, count=5)
    seqs = [int(re.search(r"-(\d{6})", s).group(1)) for s in serials + more]  # type: ignore[union-attr]
    assert seqs == list(range(1, 1006))  # one sequence, no gaps, no reuse
    dossier = queries.dossier(db, SYSTEM, serials[10])
    assert dossier["lot"]["number"] == "L1" and dossier["location"] == "WH1"
    assert dossier["status"] == "commissioned"


def test_registered_serials_duplicates_are_reported_one_by_one(db: Database) -> None:
    make_product(db, rule=None)
    commission_units(db, SYSTEM, CommissionIn(product="AC1", serials=["A-1", "A-2"]))
    with pytest.raises(Conflict) as info:
        commission_units(db, SYSTEM, CommissionIn(product="AC1", serials=["A-3", "A-2", "A-1"]))
    assert {(e.field, e.value) for e in info.value.errors} == {
        ("serials.1", "A-2"),
        ("serials.2", "A-1"),
    }
    with pytest.raises(ValidationError) as info:
        commission_units(db, SYSTEM, CommissionIn(product="AC1", serials=["B", "C", "B", " "]))
    assert [(e.field, e.message) for e in info.value.errors] == [
        ("serials.2", "duplicate of serials.0"),
        ("serials.3", "contains spaces, invisible or control characters"),
    ]
    assert count_rows(db, units) == 2
    assert count_rows(db, events) == 1


def test_registered_serials_must_match_the_rule(db: Database) -> None:
    make_product(db)
    template = SerialTemplate.parse("SN{yy}{mm}-{seq:6}{check:luhn}")
    good = template.render(GenerationContext(date(2026, 1, 5)), 900, 1)[0]
    with pytest.raises(ValidationError) as info:
        commission_units(
            db, SYSTEM, CommissionIn(product="AC1", serials=[good, "SN-1", good[:-1] + "X"])
        )
    assert [e.field for e in info.value.errors] == ["serials.1", "serials.2"]
    assert count_rows(db, units) == 0
    commission_units(db, SYSTEM, CommissionIn(product="AC1", serials=[good]))
    assert count_rows(db, units) == 1


def test_generation_skips_serials_registered_by_hand(db: Database) -> None:
    make_product(db, rule="X{seq:3}")
    commission_units(db, SYSTEM, CommissionIn(product="AC1", serials=["X002", "X003"]))
    serials = make_units(db, count=3)
    assert serials == ["X001", "X004", "X005"]


def test_products_not_tracked_by_serial_and_unknown_refs(db: Database) -> None:
    make_product(db, "SCREW", rule=None, tracking="lot")
    with pytest.raises(ValidationError) as info:
        commission_units(db, SYSTEM, CommissionIn(product="SCREW", serials=["S1"]))
    assert info.value.errors[0].field == "product"
    make_product(db)
    with pytest.raises(NotFound) as info:
        make_units(db, count=2, lot="NOPE")
    assert info.value.errors[0].field == "lot"
    with pytest.raises(NotFound):
        make_units(db, count=2, location="NOWHERE")
    make_product(db, "NORULE", rule=None)
    with pytest.raises(ValidationError) as info:
        make_units(db, "NORULE", count=2)
    assert info.value.errors[0].field == "count"
    assert count_rows(db, units) == 0


def test_commission_is_idempotent_by_event_id(db: Database) -> None:
    make_product(db)
    first = commission_units(db, SYSTEM, CommissionIn(product="AC1", count=10, event_id="job-1"))
    again = commission_units(db, SYSTEM, CommissionIn(product="AC1", count=10, event_id="job-1"))
    assert again.replayed and again.serials == first.serials
    assert count_rows(db, units) == 10
    with pytest.raises(Conflict) as info:
        commission_units(db, SYSTEM, CommissionIn(product="AC1", count=11, event_id="job-1"))
    assert info.value.errors[0].field == "event_id"
    assert make_units(db, count=1)[0][7:13] == "000011"  # the replay used no sequence values


def test_commission_reports_an_existing_and_an_off_rule_serial_together(
    db: Database, api: Api
) -> None:
    """Issue 13: a serial that already exists was hidden by one off the product's rule."""
    make_product(db, rule="X{seq:3}")
    made = api.post("/units/commission", {"product": "AC1", "serials": ["X001"]})
    assert made.status_code == 201
    both = api.post("/units/commission", {"product": "AC1", "serials": ["X001", "Y-9", "X002"]})
    assert both.status_code == 422
    problems = {(e["field"], e["value"]): e["message"] for e in both.json()["errors"]}
    assert problems.keys() == {("serials.0", "X001"), ("serials.1", "Y-9")}
    assert problems[("serials.0", "X001")] == "already exists"
    assert count_rows(db, units) == 1  # nothing was written
