"""`unitrace claims rules|set|check|stolen`: the rules, a dry run, stolen reports."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.factories import make_location, make_product, make_units, record
from unitrace.db.engine import Database


def _sold(db: Database) -> str:
    make_product(db, warranty_months=24, warranty_start="sale")
    make_location(db)
    made = datetime.now(UTC) - timedelta(days=40)
    serial = make_units(db, count=1, event_time=made)[0]
    record(db, type="receive", serials=[serial], location="WH1", event_time=made)
    record(db, type="sell", serials=[serial], region="CN-31")
    return serial


def test_claims_set_changes_what_claims_check_shows(db: Database, cli: Any) -> None:
    serial = _sold(db)

    before = json.loads(cli("claims", "check", serial, "--region", "CN-44", "--json").stdout)
    done = cli("claims", "set", "region", "refuse", "--product", "AC1")
    after = cli("claims", "check", serial, "--region", "CN-44")
    rules = json.loads(cli("claims", "rules", "--product", "AC1", "--json").stdout)

    assert before["result"] == "flag"
    assert done.exit_code == 0, done.output
    assert after.exit_code == 0, after.output
    assert "refuse" in after.stdout and "CN-44" in after.stdout
    region = next(r for r in rules["checks"] if r["check"] == "region")
    assert (region["mode"], region["set_for"]) == ("refuse", "product")


def test_claims_set_with_bad_input_names_the_field_and_exits_non_zero(
    db: Database, cli: Any
) -> None:
    make_product(db)

    wrong_mode = cli("claims", "set", "region", "sometimes")
    bad_param = cli("claims", "set", "frequency", "flag", "--param", "claims=0")
    not_a_number = cli("claims", "set", "frequency", "flag", "--param", "claims")

    assert wrong_mode.exit_code != 0 and "mode" in wrong_mode.output
    assert bad_param.exit_code != 0 and "params.claims" in bad_param.output
    assert not_a_number.exit_code != 0 and "NAME=NUMBER" in not_a_number.output


def test_claims_stolen_refuses_the_claim_until_cleared(db: Database, cli: Any) -> None:
    serial = _sold(db)

    reported = cli("claims", "stolen", serial, "--note", "PR-1")
    refused = json.loads(cli("claims", "check", serial, "--json").stdout)
    cleared = cli("claims", "stolen", serial, "--clear")
    again = cli("claims", "stolen", serial, "--clear")

    assert reported.exit_code == 0, reported.output
    assert refused["result"] == "refuse"
    assert cleared.exit_code == 0, cleared.output
    assert again.exit_code != 0 and "not reported stolen" in again.output
