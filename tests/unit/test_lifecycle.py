import pytest

from unitrace.core.lifecycle import (
    EVENT_TYPES,
    RULES,
    Role,
    Status,
    UnitState,
    apply,
)

REQUIRED = {
    "commission",
    "inspect",
    "assemble",
    "disassemble",
    "receive",
    "move",
    "ship",
    "deliver",
    "sell",
    "activate",
    "return",
    "repair",
    "replace_part",
    "count",
    "verify",
    "recall",
    "scrap",
}


def test_every_required_event_type_has_an_epcis_mapping() -> None:
    assert set(EVENT_TYPES) >= REQUIRED
    for rule in RULES.values():
        assert rule.epcis_type in ("ObjectEvent", "AggregationEvent")
        assert rule.action in ("ADD", "OBSERVE", "DELETE")
        assert rule.biz_step


def test_status_values_are_stable() -> None:
    # Stored in the database: changing a value corrupts existing data.
    assert {s.label: int(s) for s in Status} == {
        "commissioned": 10,
        "in_stock": 20,
        "in_transit": 30,
        "delivered": 40,
        "sold": 50,
        "active": 60,
        "installed": 70,
        "returned": 80,
        "recalled": 90,
        "scrapped": 100,
    }


def state(status: Status, location: int | None = 1) -> UnitState:
    return UnitState(status, location, None, None)


def test_ship_only_from_stock_and_sets_holder() -> None:
    shipped = apply(state(Status.IN_STOCK), "ship", Role.SUBJECT, None, 7, None)
    assert shipped == UnitState(Status.IN_TRANSIT, None, 7, None)
    for status in set(Status) - {Status.IN_STOCK}:
        with pytest.raises(ValueError, match="ship not allowed"):
            apply(state(status), "ship", Role.SUBJECT, None, 7, None)


def test_sell_twice_and_repair_scrapped_are_refused() -> None:
    sold = apply(state(Status.IN_STOCK), "sell", Role.SUBJECT, None, None, None)
    with pytest.raises(ValueError):
        apply(sold, "sell", Role.SUBJECT, None, None, None)
    with pytest.raises(ValueError):
        apply(state(Status.SCRAPPED), "repair", Role.SUBJECT, None, None, None)


def test_optional_location_keeps_or_replaces() -> None:
    moved = apply(state(Status.IN_TRANSIT), "deliver", Role.SUBJECT, None, None, None)
    assert moved.location_id == 1
    moved = apply(state(Status.IN_TRANSIT), "deliver", Role.SUBJECT, 9, None, None)
    assert moved.location_id == 9


def test_assembly_sets_and_clears_parent() -> None:
    installed = apply(state(Status.IN_STOCK), "assemble", Role.SUBJECT, None, None, 5)
    assert installed == UnitState(Status.INSTALLED, None, None, 5)
    out = apply(installed, "disassemble", Role.SUBJECT, 2, None, 5)
    assert out == UnitState(Status.IN_STOCK, 2, None, None)
    removed = apply(installed, "replace_part", Role.REMOVED, None, None, 5)
    assert removed.status is Status.RETURNED and removed.parent_id is None


def test_commission_only_for_new_units() -> None:
    assert apply(None, "commission", Role.SUBJECT, 3, None, None).status is Status.COMMISSIONED
    with pytest.raises(ValueError):
        apply(None, "receive", Role.SUBJECT, 3, None, None)
    with pytest.raises(ValueError):
        apply(state(Status.IN_STOCK), "commission", Role.SUBJECT, 3, None, None)
