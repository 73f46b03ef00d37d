"""`unitrace case …`: the same use cases as the API, with a clear message and exit code."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.test_cases_lifecycle import _world
from unitrace.access.principal import SYSTEM
from unitrace.db.engine import Database
from unitrace.ledger import queries
from unitrace.ledger.replay import verify_ledger


def test_a_case_is_opened_repaired_with_a_new_part_and_closed_from_the_command_line(
    db: Database, cli: Any
) -> None:
    serial = _world(db)

    opened = cli("case", "open", serial, "--location", "SVC1", "--reporter", "D-EAST", "--json")
    assert opened.exit_code == 0, opened.output
    number = json.loads(opened.stdout)["number"]
    steps = [
        ("step", number, "receive_return"),
        ("state", number, "diagnosed"),
        (
            "part",
            number,
            "--removed",
            "PCB-1",
            "--installed",
            "PCB-2",
            "--reason",
            "burnt",
            "--consumed",
            "GLUE:G1:2",
        ),
        ("step", number, "inspect", "--result", "pass"),
        ("state", number, "closed", "--outcome", "resolved"),
    ]
    outputs = [cli("case", *args) for args in steps]

    assert [o.exit_code for o in outputs] == [0] * 5, [o.output for o in outputs]
    assert "PCB-1 → PCB-2, old part to RET1" in outputs[2].stdout
    assert f"{number}: closed (resolved)" in outputs[4].stdout
    assert queries.dossier(db, SYSTEM, serial)["components"][0]["serial"] == "PCB-2"
    assert verify_ledger(db, SYSTEM).ok


def test_a_refused_claim_and_a_bad_state_say_why_and_exit_non_zero(db: Database, cli: Any) -> None:
    serial = _world(db)
    assert cli("case", "open", serial).exit_code == 0

    second = cli("case", "open", serial)
    number = "SC-000001"
    unclosed = cli("case", "state", number, "closed")
    consumed = cli("case", "part", number, "--consumed", "GLUE-2")

    assert second.exit_code == 4 and "checks.open_case" in second.output
    assert unclosed.exit_code == 2 and "outcome" in unclosed.output
    assert consumed.exit_code == 2 and "PRODUCT:LOT:QUANTITY" in consumed.output


def test_a_case_is_shown_with_its_timeline_and_parts_and_listed_by_state(
    db: Database, cli: Any
) -> None:
    serial = _world(db)
    number = json.loads(cli("case", "open", serial, "--location", "SVC1", "--json").stdout)[
        "number"
    ]
    cli("case", "step", number, "receive_return", "--note", "brought in")
    cli("case", "part", number, "--removed", "PCB-1", "--installed", "PCB-2", "--reason", "burnt")

    shown = cli("case", "show", number)
    listed = cli("case", "list", "--state", "open")
    closed = cli("case", "list", "--state", "closed", "--json")

    assert shown.exit_code == 0, shown.output
    assert "return" in shown.stdout and "brought in" in shown.stdout
    assert "part PCB-1 → PCB-2 burnt" in shown.stdout
    assert listed.exit_code == 0 and number in listed.stdout and "1 cases" in listed.stdout
    assert json.loads(closed.stdout)["total"] == 0
    assert cli("case", "show", "SC-999999").exit_code == 3
