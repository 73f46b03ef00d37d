"""`unitrace labels print / reprint / runs`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.factories import make_lot, make_product, make_units
from unitrace.access import audit
from unitrace.access.principal import SYSTEM
from unitrace.db.engine import Database


@pytest.fixture(autouse=True)
def labels_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNITRACE_HOME", str(tmp_path / "home"))


def test_print_a_lot_as_zpl_shows_progress_and_writes_the_file(
    db: Database, cli: Any, tmp_path: Path
) -> None:
    make_product(db, "AC1", gtin="09506000134352")
    make_lot(db, "AC1", "L1")
    make_units(db, "AC1", 30, lot="L1")
    out = tmp_path / "labels.zpl"
    args = ["--lot", "L1", "--product", "AC1", "--format", "zpl", "--out", str(out)]
    result = cli("labels", "print", *args)
    assert result.exit_code == 0, result.output
    assert "LR-000001: 30 labels in" in result.output
    assert "30/30" in result.output  # the progress bar's last state
    assert out.read_text().count("^XA") == 30


def test_print_serials_from_a_file_then_reprint_with_a_reason(
    db: Database, cli: Any, tmp_path: Path
) -> None:
    make_product(db, "AC1")
    serials = make_units(db, "AC1", 3)
    listed = tmp_path / "serials.txt"
    listed.write_text("\n".join(serials[:2]) + "\n\n")
    first = cli("labels", "print", "--serials", str(listed), "--product", "AC1", "--quiet")
    assert first.exit_code == 0, first.output
    assert cli("labels", "reprint", "LR-000001", "--reason", "").exit_code == 2
    again = cli("labels", "reprint", "LR-000001", "--reason", "jammed printer", "--quiet")
    assert again.exit_code == 0, again.output
    shown = json.loads(cli("labels", "runs", "--json").output)
    assert [(r["number"], r["reprint_of"], r["total"]) for r in shown] == [
        ("LR-000002", "LR-000001", 2),
        ("LR-000001", None, 2),
    ]
    trail = audit.list_records(db, SYSTEM, entity="label_run", entity_key="LR-000002")
    assert trail["items"][0]["after"]["reason"] == "jammed printer"


def test_no_source_or_an_unknown_one_exits_non_zero_naming_it(db: Database, cli: Any) -> None:
    make_product(db, "AC1")
    none = cli("labels", "print")
    assert none.exit_code == 2 and "source" in none.output
    unknown = cli("labels", "print", "--carton", "CTN-NONE")
    assert unknown.exit_code == 3 and "CTN-NONE" in unknown.output
