"""One date parser for every input (core.dates): ISO, the forms of Chinese spreadsheets,
Excel serial numbers and date cells; anything else is refused naming the forms."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from unitrace.core.dates import NotADate, parse_when

DAY = datetime(2026, 11, 28)


@pytest.mark.parametrize("given", [
    "2026/11/28", "2026-11-28", "2026.11.28", "20261128", "2026年11月28日", "2026/11/28 ",
    46354, 46354.0, "46354", date(2026, 11, 28), DAY,
])  # fmt: skip
def test_a_day_in_every_usual_form(given: object) -> None:
    assert parse_when(given) == DAY


def test_times_and_offsets() -> None:
    assert parse_when("2026/11/28 9:05") == DAY.replace(hour=9, minute=5)
    assert parse_when(46354.75) == DAY.replace(hour=18)
    east = timezone(timedelta(hours=8))
    assert parse_when("2026/11/28 14:30+0800") == datetime(2026, 11, 28, 14, 30, tzinfo=east)
    assert parse_when("2026-11-28T06:30Z") == datetime(2026, 11, 28, 6, 30, tzinfo=UTC)


@pytest.mark.parametrize("given", [
    "28/11/2026", "2026/13/01", "2026/02/30", "11/28", "abc", "", 3, True, 99999999, "2026.11",
])  # fmt: skip
def test_what_is_no_date_is_refused(given: object) -> None:
    with pytest.raises(NotADate):
        parse_when(given)
