"""Dates as people type them and spreadsheets store them — one parser for every input that
takes a date: ISO 8601 (`2026-11-28`, `2026-11-28T14:30+08:00`), the forms usual in China
and in Excel (`2026/11/28`, `2026.11.28`, `2026年11月28日`, `20261128`, each optionally
followed by a time), Excel's serial date numbers (`46354`, days since 1899-12-30; a fraction
is the time of day) and real date cells."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

EXCEL_EPOCH = datetime(1899, 12, 30)
# serial numbers read as dates: 1970-01-01 … 2099-12-31 (a smaller number is not a date)
EXCEL_FIRST, EXCEL_LAST = 25569, 73050
FORMS = "2026-11-28, 2026/11/28, 2026.11.28, 28.11.2026, 20261128, 2026-11-28 14:30+08:00"

_DAY = re.compile(
    r"^(?P<y>\d{4})(?:(?P<sep>[-/.])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})|年(?P<m2>\d{1,2})月"
    r"(?P<d2>\d{1,2})日?|(?P<m3>\d{2})(?P<d3>\d{2}))"
    r"(?:(?:[T ]|\s+)(?P<time>\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?)?$"
)
_SERIAL = re.compile(r"^\d{5}(?:\.\d+)?$")
# day first with dots, as Europe writes it (24.11.2026): never ambiguous with a year first
_DOTTED = re.compile(r"^(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})(?P<rest>(?:[T ]|\s+).*)?$")


class NotADate(ValueError):
    """The value is no date in any of the forms we read."""


def parse_when(value: object) -> datetime:
    """The value as a datetime: naive unless it names its offset (a date is its midnight).
    NotADate says which forms are read."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    if isinstance(value, bool):
        raise NotADate(f"not a date; write {FORMS} or an Excel date")
    if isinstance(value, int | float):
        return _excel(float(value))
    text = str(value).strip()
    if _SERIAL.fullmatch(text):
        return _excel(float(text))
    dotted = _DOTTED.fullmatch(text)
    if dotted is not None:  # the same day written year first
        text = f"{dotted['y']}-{dotted['m']}-{dotted['d']}{dotted['rest'] or ''}"
    found = _DAY.fullmatch(text)
    if found is None:
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            raise NotADate(f"not a date; write {FORMS} or an Excel date") from None
    year = int(found["y"])
    month = int(found["m"] or found["m2"] or found["m3"])
    day = int(found["d"] or found["d2"] or found["d3"])
    clock = found["time"] or "00:00"
    if len(clock.split(":")[0]) == 1:
        clock = "0" + clock
    offset = found["tz"] or ""
    if offset and offset != "Z" and ":" not in offset:
        offset = offset[:3] + ":" + offset[3:]
    try:
        return datetime.fromisoformat(f"{year:04d}-{month:02d}-{day:02d}T{clock}{offset}")
    except ValueError:
        raise NotADate("no such day or time") from None


def _excel(serial: float) -> datetime:
    if not EXCEL_FIRST <= serial <= EXCEL_LAST + 1:
        raise NotADate(f"not a date; write {FORMS} or an Excel date")
    return EXCEL_EPOCH + timedelta(seconds=round(serial * 86_400))  # Excel keeps no more
