"""Production at its edges: extreme trace windows, exports with hostile text, CLI input, batches
that answer like single events, the route gate on every first entry into stock, lots and
serials not mixed up, recalls not carried out inside another unit, step times, and what a
partner's dossier hides (each once answered wrongly; found by a review of issue 4)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.clients import Api, assert_problem
from tests.factories import make_location, make_lot, make_party, make_product, record
from unitrace.access import service as access
from unitrace.access.principal import SYSTEM
from unitrace.core.errors import InvalidTransition, NotFound, ValidationError
from unitrace.db.engine import Database
from unitrace.ledger import queries
from unitrace.ledger import service as ledger
from unitrace.ledger.schemas import CommissionIn, EventIn
from unitrace.production import quality, recall
from unitrace.production import service as production
from unitrace.production.schemas import BomIn, RecallIn, RouteIn, TraceQuery


@pytest.fixture
def plant(db: Database) -> Database:
    make_location(db, "WH1")
    make_party(db, "SUP-A", "supplier")
    make_party(db, "D-EAST", regions=["CN-31"])
    for code in ("CHIP", "BOARD", "MACHINE", "OTHER"):
        make_product(db, code, rule=None)
    make_product(db, "GLUE", rule=None, tracking="lot")
    make_lot(db, "CHIP", "C-1", supplier="SUP-A")
    make_lot(db, "GLUE", "G-7")
    return db


def units(db: Database, product: str, *serials: str, **kw: Any) -> list[str]:
    made = CommissionIn(product=product, serials=list(serials), **kw)
    return ledger.commission_units(db, SYSTEM, made).serials


def assemble(db: Database, parent: tuple[str, str], product: str, serials: list[str]) -> Any:
    return record(db, type="assemble", product=product, serials=serials,
                  parent={"product": parent[0], "serial": parent[1]})  # fmt: skip


def test_extreme_windows_are_422_not_500(api: Api) -> None:
    window = {"since": "0001-01-01T00:00:00+14:00", "until": "9999-12-31T23:59:59-14:00"}
    assert_problem(api.get("/trace/forward", operator="bob", **window), 422, "since")
    assert_problem(api.get("/quality/yield", since=window["since"]), 422, "since")
    assert_problem(api.post("/recalls", {"code": "R", "title": "t",
                                         "trace": {"operator": "b", **window}}), 422)  # fmt: skip


def test_exports_drop_control_characters_and_defuse_formulas(plant: Database) -> None:
    board = units(plant, "BOARD", "B1")[0]
    production.set_route(plant, SYSTEM, "BOARD", RouteIn(steps=[{"code": "FQC", "name": "q"}]))
    record(plant, type="inspect", product="BOARD", serials=[board], operator="=cmd|' /C calc'!A0",
           step={"code": "FQC", "result": "fail", "defect_code": "X\x01Y"})  # fmt: skip
    by_operator = quality.yield_report(plant, SYSTEM, "operator")["items"]
    assert quality.to_csv(quality.COLUMNS, by_operator).splitlines()[1].startswith("'=cmd")
    pareto = quality.defect_pareto(plant, SYSTEM)["items"]
    sheet = load_workbook(io.BytesIO(quality.to_xlsx("d", ("defect_code",), pareto))).active
    assert sheet is not None and sheet.cell(2, 1).value == "XY"


def test_cli_prints_markup_like_serials_literally(plant: Database, cli) -> None:  # type: ignore[no-untyped-def]
    weird = units(plant, "OTHER", "[/bold]M1")[0]
    out = cli("trace", "back", weird)
    assert out.exit_code == 0 and "[/bold]M1" in out.output
    assert cli("unit", "show", weird).exit_code == 0


def test_bom_file_must_be_an_object(plant: Database, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    listed = tmp_path / "bom.json"
    listed.write_text("[1, 2]")
    out = cli("product", "bom", "MACHINE", str(listed))
    assert out.exit_code == 2 and "one JSON object" in out.output


def test_batches_with_other_fields_answer_like_single_events(plant: Database) -> None:
    machines = units(plant, "MACHINE", *[f"M{i}" for i in range(50)])
    boards = units(plant, "BOARD", *[f"B{i}" for i in range(50)])
    batch = [EventIn(type="assemble", product="BOARD", serials=[b], party="NO-SUCH",
                     parent={"product": "MACHINE", "serial": m})
             for m, b in zip(machines, boards, strict=True)]  # fmt: skip
    with pytest.raises(NotFound, match="NO-SUCH"):
        ledger.record_events(plant, SYSTEM, batch)
    same_parent = [EventIn(type="assemble", product="BOARD", serials=[b],
                           parent={"product": "MACHINE", "serial": machines[i % 25]})
                   for i, b in enumerate(boards)]  # fmt: skip
    assert len(ledger.record_events(plant, SYSTEM, same_parent)) == 50  # two boards a machine


def test_route_gate_holds_on_every_first_entry_into_stock(plant: Database) -> None:
    production.set_route(plant, SYSTEM, "BOARD", RouteIn(steps=[{"code": "FQC", "name": "q"}]))
    failed, inside = units(plant, "BOARD", "B1", "B2")
    record(plant, type="inspect", product="BOARD", serials=[failed],
           step={"code": "FQC", "result": "fail"})  # fmt: skip
    record(plant, type="recall", product="BOARD", serials=[failed])
    with pytest.raises(InvalidTransition, match="failed required step FQC"):
        record(plant, type="receive", product="BOARD", serials=[failed], location="WH1")
    machine = units(plant, "MACHINE", "M1")[0]
    assemble(plant, ("MACHINE", machine), "BOARD", [inside])
    with pytest.raises(InvalidTransition, match="skipped required step FQC"):
        record(plant, type="disassemble", product="BOARD", serials=[inside], location="WH1",
               parent={"product": "MACHINE", "serial": machine})  # fmt: skip


def test_a_serial_tracked_part_cannot_be_consumed_as_a_lot(plant: Database) -> None:
    production.set_bom(plant, SYSTEM, "BOARD", BomIn(lines=[{"component": "CHIP",
                                                             "quantity": 2}]))  # fmt: skip
    board = units(plant, "BOARD", "B1")[0]
    with pytest.raises(ValidationError, match="tracked by serial"):
        record(plant, type="assemble", parent={"product": "BOARD", "serial": board},
               consumed=[{"product": "CHIP", "lot": "C-1", "quantity": 2}])  # fmt: skip


def test_one_unit_named_twice_is_an_input_error(plant: Database) -> None:
    chip = units(plant, "CHIP", "C1")[0]
    with pytest.raises(ValidationError, match="named twice"):
        record(plant, type="inspect", serials=[chip], units=[{"serial": chip, "product": "CHIP"}])


def test_recall_cannot_be_carried_out_inside_another_unit_or_settled_by_any_part(
    plant: Database,
) -> None:
    machine, other = units(plant, "MACHINE", "M1"), units(plant, "OTHER", "O1")
    chip, unrelated = units(plant, "CHIP", "C1", lot="C-1")[0], units(plant, "CHIP", "C2")[0]
    spare = units(plant, "CHIP", "C3")[0]
    assemble(plant, ("MACHINE", machine[0]), "CHIP", [chip, unrelated])
    record(plant, type="receive", product="MACHINE", serials=machine, location="WH1")
    chip_lot = TraceQuery(product="CHIP", lot="C-1")
    recall.create_recall(plant, SYSTEM, RecallIn(code="R1", title="t", trace=chip_lot))
    with pytest.raises(InvalidTransition, match="open recall R1"):
        assemble(plant, ("OTHER", other[0]), "MACHINE", machine)
    record(plant, type="replace_part", product="CHIP", serials=[spare],
           parent={"product": "MACHINE", "serial": machine[0]},
           removed=[{"product": "CHIP", "serial": unrelated}])  # fmt: skip
    with pytest.raises(InvalidTransition, match="open recall R1"):
        record(plant, type="ship", product="MACHINE", serials=machine, party="D-EAST")
    assert recall.progress(plant, SYSTEM, "R1")["outcomes"]["replaced"] == 1


def test_first_receipt_from_production_is_not_a_return(plant: Database) -> None:
    machine = units(plant, "MACHINE", "M1")
    recall.create_recall(plant, SYSTEM, RecallIn(code="R2", title="t",
                                                 trace=TraceQuery(serial="M1")))  # fmt: skip
    record(plant, type="receive", product="MACHINE", serials=machine, location="WH1")
    assert recall.progress(plant, SYSTEM, "R2")["outcomes"]["returned"] == 0


def test_component_lot_counts_each_result_once(plant: Database) -> None:
    production.set_route(plant, SYSTEM, "BOARD", RouteIn(steps=[{"code": "FQC", "name": "q"}]))
    board = units(plant, "BOARD", "B1")[0]
    chips = units(plant, "CHIP", "C1", "C2", lot="C-1")
    assemble(plant, ("BOARD", board), "CHIP", chips)
    for _ in range(2):
        record(plant, type="assemble", parent={"product": "BOARD", "serial": board},
               consumed=[{"product": "GLUE", "lot": "G-7", "quantity": 1}])  # fmt: skip
    record(plant, type="inspect", product="BOARD", serials=[board],
           step={"code": "FQC", "result": "pass"})  # fmt: skip
    found = {r["key"]: r["records"] for r in
             quality.yield_report(plant, SYSTEM, "component_lot")["items"]}  # fmt: skip
    assert found == {"C-1": 1, "G-7": 1}


def test_step_cannot_start_after_it_ended(plant: Database) -> None:
    production.set_route(plant, SYSTEM, "BOARD", RouteIn(steps=[{"code": "FQC", "name": "q"}]))
    board = units(plant, "BOARD", "B1", event_time="2025-12-01T00:00:00+00:00")[0]
    with pytest.raises(ValidationError, match="started_at"):
        record(plant, type="inspect", product="BOARD", serials=[board],
               event_time="2026-01-01T00:00:00+00:00",
               step={"code": "FQC", "result": "pass",
                     "started_at": "2026-01-02T00:00:00+00:00"})  # fmt: skip


def test_partner_dossier_hides_operators_equipment_and_suppliers(plant: Database) -> None:
    make_lot(plant, "MACHINE", "M-L", supplier="SUP-A")
    machine = units(plant, "MACHINE", "M1", lot="M-L")[0]
    chip = units(plant, "CHIP", "C1", lot="C-1")[0]
    record(plant, type="assemble", product="CHIP", serials=[chip], operator="alice",
           equipment="press-7", parent={"product": "MACHINE", "serial": machine})  # fmt: skip
    record(plant, type="receive", product="MACHINE", serials=[machine], location="WH1")
    record(plant, type="ship", product="MACHINE", serials=[machine], party="D-EAST")
    access.create_user(plant, SYSTEM, "east", "correct horse battery", "partner", "D-EAST")
    east = access.check_password(plant, "east", "correct horse battery")
    seen = str(queries.dossier(plant, east, machine, "MACHINE"))
    assert "alice" not in seen and "press-7" not in seen and "SUP-A" not in seen
    assert "SUP-A" in str(queries.dossier(plant, SYSTEM, machine, "MACHINE"))  # staff see it
