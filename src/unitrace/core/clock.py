"""Moments as people on the floor read them: in one time zone, with its UTC offset shown, so a
time printed in one place is never read as another place's (`2026-12-01 09:30 +08:00`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo


def as_moment(value: datetime | str) -> datetime:
    """A datetime or ISO text as an aware datetime (a naive one is UTC, as the database keeps)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def shown_in(value: datetime | str, zone: tzinfo, seconds: bool = False) -> str:
    """`value` in `zone` as `YYYY-MM-DD HH:MM ±HH:MM` (with `:SS` when `seconds`)."""
    moment = as_moment(value).astimezone(zone)
    offset = moment.strftime("%z")  # +0800
    clock = "%H:%M:%S" if seconds else "%H:%M"
    return f"{moment.strftime('%Y-%m-%d ' + clock)} {offset[:3]}:{offset[3:]}"


# --- now, movable: tests move the clock instead of sleeping (webhook retries, day-long waits) --

_offset = timedelta(0)


def now() -> datetime:
    """The current moment (UTC), moved by what `move` added."""
    return datetime.now(UTC) + _offset


def move(by: timedelta) -> None:
    """Move `now` forward (or back) for every thread; `reset` puts it back."""
    global _offset
    _offset += by


def reset() -> None:
    global _offset
    _offset = timedelta(0)
