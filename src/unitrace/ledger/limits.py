"""What one request may ask of the write path, by role.

Every write waits while one is written (SQLite has one writer; scans are group-committed by one
writer thread), so a request that names a million serials holds everyone's scans for as long as
it takes to look them up — and to list the ones that do not exist. A partner's batches are
small: one request of a partner may name at most `UNITRACE_PARTNER_MAX_UNITS` units and hold at
most `UNITRACE_PARTNER_MAX_EVENTS` events. The count is taken from the request alone, before it
queues for the writer and before any unit is read; the units inside the cartons and pallets an
event names are counted again once they are known, before anything is written. Staff requests
are bounded by the size of the request body.
"""

from __future__ import annotations

from collections.abc import Sequence

from unitrace.access.principal import Actor
from unitrace.config import partner_limits
from unitrace.core.errors import FieldError, ValidationError
from unitrace.ledger.schemas import EventIn

# the English texts; the pages show them translated (`web.channel`), by `what`
MESSAGES = {
    "events": "%(count)s events: a partner may send at most %(limit)s events a request; split them",
    "units": "%(count)s units: a partner may name at most %(limit)s units a request (cartons "
    "and pallets count with what is in them); split it",
}


class PartnerLimit(ValidationError):
    """A partner's request over a partner limit (422): `what` is "units" or "events"."""

    def __init__(self, field: str, what: str, count: int, limit: int) -> None:
        self.what, self.count, self.limit = what, count, limit
        message = MESSAGES[what] % {"count": f"{count:,}", "limit": f"{limit:,}"}
        super().__init__(f"{field}: {message}", [FieldError(field, message, count)])


def named(event: EventIn) -> int:
    """How many units, cartons and pallets an event names."""
    return (
        len(event.serials)
        + len(event.units)
        + len(event.removed)
        + len(event.containers)
        + (event.parent is not None)
        + (event.container is not None)
    )


def named_field(event: EventIn, index: int | None = None) -> str:
    """The field a refusal of too many units names: where the event names its units."""
    name = "serials" if event.serials else "units" if event.units else "containers"
    return name if index is None else f"{index}.{name}"


def check_request(actor: Actor, batch: Sequence[EventIn], where: str = "body") -> None:
    """Refuse a request that asks more than the actor's role may ask of one request (422);
    `where` is the field named for too many events."""
    if not actor.is_partner:
        return
    limits = partner_limits()
    if len(batch) > limits.max_events:
        raise PartnerLimit(where, "events", len(batch), limits.max_events)
    total = 0
    for i, event in enumerate(batch):
        total += named(event)
        if total > limits.max_units:
            check_units(
                actor,
                sum(named(e) for e in batch),
                named_field(event, i if len(batch) > 1 else None),
            )


def max_units(actor: Actor) -> int | None:
    """The most units one request of the actor may name (None: no bound by role)."""
    return partner_limits().max_units if actor.is_partner else None


def check_units(actor: Actor, count: int, field: str) -> None:
    """Refuse `count` units in one request when the actor's role may not ask that many."""
    if not actor.is_partner:
        return
    limit = partner_limits().max_units
    if count > limit:
        raise PartnerLimit(field, "units", count, limit)
