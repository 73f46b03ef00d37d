"""The rules of the write pipeline on plain data, with no database (the cosmicpython habit):
which fields an event takes, what an event does to a unit, how refusals and capped error lists
read, lots consumed by an assembly, and the pipeline's checks that need no read."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unitrace.access.principal import SYSTEM
from unitrace.core.errors import (
    MAX_REPORTED,
    FieldError,
    InvalidTransition,
    Problems,
    ValidationError,
    named_twice,
    report,
    twice_in,
)
from unitrace.core.lifecycle import (
    EVENT_TYPES,
    LIVE,
    PARENT_ALLOWED,
    REMOVED_CHANGES,
    RULES,
    TAKES,
    Effect,
    Role,
    Rule,
    Status,
    UnitState,
    apply,
    changes,
    field_problems,
    parent_problem,
    refusal,
    state_text,
)
from unitrace.ledger import pipeline
from unitrace.ledger.schemas import EventIn
from unitrace.ledger.write import UnitRow, event_hash
from unitrace.production.rules import (
    LotUse,
    Verdict,
    consumed_lots,
    recall_refusal,
    refuse_or_warn,
)

# --- the fields each event type takes ---------------------------------------------------------


def test_every_problem_of_an_event_is_reported_at_once() -> None:
    problems = field_problems("move", ["location", "parent", "step", "container"])
    assert [name for name, _ in problems] == ["parent", "step", "container"]
    reasons = dict(problems)
    assert reasons["parent"] == "move does not take a parent unit"
    assert "inspect event, not move" in reasons["step"]
    assert "name the cartons the event moves in `containers`" in reasons["container"]


def test_a_missing_field_and_fields_not_taken_are_reported_together() -> None:
    problems = field_problems("ship", ["parent", "removed"])  # and no party
    assert [name for name, _ in problems] == ["party", "parent", "removed"]


@pytest.mark.parametrize(
    ("event_type", "needed"),
    [
        ("move", ["location"]),
        ("receive", ["location"]),
        ("ship", ["party"]),
        ("assemble", ["parent"]),
        ("replace_part", ["parent", "removed"]),
        ("pack", ["container"]),
        ("unpack", ["container"]),
        ("commission", ["product"]),
        ("disassemble", []),
        ("deliver", []),
        ("sell", []),
        ("inspect", []),
        ("scrap", []),
    ],
)
def test_an_event_needs_the_fields_its_rule_sets(event_type: str, needed: list[str]) -> None:
    assert [name for name, _ in field_problems(event_type, [])] == needed
    assert field_problems(event_type, needed) == []


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_a_field_is_taken_exactly_by_the_types_listed_for_it(event_type: str) -> None:
    needed = [name for name, _ in field_problems(event_type, [])]
    for name, types in TAKES.items():
        refused = {n for n, _ in field_problems(event_type, [*needed, name])}
        assert (name in refused) is (event_type not in types), (event_type, name)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_a_required_field_comes_from_a_set_effect(event_type: str) -> None:
    rule = RULES[event_type]
    required = {name for name, _ in field_problems(event_type, [])}
    for name, effect in (("location", rule.location), ("party", rule.holder)):
        assert (name in required) is (effect is Effect.SET), (event_type, name)


def test_the_pipeline_refuses_with_every_field_problem_before_any_read() -> None:
    event = EventIn(
        type="move",
        product="AC1",
        serials=["SN1"],
        parent={"serial": "P-1"},
        removed=[{"serial": "SN9"}],
        container="C-1",
    )  # and no location
    item = pipeline._prepare(0, pipeline.Job(SYSTEM, event))
    assert item.error is None and item.invalid is not None  # said unless it is a replay
    fields = [e.field for e in item.invalid.errors]
    assert fields == ["location", "parent", "removed", "container"]
    assert item.invalid.detail.startswith("location: move needs the location")
    assert "(4 in all)" in item.invalid.detail


def test_the_pipeline_names_each_unit_named_twice_before_any_read() -> None:
    event = EventIn(
        type="scrap",
        product="AC1",
        serials=["SN1", "SN2", "SN1"],
        units=[{"serial": "SN2", "product": "AC1"}, {"serial": "SN2", "product": "AC2"}],
    )
    item = pipeline._prepare(0, pipeline.Job(SYSTEM, event))
    assert item.invalid is not None
    assert [(e.field, e.message) for e in item.invalid.errors] == [
        ("serials.2", "named twice (also serials.0)"),
        ("units.0.serial", "named twice (also serials.1)"),
    ]


# --- what an event does to a unit -------------------------------------------------------------

ids = st.one_of(st.none(), st.integers(min_value=1, max_value=10**9))
statuses = st.sampled_from(list(Status))
effects = st.sampled_from(list(Effect))


def expected_state(
    rule: Rule, before: UnitState, location: int | None, holder: int | None, parent: int | None
) -> UnitState:
    """The state after an event, read off the rule's Effects alone (the oracle)."""

    def after(effect: Effect, old: int | None, given: int | None) -> int | None:
        if effect is Effect.KEEP:
            return old
        if effect is Effect.CLEAR:
            return None
        if effect is Effect.SET:
            return given
        return old if given is None else given  # OPTIONAL

    return UnitState(
        rule.to if rule.to is not None else before.status,
        after(rule.location, before.location_id, location),
        after(rule.holder, before.holder_id, holder),
        after(rule.parent, before.parent_id, parent),
    )


def overlay(before: UnitState, values: dict[str, int | None]) -> UnitState:
    """A unit's state with the columns `changes` names set (the projection's UPDATE)."""
    status = values.get("status", int(before.status))
    assert status is not None
    return UnitState(
        Status(status),
        values.get("location_id", before.location_id),
        values.get("holder_id", before.holder_id),
        values.get("parent_id", before.parent_id),
    )


@given(
    rule=st.sampled_from([r for r in RULES.values() if r.allowed_from]),
    data=st.data(),
    location=ids,
    holder=ids,
    parent=ids,
    old=st.tuples(ids, ids, ids),
)
def test_the_projections_changes_agree_with_the_replay_rule(
    rule: Rule,
    data: st.DataObject,
    location: int | None,
    holder: int | None,
    parent: int | None,
    old: tuple[int | None, int | None, int | None],
) -> None:
    status = data.draw(st.sampled_from(sorted(rule.allowed_from)))
    before = UnitState(status, *old)
    replayed = apply(before, rule.event_type, Role.SUBJECT, location, holder, parent)
    projected = overlay(before, changes(rule, location, holder, parent))
    assert projected == replayed == expected_state(rule, before, location, holder, parent)


@given(
    rule=st.sampled_from([r for r in RULES.values() if r.allowed_from]),
    status=statuses,
    location=ids,
)
def test_the_replay_rule_refuses_what_the_rule_does_not_allow(
    rule: Rule, status: Status, location: int | None
) -> None:
    before = UnitState(status, location, None, None)
    if rule.allows(status):
        apply(before, rule.event_type, Role.SUBJECT, location, None, None)
    else:
        with pytest.raises(ValueError, match=f"{rule.event_type} not allowed from"):
            apply(before, rule.event_type, Role.SUBJECT, location, None, None)


@given(
    to=st.one_of(st.none(), statuses),
    location_effect=effects,
    holder_effect=effects,
    parent_effect=effects,
    given_ids=st.tuples(ids, ids, ids),
    old=st.tuples(statuses, ids, ids, ids),
)
def test_changes_follow_every_effect_on_every_column(
    to: Status | None,
    location_effect: Effect,
    holder_effect: Effect,
    parent_effect: Effect,
    given_ids: tuple[int | None, int | None, int | None],
    old: tuple[Status, int | None, int | None, int | None],
) -> None:
    base = RULES["move"]
    rule = Rule(
        "test",
        LIVE,
        to,
        location_effect,
        holder_effect,
        parent_effect,
        base.epcis_type,
        base.action,
        base.biz_step,
        None,
        "a rule made up by the test",
    )
    before = UnitState(*old)
    values = changes(rule, *given_ids)
    assert overlay(before, values) == expected_state(rule, before, *given_ids)
    # what is kept is not written: a KEEP column never appears in the UPDATE
    for column, effect in (
        ("location_id", location_effect),
        ("holder_id", holder_effect),
        ("parent_id", parent_effect),
    ):
        if effect is Effect.KEEP:
            assert column not in values
        if effect in (Effect.SET, Effect.CLEAR):
            assert column in values
    assert ("status" in values) is (to is not None)


@given(location=ids, holder=ids, parent=st.integers(min_value=1))
def test_a_removed_part_changes_as_the_replay_rule_says(
    location: int | None, holder: int | None, parent: int
) -> None:
    before = UnitState(Status.INSTALLED, location, holder, parent)
    replayed = apply(before, "replace_part", Role.REMOVED, 5, 6, 7)
    assert overlay(before, REMOVED_CHANGES) == replayed
    assert replayed == UnitState(Status.RETURNED, location, None, None)


# --- how refusals read ------------------------------------------------------------------------


def test_a_units_state_names_what_holds_it() -> None:
    assert state_text(Status.IN_TRANSIT) == "in_transit"
    assert state_text(Status.INSTALLED, "FIN/F-1") == "installed in FIN/F-1"


def test_a_refusal_says_the_unit_its_state_and_where_the_event_is_allowed_from() -> None:
    assert refusal(RULES["ship"], "AC1/SN1", "in_transit") == (
        "unit AC1/SN1 is in_transit; ship is allowed only from in_stock"
    )
    assert refusal(RULES["assemble"], "AC1/SN1", "installed in FIN/F-1") == (
        "unit AC1/SN1 is installed in FIN/F-1; assemble is allowed only from "
        "commissioned, in_stock, returned"
    )
    assert refusal(RULES["commission"], "AC1/SN1", "in_stock").endswith("allowed only from nowhere")


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("event_type", ["assemble", "replace_part", "disassemble"])
def test_a_parent_must_be_live_except_to_take_parts_out(event_type: str, status: Status) -> None:
    problem = parent_problem(event_type, status)
    if event_type == "disassemble" or status in PARENT_ALLOWED:
        assert problem is None
    else:
        assert problem == f"is {status.label}"


# --- named twice and capped error lists -------------------------------------------------------


def test_twice_in_names_each_repeat_and_where_it_was_first() -> None:
    triples = [
        ("serials.0", "A", "A"),
        ("serials.1", "B", "B"),
        ("serials.2", "A", "A"),
        ("units.0.serial", "A", "A"),
        ("units.1.serial", "B", "B"),
    ]
    found = twice_in(triples)
    assert found == [
        named_twice("serials.2", "serials.0", "A"),
        named_twice("units.0.serial", "serials.0", "A"),
        named_twice("units.1.serial", "serials.1", "B"),
    ]
    assert found[0].message == "named twice (also serials.0)"
    assert twice_in([("a", 1, 1), ("b", 2, 2)]) == []


def test_twice_in_a_huge_input_reports_the_first_ones_and_counts_the_rest() -> None:
    triples = [(f"serials.{i}", i % 3, str(i)) for i in range(MAX_REPORTED + 10)]
    twice = twice_in(triples)
    assert len(twice) == MAX_REPORTED + 7
    error = report("the event names a unit more than once", twice)
    assert len(error.errors) == MAX_REPORTED + 1
    assert error.errors[:MAX_REPORTED] == twice[:MAX_REPORTED]
    assert error.errors[-1] == FieldError("*", "7 more not listed")
    assert error.detail == f"the event names a unit more than once ({MAX_REPORTED + 7} in all)"
    assert len(twice) == MAX_REPORTED + 7  # the caller's list is not changed


def test_problems_keep_the_first_ones_and_count_every_one() -> None:
    problems = Problems()
    assert not problems
    for i in range(MAX_REPORTED + 250):
        problems.add(FieldError(f"serials.{i}", "no unit", str(i)))
    assert problems and problems.total == MAX_REPORTED + 250
    assert len(problems.shown) == MAX_REPORTED
    error = problems.error("unknown or ambiguous units", InvalidTransition)
    assert isinstance(error, InvalidTransition)
    assert error.detail == f"unknown or ambiguous units ({MAX_REPORTED + 250} in all)"
    assert [e.field for e in error.errors[:2]] == ["serials.0", "serials.1"]
    assert error.errors[-1] == FieldError("*", "250 more not listed")
    assert len(error.errors) == MAX_REPORTED + 1


def test_a_few_problems_are_listed_without_a_count_entry() -> None:
    problems = Problems()
    problems.add(FieldError("serials.0", "no unit", "A"))
    error = problems.error("unknown units")
    assert isinstance(error, ValidationError)
    assert error.detail == "unknown units" and error.errors == [
        FieldError("serials.0", "no unit", "A")
    ]
    problems.add(FieldError("serials.1", "no unit", "B"))
    assert problems.error("unknown units").detail == "unknown units (2 in all)"


# --- lots an assembly consumes ----------------------------------------------------------------

LOTS: dict[tuple[str, str], tuple[int, int, str]] = {
    ("GLUE", "G1"): (1, 10, "lot"),
    ("GLUE", "G2"): (2, 10, "lot"),
    ("SCREW", "S1"): (3, 11, "lot"),
    ("BOARD", "B1"): (4, 12, "serial"),  # a lot of a serial-tracked product
}


def line(product: str, lot: str, quantity: int = 1) -> Any:
    return SimpleNamespace(product=product, lot=lot, quantity=quantity)


def lookup(product: str, number: str) -> tuple[int, int, str] | None:
    return LOTS.get((product, number))


def test_consumed_lots_are_looked_up_in_order() -> None:
    uses = consumed_lots([line("SCREW", "S1", 4), line("GLUE", "G1", 2)], lookup)
    assert uses == [LotUse(3, 11, "SCREW", "S1", 4), LotUse(1, 10, "GLUE", "G1", 2)]
    assert consumed_lots([], lookup) == []


def test_an_unknown_lot_and_a_serial_tracked_product_are_reported_together() -> None:
    with pytest.raises(ValidationError) as caught:
        consumed_lots(
            [line("GLUE", "G1"), line("GLUE", "NOPE"), line("BOARD", "B1"), line("ZZZ", "G1")],
            lookup,
        )
    errors = caught.value.errors
    assert [(e.field, e.value) for e in errors] == [
        ("consumed.1.lot", "NOPE"),
        ("consumed.2.product", "BOARD"),
        ("consumed.3.lot", "G1"),
    ]
    assert errors[0].message == "no lot NOPE of product GLUE"
    assert errors[1].message == "BOARD is tracked by serial: install its units instead"
    assert caught.value.detail == "consumed.1.lot: no lot NOPE of product GLUE"


def test_the_same_lot_twice_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        consumed_lots([line("GLUE", "G1", 1), line("GLUE", "G2"), line("GLUE", "G1", 3)], lookup)
    assert caught.value.errors[0].field == "consumed.2.lot"
    assert "names a lot twice; add the quantities up (also consumed.0)" in caught.value.detail


def test_every_bad_line_of_consumed_is_reported_together() -> None:
    with pytest.raises(ValidationError) as caught:
        consumed_lots(
            [line("GLUE", "NOPE"), line("BOARD", "B1"), line("GLUE", "G1"), line("GLUE", "G1")],
            lookup,
        )
    errors = caught.value.errors
    assert [e.field for e in errors[:2]] == ["consumed.0.lot", "consumed.1.product"]
    assert len(errors) == 3
    assert errors[2].field in ("consumed", "consumed.3", "consumed.3.lot")
    assert "twice" in errors[2].message


# --- verdicts by policy and open recalls ------------------------------------------------------


def test_a_refuse_policy_refuses_with_every_problem_and_a_warn_policy_warns() -> None:
    problems = [
        FieldError("serials", "PSU is not in the bill of materials of FIN", "PSU"),
        FieldError("serials", "3 × FAN is more than the 2 the bill of materials allows", "FAN"),
    ]
    refused = refuse_or_warn("refuse", "assembly into F-1 breaks its bill of materials", problems)
    assert refused.warnings == ()
    assert isinstance(refused.error, ValidationError)
    assert refused.error.detail == (
        "assembly into F-1 breaks its bill of materials: PSU is not in the bill of materials of FIN"
    )
    assert refused.error.errors == problems
    warned = refuse_or_warn("warn", "assembly into F-1 breaks its bill of materials", problems)
    assert warned.error is None
    assert list(warned.warnings) == [p.message for p in problems]
    assert refuse_or_warn("refuse", "anything", []) == Verdict()


def unit(
    id: int, serial: str, status: Status = Status.IN_STOCK, parent: int | None = None
) -> UnitRow:
    return UnitRow(id, serial, "AC1", status, parent, 1)


def test_an_event_on_units_under_open_recall_names_each_and_the_campaign() -> None:
    subjects = [unit(1, "SN1"), unit(2, "SN2"), unit(3, "SN3")]
    blocked = {2: ("RC-7", "loose screw"), 3: ("RC-8", "bad cable"), 99: ("RC-9", "other")}
    error = recall_refusal("ship", subjects, blocked)
    assert isinstance(error, InvalidTransition)
    assert error.detail == (
        "cannot ship AC1/SN2: it is under open recall RC-7 (loose screw); "
        "repair it (a repair event) or scrap it first"
    )
    assert [(e.field, e.message, e.value) for e in error.errors] == [
        ("serials", "SN2 is under open recall RC-7 (loose screw)", "SN2"),
        ("serials", "SN3 is under open recall RC-8 (bad cable)", "SN3"),
    ]
    assert recall_refusal("ship", [unit(1, "SN1")], blocked) is None


def test_a_recall_refusal_lists_at_most_max_reported_units() -> None:
    subjects = [unit(i, f"SN{i}") for i in range(MAX_REPORTED + 5)]
    error = recall_refusal("sell", subjects, {u.id: ("RC-1", "t") for u in subjects})
    assert error is not None and len(error.errors) == MAX_REPORTED


# --- the pipeline's checks that read nothing --------------------------------------------------


def item_for(
    event: EventIn, parent: UnitRow, subjects: list[UnitRow], removed: list[UnitRow] | None = None
) -> pipeline.Item:
    made = pipeline.Item(0, SYSTEM, event, event_hash(event), RULES[event.type])
    made.parent = parent
    made.direct = made.subjects = list(subjects)
    made.removed = list(removed or [])
    return made


PARENT = UnitRow(100, "P-1", "FIN", Status.IN_STOCK, None, 2)


@pytest.mark.parametrize("event_type", ["assemble", "replace_part"])
def test_a_scrapped_parent_takes_no_components(event_type: str) -> None:
    scrapped = UnitRow(100, "P-1", "FIN", Status.SCRAPPED, None, 2)
    event = EventIn(
        type=event_type,
        product="AC1",
        serials=["C-1"],
        parent={"serial": "P-1"},
        removed=[{"serial": "C-0"}] if event_type == "replace_part" else [],
    )
    removed = [unit(9, "C-0", Status.INSTALLED, 100)] if event_type == "replace_part" else []
    checked = item_for(event, scrapped, [unit(1, "C-1")], removed)
    with pytest.raises(InvalidTransition) as caught:
        pipeline._check_parent(checked)
    assert caught.value.detail == "parent FIN/P-1 is scrapped"
    assert caught.value.errors == [FieldError("parent", "is scrapped", "P-1")]


def test_parts_come_out_of_a_scrapped_parent() -> None:
    scrapped = UnitRow(100, "P-1", "FIN", Status.SCRAPPED, None, 2)
    event = EventIn(type="disassemble", product="AC1", serials=["C-1"], parent={"serial": "P-1"})
    pipeline._check_parent(item_for(event, scrapped, [unit(1, "C-1", Status.INSTALLED, 100)]))


def test_disassembly_names_every_unit_that_is_not_in_the_parent() -> None:
    event = EventIn(
        type="disassemble", product="AC1", serials=["C-1", "C-2", "C-3"], parent={"serial": "P-1"}
    )
    subjects = [
        unit(1, "C-1", Status.INSTALLED, 100),
        unit(2, "C-2", Status.INSTALLED, 555),  # in another parent
        unit(3, "C-3", Status.IN_STOCK, None),  # in none
    ]
    with pytest.raises(InvalidTransition) as caught:
        pipeline._check_parent(item_for(event, PARENT, subjects))
    assert caught.value.detail == "units are not in P-1 (2 in all)"
    assert [(e.field, e.message, e.value) for e in caught.value.errors] == [
        ("serials", "C-2 is not installed in P-1", "C-2"),
        ("serials", "C-3 is not installed in P-1", "C-3"),
    ]


def test_replacing_names_every_removed_part_that_is_not_installed_in_the_parent() -> None:
    event = EventIn(
        type="replace_part",
        product="AC1",
        serials=["NEW-1"],
        parent={"serial": "P-1"},
        removed=[{"serial": "OLD-1"}, {"serial": "OLD-2"}, {"serial": "OLD-3"}],
    )
    removed = [
        unit(11, "OLD-1", Status.INSTALLED, 100),
        unit(12, "OLD-2", Status.INSTALLED, 555),  # installed elsewhere
        unit(13, "OLD-3", Status.RETURNED, 100),  # points at the parent, but not installed
    ]
    checked = item_for(event, PARENT, [unit(1, "NEW-1")], removed)
    with pytest.raises(InvalidTransition) as caught:
        pipeline._check_parent(checked)
    assert caught.value.detail == "removed parts are not installed in P-1 (2 in all)"
    assert [(e.field, e.message) for e in caught.value.errors] == [
        ("removed.1", "OLD-2 is installed, not installed in P-1"),
        ("removed.2", "OLD-3 is returned, not installed in P-1"),
    ]


def test_a_live_parent_with_its_own_parts_passes() -> None:
    event = EventIn(
        type="replace_part",
        product="AC1",
        serials=["NEW-1"],
        parent={"serial": "P-1"},
        removed=[{"serial": "OLD-1"}],
    )
    removed = [unit(11, "OLD-1", Status.INSTALLED, 100)]
    pipeline._check_parent(item_for(event, PARENT, [unit(1, "NEW-1")], removed))


def test_wrong_fields_and_a_unit_named_twice_are_reported_together() -> None:
    event = EventIn(type="move", product="AC1", serials=["S1", "S1"], location="WH1",
                    step={"code": "FQC", "result": "pass"})  # fmt: skip
    item = pipeline._prepare(0, pipeline.Job(SYSTEM, event))
    assert item.invalid is not None
    assert [e.field for e in item.invalid.errors] == ["step", "serials.1"]
