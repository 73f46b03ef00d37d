"""`unitrace warranty SERIAL [--json]`, its --extend/--void/--unvoid, and `warranty-policy`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.factories import make_location, make_party, make_product, make_units, record
from unitrace.aftersales import warranty
from unitrace.db.engine import Database


def _sold(db: Database, months_ago: int) -> str:
    make_product(db, warranty_months=24, warranty_start="sale")
    make_location(db)
    today = datetime.now(UTC).date()
    day = warranty.add_months(today, -months_ago)
    sold = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    serial = make_units(db, count=1, event_time=sold - timedelta(days=30))[0]
    record(db, type="receive", serials=[serial], location="WH1", event_time=sold - timedelta(20))
    record(db, type="sell", serials=[serial], event_time=sold)
    return serial


def test_warranty_serial_prints_the_verdict_in_words_and_as_json(db: Database, cli: Any) -> None:
    serial = _sold(db, 25)

    shown = cli("warranty", serial)
    as_json = cli("warranty", serial, "--json")

    assert shown.exit_code == 0, shown.output
    found = json.loads(as_json.stdout)
    assert found["status"] == "expired"
    assert f"expired since {found['end_date']}" in shown.output
    assert "24 months from sale" in shown.output
    dossier = cli("unit", "show", serial)
    assert f"expired since {found['end_date']}" in dossier.output  # the ledger CLI agrees


def test_extend_void_and_unvoid_from_the_command_line(db: Database, cli: Any) -> None:
    serial = _sold(db, 25)

    extended = cli("warranty", serial, "--extend", "12", "--paid", "bought", "--reason", "pack")
    assert extended.exit_code == 0, extended.output
    assert "in_warranty until" in extended.output and "+12 months, bought: pack" in extended.output
    voided = cli("warranty", serial, "--void", "--reason", "seal broken")
    assert voided.exit_code == 0 and "void: seal broken" in voided.output
    again = cli("warranty", serial, "--void", "--reason", "twice")
    assert again.exit_code == 4 and "already void" in again.output
    lifted = cli("warranty", serial, "--unvoid", "--reason", "mistake")
    assert lifted.exit_code == 0 and "in_warranty until" in lifted.output


def test_bad_warranty_commands_say_what_is_wrong_and_change_nothing(db: Database, cli: Any) -> None:
    serial = _sold(db, 2)

    no_reason = cli("warranty", serial, "--void")
    both = cli("warranty", serial, "--void", "--unvoid", "--reason", "x")
    zero = cli("warranty", serial, "--extend", "0", "--paid", "free", "--reason", "x")
    unknown = cli("warranty", "NOPE")

    assert no_reason.exit_code == 2 and "reason" in no_reason.output
    assert both.exit_code == 2 and "one change at a time" in both.output
    assert zero.exit_code == 2 and "months" in zero.output and "paid" in zero.output
    assert unknown.exit_code == 3 and "NOPE" in unknown.output
    assert json.loads(cli("warranty", serial, "--json").stdout)["status"] == "in_warranty"


def test_warranty_policy_sets_lists_and_clears_overrides(db: Database, cli: Any) -> None:
    make_product(db, warranty_months=24)
    make_party(db, "D-EAST")

    set_ = cli("warranty-policy", "AC1", "--set", "CN-31=36", "--set", "party:D-EAST=48")
    listed = json.loads(cli("warranty-policy", "AC1", "--json").stdout)
    bad = cli("warranty-policy", "AC1", "--set", "CN-31=many")
    cleared = cli("warranty-policy", "AC1", "--clear", "--json")

    assert set_.exit_code == 0, set_.output
    assert "region CN-31" in set_.output and "party D-EAST" in set_.output
    assert listed["overrides"] == [
        {"region": "CN-31", "party": None, "months": 36},
        {"region": None, "party": "D-EAST", "months": 48},
    ]
    assert bad.exit_code == 2 and "REGION=MONTHS" in bad.output
    assert json.loads(cleared.stdout)["overrides"] == []
