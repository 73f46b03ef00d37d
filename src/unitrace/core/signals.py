"""Signals: a capability says, inside its transaction, that something others may want to know
about happened — a diversion alert raised, a clone alert, a recall opened, a warranty claim
made — without importing who listens.

Listeners are registered through the `unitrace.listeners` entry points (see `pyproject.toml`):
each names a callable `(conn, kind, payloads) -> None`, called in the emitter's transaction, so
what a listener writes (a webhook's outbox row) is committed or rolled back with the alert.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import entry_points
from typing import Any

from sqlalchemy import Connection

Listener = Callable[[Connection, str, Sequence[Mapping[str, Any]]], None]

KINDS = ("diversion", "clone", "recall", "claim")

_listeners: list[Listener] | None = None


def listeners() -> list[Listener]:
    global _listeners
    if _listeners is None:
        points = {p.value: p for p in entry_points(group="unitrace.listeners")}
        _listeners = [point.load() for _value, point in sorted(points.items())]
    return _listeners


def emit(conn: Connection, kind: str, payload: Mapping[str, Any]) -> None:
    """Tell every listener, in this transaction, that a `kind` happened; `payload["id"]` names
    it (the alert's, recall's or claim's key) so a listener can keep it once; `unit_id` (if
    any) the unit it is about."""
    emit_many(conn, kind, [payload])


def emit_many(conn: Connection, kind: str, payloads: Sequence[Mapping[str, Any]]) -> None:
    """`emit` for many at once (the diversion alerts of one sale of many units)."""
    if payloads:
        for listener in listeners():
            listener(conn, kind, payloads)
