"""The unit lifecycle: statuses, event types, and what each event may do to a unit.

Every rule about which event is allowed from which status, and what it changes, lives in
`RULES`. The ledger's set-based write path and the replay check both read them from here, so
the live projection and a replay of the ledger cannot disagree about the rules.

EPCIS 2.0 / CBV 2.0 names are given for each event type so that EPCIS export is a mapping.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum


class Status(IntEnum):
    """Stable integer values (stored in the database); never renumber, only add."""

    COMMISSIONED = 10
    IN_STOCK = 20
    IN_TRANSIT = 30
    DELIVERED = 40
    SOLD = 50
    ACTIVE = 60
    INSTALLED = 70
    RETURNED = 80
    RECALLED = 90
    SCRAPPED = 100

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> Status:
        try:
            return cls[label.strip().upper()]
        except KeyError:
            raise ValueError(
                f"unknown status {label!r}; one of {', '.join(s.label for s in cls)}"
            ) from None


class Role(IntEnum):
    """How a unit takes part in an event (stored in the event-unit link)."""

    SUBJECT = 0  # the units the event is about
    PARENT = 1  # the assembly that components go into or come out of
    REMOVED = 2  # components taken out by replace_part


class Effect(StrEnum):
    """What an event does to one attribute of a unit (location, holder or parent)."""

    KEEP = "keep"
    SET = "set"  # the event must name a value, which replaces the unit's
    OPTIONAL = "optional"  # replaced when the event names a value, kept otherwise
    CLEAR = "clear"


@dataclass(frozen=True)
class Rule:
    event_type: str
    allowed_from: frozenset[Status]
    to: Status | None  # None: the status does not change
    location: Effect
    holder: Effect
    parent: Effect
    epcis_type: str
    action: str
    biz_step: str
    disposition: str | None
    summary: str

    def allows(self, status: Status) -> bool:
        return status in self.allowed_from

    def describe_allowed(self) -> str:
        return ", ".join(s.label for s in sorted(self.allowed_from))


ALL = frozenset(Status)
LIVE = ALL - {Status.SCRAPPED}
_K, _S, _O, _C = Effect.KEEP, Effect.SET, Effect.OPTIONAL, Effect.CLEAR
_UT = "urn:unitrace:bizstep:"

RULES: dict[str, Rule] = {
    rule.event_type: rule
    for rule in (
        Rule("commission", frozenset(), Status.COMMISSIONED, _O, _C, _K,
             "ObjectEvent", "ADD", "commissioning", "active",
             "a new unit with its serial enters the ledger"),
        Rule("inspect", LIVE, None, _K, _K, _K,
             "ObjectEvent", "OBSERVE", "inspecting", None,
             "an inspection or test result is recorded"),
        Rule("assemble", frozenset({Status.COMMISSIONED, Status.IN_STOCK, Status.RETURNED}),
             Status.INSTALLED, _C, _C, _S,
             "AggregationEvent", "ADD", "assembling", "in_progress",
             "components are installed into a parent unit"),
        Rule("disassemble", frozenset({Status.INSTALLED}), Status.IN_STOCK, _O, _C, _C,
             "AggregationEvent", "DELETE", "disassembling", "in_progress",
             "components are taken out of their parent unit"),
        Rule("receive", frozenset({Status.COMMISSIONED, Status.IN_TRANSIT, Status.RETURNED,
                                   Status.RECALLED}),
             Status.IN_STOCK, _S, _C, _C,
             "ObjectEvent", "OBSERVE", "receiving", "sellable_not_accessible",
             "units are received into one of our locations"),
        Rule("move", frozenset({Status.COMMISSIONED, Status.IN_STOCK, Status.RETURNED,
                                Status.RECALLED}),
             None, _S, _K, _C,
             "ObjectEvent", "OBSERVE", "storing", None,
             "units move between our locations"),
        Rule("ship", frozenset({Status.IN_STOCK}), Status.IN_TRANSIT, _C, _S, _K,
             "ObjectEvent", "OBSERVE", "shipping", "in_transit",
             "units leave for a party (distributor, retailer, customer)"),
        Rule("deliver", frozenset({Status.IN_TRANSIT}), Status.DELIVERED, _O, _O, _K,
             "ObjectEvent", "OBSERVE", "accepting", "sellable_accessible",
             "the receiving party has the units"),
        Rule("sell", frozenset({Status.IN_STOCK, Status.DELIVERED}), Status.SOLD, _K, _O, _K,
             "ObjectEvent", "OBSERVE", "retail_selling", "retail_sold",
             "units are sold to their end customer"),
        Rule("activate", frozenset({Status.SOLD, Status.DELIVERED}), Status.ACTIVE, _K, _O, _K,
             "ObjectEvent", "OBSERVE", _UT + "activating", "active",
             "the end customer puts the unit in use (warranty may start)"),
        Rule("return", frozenset({Status.IN_TRANSIT, Status.DELIVERED, Status.SOLD,
                                  Status.ACTIVE, Status.RECALLED}),
             Status.RETURNED, _O, _C, _C,
             "ObjectEvent", "OBSERVE", "receiving", "returned",
             "units come back to us"),
        Rule("repair", frozenset({Status.IN_STOCK, Status.DELIVERED, Status.SOLD, Status.ACTIVE,
                                  Status.RETURNED, Status.RECALLED}),
             None, _K, _K, _K,
             "ObjectEvent", "OBSERVE", "repairing", None,
             "a repair is done on the unit"),
        Rule("replace_part", frozenset({Status.COMMISSIONED, Status.IN_STOCK, Status.RETURNED}),
             Status.INSTALLED, _C, _C, _S,
             "AggregationEvent", "ADD", "replacing", None,
             "new components replace removed ones in a parent unit"),
        Rule("pack", frozenset({Status.COMMISSIONED, Status.IN_STOCK, Status.RETURNED,
                                Status.DELIVERED}),
             None, _K, _K, _K,
             "AggregationEvent", "ADD", "packing", None,
             "units are packed into a carton, or cartons onto a pallet"),
        Rule("unpack", LIVE - {Status.INSTALLED}, None, _K, _K, _K,
             "AggregationEvent", "DELETE", "unpacking", None,
             "units or cartons are taken out of their carton or pallet"),
        Rule("count", LIVE - {Status.INSTALLED}, None, _K, _K, _K,
             "ObjectEvent", "OBSERVE", "cycle_counting", None,
             "units are seen in a stock count"),
        Rule("verify", ALL, None, _K, _K, _K,
             "ObjectEvent", "OBSERVE", _UT + "verifying", None,
             "someone checks that the unit is genuine"),
        Rule("recall", LIVE - {Status.RECALLED}, Status.RECALLED, _K, _K, _K,
             "ObjectEvent", "OBSERVE", "holding", "recalled",
             "units are recalled"),
        Rule("scrap", LIVE, Status.SCRAPPED, _K, _K, _K,
             "ObjectEvent", "DELETE", "destroying", "destroyed",
             "units are destroyed or written off"),
    )
}  # fmt: skip

EVENT_TYPES = tuple(RULES)

# replace_part takes the removed components out: they go back as returned parts.
REMOVED_FROM = frozenset({Status.INSTALLED})
REMOVED_TO = Status.RETURNED  # see REMOVED_CHANGES
# A parent must exist and be live for assemble and replace_part; parts may be taken out of
# any parent, a scrapped one included (salvage).
PARENT_ALLOWED = LIVE


# What each event type takes beyond its units, time and ids: `location`, `party` and `parent`
# are required where the rule SETs them (`required_fields`); these may be given only where listed.
TAKES: dict[str, frozenset[str]] = {
    "parent": frozenset({"assemble", "disassemble", "replace_part"}),
    "removed": frozenset({"replace_part"}),
    "consumed": frozenset({"assemble", "replace_part"}),
    "step": frozenset({"inspect"}),
    "container": frozenset({"pack", "unpack"}),
    "container_kind": frozenset({"pack"}),
    "containers": frozenset(RULES) - {"commission", "assemble", "disassemble", "replace_part"},
    "attributes": frozenset({"commission"}),
    "lot": frozenset({"commission"}),
    "units": frozenset(RULES) - {"commission"},
}
_NOT_TAKEN = {
    "parent": "{what} does not take a parent unit",
    "removed": "only replace_part takes removed components, not {what}",
    "consumed": "only assemble and replace_part consume lots (`consumed`), not {what}",
    "step": "a process step result (`step`) is recorded by an inspect event, not {what}",
    "container": "only pack and unpack take `container`, not {what}; name the cartons the "
    "event moves in `containers`",
    "container_kind": "only pack makes containers",
    "containers": "{what} takes units, not cartons or pallets",
    "attributes": "only commission sets unit attributes",
    "lot": "only commission sets the lot of units",
    "units": "commission takes `product` and its new `serials`",
}


def field_problems(event_type: str, given: Collection[str]) -> list[tuple[str, str]]:
    """(field, reason) for every field the event type needs and lacks, or takes not: all of
    them at once. `given` names the fields the event has a value in."""
    rule = rule_for(event_type)
    what = event_type
    problems = []
    needed = (
        ("location", rule.location, "{what} needs the location the units go to"),
        ("party", rule.holder, "{what} needs the party the units go to"),
        ("parent", rule.parent, "{what} needs the parent unit the components go into"),
    )
    for name, effect, message in needed:
        if effect is Effect.SET and name not in given:
            problems.append((name, message.format(what=what)))
    if event_type == "replace_part" and "removed" not in given:
        problems.append(("removed", "replace_part needs the components that come out"))
    if event_type in ("pack", "unpack") and "container" not in given:
        problems.append(("container", f"{what} needs the carton or pallet (its code)"))
    if event_type == "commission" and "product" not in given:
        problems.append(("product", "commission takes `product` and its new `serials`"))
    for name, types in TAKES.items():
        if name in given and event_type not in types:
            problems.append((name, _NOT_TAKEN[name].format(what=what)))
    return problems


def before_commission(event_time: datetime, commissioned_at: datetime) -> datetime | None:
    """Nothing happens to a unit before it exists: the commission time (in the offset the
    event was given in) when `event_time` is before it, else None."""
    if event_time >= commissioned_at:
        return None
    return commissioned_at.astimezone(event_time.tzinfo)


def state_text(status: Status, inside: str | None = None) -> str:
    """A unit's state as refusals say it: `installed in FIN/F-1`."""
    return status.label + (f" in {inside}" if inside else "")


def refusal(rule: Rule, unit: str, state: str) -> str:
    """Why `rule` may not happen to a unit (`PRODUCT/SERIAL`) in `state`: one sentence."""
    allowed = rule.describe_allowed() or "nowhere"
    return f"unit {unit} is {state}; {rule.event_type} is allowed only from {allowed}"


def parent_problem(event_type: str, status: Status) -> str | None:
    """Why a unit may not be the parent of this event, or None."""
    if event_type != "disassemble" and status not in PARENT_ALLOWED:
        return f"is {status.label}"
    return None


def changes(
    rule: Rule, location_id: int | None, holder_id: int | None, parent_id: int | None
) -> dict[str, int | None]:
    """The columns of a unit an event of `rule` sets, and to what (`status` included when it
    changes); the projection, containers and the replay check all read them from here."""
    out: dict[str, int | None] = {}
    if rule.to is not None:
        out["status"] = int(rule.to)
    for column, effect, given in (
        ("location_id", rule.location, location_id),
        ("holder_id", rule.holder, holder_id),
        ("parent_id", rule.parent, parent_id),
    ):
        if effect is Effect.CLEAR:
            out[column] = None
        elif effect is Effect.SET or (effect is Effect.OPTIONAL and given is not None):
            out[column] = given
    return out


# what replace_part does to each removed component: back as a returned part, out of its parent
REMOVED_CHANGES: dict[str, int | None] = {
    "status": int(REMOVED_TO),
    "parent_id": None,
    "holder_id": None,
}


def rule_for(event_type: str) -> Rule:
    try:
        return RULES[event_type]
    except KeyError:
        raise ValueError(
            f"unknown event type {event_type!r}; one of {', '.join(EVENT_TYPES)}"
        ) from None


@dataclass(frozen=True)
class UnitState:
    """The projected state of one unit; what replay rebuilds and compares."""

    status: Status
    location_id: int | None
    holder_id: int | None
    parent_id: int | None


def apply(
    state: UnitState | None,
    event_type: str,
    role: Role,
    location_id: int | None,
    holder_id: int | None,
    parent_id: int | None,
) -> UnitState:
    """The state of a unit after an event, or ValueError when the lifecycle forbids it.

    The parent unit of an assembly event is not changed by it (role PARENT).
    """
    rule = rule_for(event_type)
    if role is Role.PARENT:
        if state is None:
            raise ValueError("parent unit does not exist")
        if parent_problem(event_type, state.status):
            raise ValueError("parent unit is not live")
        return state
    if role is Role.REMOVED:
        if state is None or state.status not in REMOVED_FROM:
            raise ValueError("removed component is not installed")
        return UnitState(REMOVED_TO, state.location_id, None, None)  # REMOVED_CHANGES
    if state is None:
        if event_type != "commission":
            raise ValueError("unit does not exist")
        return UnitState(Status.COMMISSIONED, location_id, None, None)
    if not rule.allows(state.status):
        raise ValueError(f"{event_type} not allowed from {state.status.label}")
    new = changes(rule, location_id, holder_id, parent_id)
    status = new.get("status")
    return UnitState(
        Status(status) if status is not None else state.status,
        new.get("location_id", state.location_id),
        new.get("holder_id", state.holder_id),
        new.get("parent_id", state.parent_id),
    )
