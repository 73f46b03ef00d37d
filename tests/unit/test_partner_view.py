"""What a partner sees of one unit's events (no database: rows are plain records)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from unitrace.core.lifecycle import Role, Status
from unitrace.ledger.scope import partner_view

A, B, CUSTOMER = 1, 2, 3


def history(*steps: tuple[str, int | None]) -> list[Any]:
    """Events of one unit as (type, party), ids 1, 2, …; every event at location 9."""
    return [
        SimpleNamespace(id=i, type=kind, role=int(Role.SUBJECT), party_id=party, location_id=9,
                        parent_unit_id=None)
        for i, (kind, party) in enumerate(steps, start=1)
    ]  # fmt: skip


HB1 = history(("commission", None), ("receive", None), ("ship", A), ("deliver", None),
              ("return", None), ("receive", None), ("ship", B), ("deliver", None),
              ("sell", None))  # fmt: skip


def test_a_former_holder_sees_the_making_and_its_own_time() -> None:
    view = partner_view(HB1, A)
    assert sorted(view.event_ids) == [1, 2, 3, 4, 5]
    assert view.state is not None and view.state.status is Status.RETURNED
    assert not view.holds(A)


def test_the_current_holder_does_not_see_the_former_holders_time() -> None:
    view = partner_view(HB1, B)
    assert sorted(view.event_ids) == [1, 2, 7, 8, 9]
    assert view.state is not None and view.state.status is Status.SOLD and view.holds(B)


def test_a_sale_to_a_customer_ends_the_period_and_is_seen() -> None:
    sold = history(("commission", None), ("receive", None), ("ship", A), ("deliver", None),
                   ("sell", CUSTOMER), ("activate", None))  # fmt: skip
    view = partner_view(sold, A)
    assert sorted(view.event_ids) == [1, 2, 3, 4, 5]  # not the customer's activation
    assert view.state is not None and view.state.status is Status.SOLD


def test_recorded_order_counts_not_the_list_order() -> None:
    view = partner_view(list(reversed(HB1)), A)
    assert sorted(view.event_ids) == [1, 2, 3, 4, 5]


def test_a_party_never_named_sees_only_the_making() -> None:
    view = partner_view(HB1, 99)  # (such a unit is not in its scope anyway)
    assert view.event_ids == frozenset({1, 2}) and not view.holds(99)
