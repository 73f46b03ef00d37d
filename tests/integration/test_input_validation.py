"""Bad input is refused with the field named and nothing used up: free JSON bounded, event
times plausible, look-alike serials, serial rules, the CLI's output file (each of these once
gave a 500, a traceback or a wrong state)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError as PydanticValidationError
from typer.testing import CliRunner

from tests.factories import make_product, make_units
from unitrace.access.principal import SYSTEM
from unitrace.cli.main import app
from unitrace.core.errors import ValidationError
from unitrace.db.engine import Database
from unitrace.ledger.schemas import CommissionIn, EventIn
from unitrace.ledger.service import commission_units


def nested(depth: int) -> dict:  # type: ignore[type-arg]
    value: object = 1
    for _ in range(depth):
        value = [value]
    return {"a": value}


def test_free_json_is_bounded() -> None:
    with pytest.raises(PydanticValidationError, match="deeper"):
        EventIn(type="inspect", serials=["A"], data=nested(300))
    with pytest.raises(PydanticValidationError, match="KB"):
        EventIn(type="inspect", serials=["A"], data={"x": "y" * 20_000})
    with pytest.raises(PydanticValidationError, match="deeper"):
        CommissionIn(product="P", count=1, attributes=nested(20))
    with pytest.raises(PydanticValidationError, match="64 characters"):
        EventIn(type="inspect", serials=["A" * 65])


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-14:00",
                                  "2999-01-01T00:00:00+00:00"])  # fmt: skip
def test_event_times_must_be_plausible(when: str) -> None:
    with pytest.raises(PydanticValidationError, match="between 1970 and tomorrow"):
        EventIn(type="inspect", serials=["A"], event_time=when)  # type: ignore[arg-type]


@pytest.mark.parametrize("serial", ["Ａ1", "A1\u200b", "e\u0301", "A1\u00a0"])
def test_look_alike_serials_are_refused(db: Database, serial: str) -> None:
    make_product(db, rule=None)
    with pytest.raises(ValidationError) as info:
        commission_units(db, SYSTEM, CommissionIn(product="AC1", serials=[serial]))
    assert info.value.errors[0].field == "serials.0"


def test_serial_rule_errors_name_the_products_field(db: Database) -> None:
    with pytest.raises(ValidationError) as info:
        make_product(db, rule="SN{nope}{seq:3}")
    assert info.value.errors[0].field == "serial_rule" and "{nope}" in info.value.detail


def test_cli_checks_the_output_file_before_making_units(
    db: Database, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    make_product(db, rule="X{seq:3}")
    monkeypatch.setenv("UNITRACE_DATABASE_URL", db.url)
    runner = CliRunner()
    bad = runner.invoke(app, ["serials", "generate", "AC1", "--count", "2", "--out",
                              str(tmp_path / "missing" / "f.txt")])  # fmt: skip
    assert bad.exit_code == 2 and "cannot write" in bad.output and "Traceback" not in bad.output
    assert make_units(db, count=1) == ["X001"]  # nothing was used up
    assert runner.invoke(app, ["demo", "--units", "10"]).exit_code == 2
    monkeypatch.setenv("UNITRACE_DATABASE_URL", "notaurl")
    broken = runner.invoke(app, ["ledger", "verify"])
    assert broken.exit_code == 2 and "not a database URL" in broken.output
