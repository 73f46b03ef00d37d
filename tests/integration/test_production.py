"""Production: assembly with lots and BOM, route steps, trace both ways through nesting,
recalls that block shipping, and quality figures checked against hand-computed ones."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event as sa_event

from tests.factories import make_location, make_lot, make_party, make_product, make_units, record
from unitrace.access.principal import SYSTEM
from unitrace.core.errors import InvalidTransition, ValidationError
from unitrace.db.engine import Database
from unitrace.ledger import queries
from unitrace.production import quality, recall, trace
from unitrace.production import service as production
from unitrace.production.schemas import BomIn, RecallIn, RouteIn, TraceQuery


def assemble(db: Database, parent: tuple[str, str], product: str, serials: list[str],
             **kw: Any) -> Any:  # fmt: skip
    return record(db, type="assemble", product=product, serials=serials,
                  parent={"product": parent[0], "serial": parent[1]}, **kw)  # fmt: skip


def serials_of(found: dict[str, Any]) -> set[str]:
    return {u["serial"] for u in found["items"]}


@pytest.fixture
def plant(db: Database) -> Database:
    """Products CHIP (lot-tracked chips bought from SUP-A) → BOARD → MODULE → MACHINE, a glue
    lot consumed by modules, a warehouse, a distributor."""
    make_location(db, "WH1")
    make_location(db, "ST1", kind="station")
    make_party(db, "SUP-A", "supplier")
    make_party(db, "D-EAST", regions=["CN-31"])
    for code in ("CHIP", "BOARD", "MODULE", "MACHINE"):
        make_product(db, code, rule=f"{code}{{seq:5}}")
    make_product(db, "GLUE", rule=None, tracking="lot")
    make_lot(db, "CHIP", "C-LOT-1", supplier="SUP-A")
    make_lot(db, "CHIP", "C-LOT-2")
    make_lot(db, "GLUE", "G-7", supplier="SUP-A")
    return db


def build_machine(db: Database, chip_lot: str = "C-LOT-1") -> dict[str, str]:
    """One machine holding a module holding a board holding a chip: 4 levels."""
    chip = make_units(db, "CHIP", 1, lot=chip_lot)[0]
    board = make_units(db, "BOARD", 1)[0]
    module = make_units(db, "MODULE", 1)[0]
    machine = make_units(db, "MACHINE", 1)[0]
    assemble(db, ("BOARD", board), "CHIP", [chip])
    assemble(db, ("MODULE", module), "BOARD", [board],
             consumed=[{"product": "GLUE", "lot": "G-7", "quantity": 3}])  # fmt: skip
    assemble(db, ("MACHINE", machine), "MODULE", [module])
    return {"chip": chip, "board": board, "module": module, "machine": machine}


def test_nested_assembly_four_deep_traced_both_ways(plant: Database) -> None:
    first, second = build_machine(plant), build_machine(plant, "C-LOT-2")
    record(plant, type="receive", product="MACHINE", serials=[first["machine"]], location="WH1")
    record(plant, type="ship", product="MACHINE", serials=[first["machine"]], party="D-EAST")

    tree = trace.backward(plant, SYSTEM, first["machine"], "MACHINE")
    module = tree["components"][0]
    board = module["components"][0]
    chip = board["components"][0]
    assert [module["serial"], board["serial"], chip["serial"]] == [
        first["module"], first["board"], first["chip"]]  # fmt: skip
    assert (chip["depth"], chip["lot"], chip["supplier"]) == (3, "C-LOT-1", "SUP-A")
    assert module["consumed"] == [{"product": "GLUE", "lot": "G-7", "supplier": "SUP-A",
                                   "quantity": 3}]  # fmt: skip

    from_chip = trace.forward(plant, SYSTEM, TraceQuery(serial=first["chip"], product="CHIP"))
    assert from_chip["total"] == 1
    hit = from_chip["items"][0]
    assert (hit["serial"], hit["status"], hit["holder"]) == (first["machine"], "in_transit",
                                                             "D-EAST")  # fmt: skip
    by_lot = trace.forward(plant, SYSTEM, TraceQuery(product="CHIP", lot="C-LOT-2"))
    assert serials_of(by_lot) == {second["machine"]}
    glue = trace.forward(plant, SYSTEM, TraceQuery(product="GLUE", lot="G-7"))
    assert serials_of(glue) == {first["machine"], second["machine"]}
    supplier = trace.forward(plant, SYSTEM, TraceQuery(supplier="SUP-A"))
    assert serials_of(supplier) == {first["machine"], second["machine"]}  # chips or glue


def test_station_equipment_operator_window(plant: Database) -> None:
    units = build_machine(plant)
    now = datetime.now(UTC) + timedelta(hours=4)  # after the commission: later today
    record(plant, type="inspect", product="BOARD", serials=[units["board"]], location="ST1",
           equipment="AOI-3", operator="wang.fang",
           event_time=now - timedelta(hours=2))  # fmt: skip
    window = {"since": now - timedelta(hours=3), "until": now - timedelta(hours=1)}
    for start in ({"station": "ST1"}, {"equipment": "AOI-3"}, {"operator": "wang.fang"}):
        assert serials_of(trace.forward(plant, SYSTEM, TraceQuery(**start, **window))) == {
            units["machine"]}  # fmt: skip
    later = {"since": now - timedelta(minutes=50), "until": now}
    assert trace.forward(plant, SYSTEM, TraceQuery(equipment="AOI-3", **later))["total"] == 0
    with pytest.raises(ValueError, match="time window"):
        TraceQuery(equipment="AOI-3")


def test_double_installation_is_refused_naming_the_holder(plant: Database) -> None:
    units = build_machine(plant)
    other_board = make_units(plant, "BOARD", 1)[0]
    with pytest.raises(InvalidTransition) as refused:
        assemble(plant, ("BOARD", other_board), "CHIP", [units["chip"]])
    assert f"installed in BOARD/{units['board']}" in refused.value.detail


def test_replaced_part_leaves_the_recall_and_keeps_its_history(plant: Database) -> None:
    units = build_machine(plant)
    spare = make_units(plant, "MODULE", 1)[0]
    record(plant, type="replace_part", product="MODULE", serials=[spare],
           parent={"product": "MACHINE", "serial": units["machine"]},
           removed=[{"product": "MODULE", "serial": units["module"]}])  # fmt: skip
    affected = trace.forward(plant, SYSTEM, TraceQuery(serial=units["chip"], product="CHIP"))
    assert units["machine"] not in serials_of(affected)
    assert serials_of(affected) == {units["module"]}  # the removed module itself, chip inside
    old = queries.dossier(plant, SYSTEM, units["module"], "MODULE")
    replaced = [e for e in old["events"] if e["type"] == "replace_part"]
    assert replaced and replaced[0]["parent"] == units["machine"]
    history = trace.backward(plant, SYSTEM, units["machine"], "MACHINE")
    assert [r["serial"] for r in history["removed"]] == [units["module"]]
    assert [c["serial"] for c in history["components"]] == [spare]


def test_recall_blocks_shipping_until_repaired(plant: Database) -> None:
    first, second = build_machine(plant), build_machine(plant, "C-LOT-2")
    both = [first["machine"], second["machine"]]
    record(plant, type="receive", product="MACHINE", serials=both, location="WH1")
    chip_lot = TraceQuery(product="CHIP", lot="C-LOT-1")
    opened = recall.create_recall(
        plant, SYSTEM, RecallIn(code="RC-1", title="Chip lot C-LOT-1 overheats", trace=chip_lot)
    )
    assert opened["units"] == 1
    with pytest.raises(InvalidTransition) as blocked:
        record(plant, type="ship", product="MACHINE", serials=both, party="D-EAST")
    assert "RC-1" in blocked.value.detail and first["machine"] in blocked.value.detail
    record(plant, type="ship", product="MACHINE", serials=[second["machine"]], party="D-EAST")
    record(plant, type="repair", product="MACHINE", serials=[first["machine"]])
    record(plant, type="ship", product="MACHINE", serials=[first["machine"]], party="D-EAST")
    status = recall.progress(plant, SYSTEM, "RC-1")
    assert status["outcomes"]["repaired"] == 1 and status["units"] == 1


def test_recall_progress_and_notices(plant: Database) -> None:
    machines = [build_machine(plant)["machine"] for _ in range(5)]
    record(plant, type="receive", product="MACHINE", serials=machines, location="WH1")
    record(plant, type="ship", product="MACHINE", serials=machines[:4], party="D-EAST")
    record(plant, type="deliver", product="MACHINE", serials=machines[:4])
    recall.create_recall(plant, SYSTEM, RecallIn(code="RC-2", title="t",
                                                 trace=TraceQuery(supplier="SUP-A")))  # fmt: skip
    assert recall.mark_recalled(plant, SYSTEM, "RC-2")["marked"] == 5
    record(plant, type="return", product="MACHINE", serials=machines[:2], location="WH1")
    record(plant, type="repair", product="MACHINE", serials=[machines[0]])
    record(plant, type="scrap", product="MACHINE", serials=[machines[1]])
    status = recall.progress(plant, SYSTEM, "RC-2")
    assert status["outcomes"] == {"repaired": 1, "replaced": 0, "scrapped": 1, "returned": 0,
                                  "in_stock": 1, "in_field": 2}  # fmt: skip
    assert status["by_holder"]["D-EAST"]["in_field"] == 2
    notices = recall.notices(plant, SYSTEM, "RC-2")
    east = next(n for n in notices if n["holder"] == "D-EAST")
    assert sorted(u["serial"] for u in east["units"]) == sorted(machines[:4])
    assert recall.notices_csv(plant, SYSTEM, "RC-2").count("\n") == 6  # header + 5 units


def test_bill_of_materials_refuses_or_warns(plant: Database) -> None:
    production.set_bom(plant, SYSTEM, "MACHINE", BomIn(lines=[{"component": "MODULE",
                                                               "quantity": 1}]))  # fmt: skip
    machine = make_units(plant, "MACHINE", 1)[0]
    board = make_units(plant, "BOARD", 1)[0]
    with pytest.raises(ValidationError, match="not in the bill of materials"):
        assemble(plant, ("MACHINE", machine), "BOARD", [board])
    modules = make_units(plant, "MODULE", 2)
    with pytest.raises(ValidationError, match="more than the 1"):
        assemble(plant, ("MACHINE", machine), "MODULE", modules)
    with pytest.raises(ValidationError, match="misses 1 × MODULE"):
        record(plant, type="receive", product="MACHINE", serials=[machine], location="WH1")
    production.set_bom(plant, SYSTEM, "MACHINE", BomIn(policy="warn", lines=[
        {"component": "MODULE", "quantity": 1}]))  # fmt: skip
    warned = assemble(plant, ("MACHINE", machine), "BOARD", [board])
    assert warned.warnings and "BOARD is not in the bill of materials" in warned.warnings[0]


def test_required_steps_gate_finished_stock(plant: Database) -> None:
    production.set_route(plant, SYSTEM, "MACHINE", RouteIn(steps=[
        {"code": "BURN", "name": "Burn-in"}, {"code": "FQC", "name": "Final QC"},
        {"code": "PHOTO", "name": "Photo", "required": False}]))  # fmt: skip
    machine = make_units(plant, "MACHINE", 1)[0]

    def step(code: str, result: str, defect: str | None = None) -> None:
        record(plant, type="inspect", product="MACHINE", serials=[machine],
               step={"code": code, "result": result, "defect_code": defect})  # fmt: skip

    def receive() -> None:
        record(plant, type="receive", product="MACHINE", serials=[machine], location="WH1")

    step("BURN", "pass")
    with pytest.raises(InvalidTransition, match="skipped required step FQC"):
        receive()
    step("FQC", "fail", "SCRATCH")
    with pytest.raises(InvalidTransition, match="failed required step FQC"):
        receive()
    with pytest.raises(ValidationError, match="not on the route"):
        step("PAINT", "pass")
    step("FQC", "pass")
    receive()
    assert queries.dossier(plant, SYSTEM, machine, "MACHINE")["status"] == "in_stock"


def test_yield_figures_equal_hand_computed(plant: Database) -> None:
    """Fixed data: 4 boards tested at AOI by two operators; hand-computed figures below."""
    production.set_route(plant, SYSTEM, "BOARD", RouteIn(steps=[{"code": "AOI", "name": "AOI"}]))
    boards = make_units(plant, "BOARD", 4)
    plan = [  # (board, operator, result, defect)
        (0, "li", "pass", None),
        (1, "li", "fail", "SOLDER"), (1, "li", "pass", None),
        (2, "wang", "fail", "SOLDER"), (2, "wang", "fail", "MISSING"), (2, "wang", "pass", None),
        (3, "wang", "pass", None),
    ]  # fmt: skip
    for index, operator, result, defect in plan:
        record(plant, type="inspect", product="BOARD", serials=[boards[index]], operator=operator,
               step={"code": "AOI", "result": result, "defect_code": defect})  # fmt: skip
    by_operator = {r["key"]: r for r in quality.yield_report(plant, SYSTEM, "operator")["items"]}
    # li: records 3, failures 1, first attempts 2 (boards 0, 1), first pass 1 (board 0)
    assert by_operator["li"] | {} == {"key": "li", "records": 3, "failures": 1,
                                      "failure_rate": 0.3333, "first_attempts": 2,
                                      "first_pass": 1, "fpy": 0.5}  # fmt: skip
    # wang: records 4, failures 2, first attempts 2 (boards 2, 3), first pass 1 (board 3)
    assert (by_operator["wang"]["failure_rate"], by_operator["wang"]["fpy"]) == (0.5, 0.5)
    product = quality.yield_report(plant, SYSTEM, "product")["items"]
    assert [(r["key"], r["records"], r["failures"], r["fpy"]) for r in product] == [
        ("BOARD", 7, 3, 0.5)]  # fmt: skip
    pareto = quality.defect_pareto(plant, SYSTEM)
    assert pareto["items"] == [
        {"defect_code": "SOLDER", "count": 2, "cumulative": 0.6667},
        {"defect_code": "MISSING", "count": 1, "cumulative": 1.0},
    ]
    table = quality.to_csv(quality.COLUMNS, product)
    assert table.splitlines()[1] == "BOARD,7,3,0.4286,4,2,0.5"


@contextlib.contextmanager
def counted_statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements run on the database's engine inside the block (an executemany
    counts once)."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    sa_event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", count)


def test_a_batch_of_assemblies_takes_the_set_based_path_with_the_same_rules(
    plant: Database,
) -> None:
    from unitrace.ledger import replay
    from unitrace.ledger import service as ledger
    from unitrace.ledger.schemas import EventIn

    n = 60
    machines = make_units(plant, "MACHINE", n)
    modules = make_units(plant, "MODULE", n + 1)
    batch = [
        EventIn(event_id=f"asm-{i}", type="assemble", product="MODULE", serials=[modules[i]],
                parent={"product": "MACHINE", "serial": machines[i]},
                consumed=[{"product": "GLUE", "lot": "G-7", "quantity": 2}])
        for i in range(n)
    ]  # fmt: skip
    wrong = [*batch[:-1], batch[-1].model_copy(update={"serials": [modules[0]]})]
    with pytest.raises(InvalidTransition, match=r"event 59: .* is installed in MACHINE/"):
        ledger.record_events(plant, SYSTEM, wrong)  # a unit twice: event by event, as small ones
    assert queries.dossier(plant, SYSTEM, modules[0], "MODULE")["status"] == "commissioned"

    with counted_statements(plant) as statements:
        done = ledger.record_events(plant, SYSTEM, batch)
    assert [r.unit_count for r in done] == [1] * n and not any(r.replayed for r in done)
    # set-based: statements for the whole batch, not a few for each of its events
    assert len(statements) < n, statements
    again = ledger.record_events(plant, SYSTEM, batch)  # known ids: replayed, nothing doubled
    assert all(r.replayed for r in again)
    assert serials_of(trace.forward(plant, SYSTEM, TraceQuery(product="GLUE", lot="G-7"))) == set(
        machines)  # fmt: skip
    tree = trace.backward(plant, SYSTEM, machines[7], "MACHINE")
    assert [c["serial"] for c in tree["components"]] == [modules[7]]
    assert tree["consumed"][0]["quantity"] == 2
    assert replay.verify_ledger(plant, SYSTEM).ok

    twice = [
        EventIn(type="assemble", product="MODULE", serials=[modules[i % n]],
                parent={"product": "MACHINE", "serial": machines[(i + 1) % n]})
        for i in range(n)
    ]  # fmt: skip
    with pytest.raises(InvalidTransition, match=r"is installed in MACHINE/"):
        ledger.record_events(plant, SYSTEM, twice)
