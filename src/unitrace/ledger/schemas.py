"""Shapes of events and commission requests at the edges (API, CLI, importers)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from unitrace.core.lifecycle import EVENT_TYPES
from unitrace.ledger.scanned import MAX_SCANNED_LENGTH, length_exceeded

EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]
MAX_JSON_BYTES = 16_384
MAX_JSON_DEPTH = 8
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


def _bounded_json(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """Free-form JSON stays small and shallow: the ledger keeps it forever."""
    if value is None:
        return None
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    if len(json.dumps(value, ensure_ascii=False).encode()) > MAX_JSON_BYTES:
        raise ValueError(f"larger than {MAX_JSON_BYTES // 1024} KB")
    return value


def _plausible_time(value: datetime | None) -> datetime | None:
    """Event times from 1970 to one day ahead (clocks differ; the future has not happened)."""
    if value is None:
        return None
    if not EARLIEST <= value <= datetime.now(UTC) + timedelta(days=1):
        raise ValueError("must be between 1970 and tomorrow")
    return value


LATEST_WINDOW = datetime(2999, 12, 31, tzinfo=UTC)


def _plausible_window(value: datetime | None) -> datetime | None:
    """Bounds of a query window: from 1970 to the year 2999 (beyond, dates overflow)."""
    if value is None:
        return None
    if not EARLIEST <= value <= LATEST_WINDOW:
        raise ValueError("must be between 1970 and 2999")
    return value


SmallJson = Annotated[dict[str, Any], AfterValidator(_bounded_json)]
WindowTime = Annotated[AwareDatetime, AfterValidator(_plausible_window)]
EventTime = Annotated[AwareDatetime, AfterValidator(_plausible_time)]
SerialText = Annotated[str, StringConstraints(min_length=1, max_length=64)]


def _serial_or_code(value: str) -> str:
    """A serial, or a GS1 code a scanner sent: each with its own length limit
    (`scanned.length_exceeded`)."""
    limit = length_exceeded(value)
    if limit is not None:
        raise ValueError(f"must have at most {limit} characters")
    return value


# what names a unit in an event: a serial, or whatever a scanner sent (`ledger.scanned`)
ScannedText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_SCANNED_LENGTH),
    AfterValidator(_serial_or_code),
]
ContainerCode = Annotated[str, StringConstraints(min_length=1, max_length=44)]
Serial = Field(min_length=1, max_length=64)
CodeRef = Field(default=None, min_length=1, max_length=60)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UnitRef(Strict):
    """A unit named by its serial (or a GS1 code, `ledger.scanned`), and its product code when
    the serial alone is ambiguous."""

    serial: ScannedText
    product: str | None = CodeRef


class BizTransaction(Strict):
    type: str = Field(min_length=1, max_length=40, examples=["po", "desadv", "inv", "rma"])
    id: str = Field(min_length=1, max_length=120)


class LotUseIn(Strict):
    """A lot-tracked part consumed by an assembly: its product, lot number and how many."""

    product: str = Field(min_length=1, max_length=40)
    lot: str = Field(min_length=1, max_length=60)
    quantity: int = Field(ge=1, le=1_000_000)


class StepIn(Strict):
    """The result of one process step of the product's route (on an `inspect` event); measured
    values go in the event's `data`."""

    code: str = Field(min_length=1, max_length=40, examples=["FQC"])
    result: Literal["pass", "fail"]
    defect_code: str | None = Field(default=None, min_length=1, max_length=40)
    started_at: EventTime | None = None

    @model_validator(mode="after")
    def _defect_on_fail(self) -> StepIn:
        if self.result == "pass" and self.defect_code:
            raise ValueError("a passed step has no defect code")
        return self


class EventIn(Strict):
    """One event of the ledger. `serials` and `units` name the units it is about."""

    event_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=80,
        description="client-chosen id; sending the same event again is acknowledged, not doubled",
    )
    type: EventType
    event_time: EventTime | None = Field(
        default=None, description="when it happened, with its UTC offset; default now"
    )
    product: str | None = Field(default=None, max_length=40, description="product of `serials`")
    serials: list[ScannedText] = Field(default_factory=list)
    units: list[UnitRef] = Field(default_factory=list)
    lot: str | None = Field(default=None, max_length=60, description="lot of new units")
    location: str | None = CodeRef
    party: str | None = Field(
        default=None, max_length=40, description="destination, holder or customer party code"
    )
    parent: UnitRef | None = None
    removed: list[UnitRef] = Field(default_factory=list, description="replace_part: parts out")
    consumed: list[LotUseIn] = Field(
        default_factory=list,
        max_length=200,
        description="assemble, replace_part: lot-tracked parts used, by lot and quantity",
    )
    step: StepIn | None = Field(default=None, description="inspect: a process step's result")
    containers: list[ContainerCode] = Field(
        default_factory=list,
        max_length=1_000,
        description="cartons or pallets (SSCC or label): the event is about every unit inside",
    )
    container: ContainerCode | None = Field(
        default=None,
        description=(
            "pack: the carton or pallet packed into (made on its first pack); unpack: the one "
            "emptied"
        ),
    )
    container_kind: Literal["carton", "pallet"] | None = Field(
        default=None, description="pack: what a new container is (default carton)"
    )
    region: str | None = Field(
        default=None,
        min_length=2,
        max_length=20,
        pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,6}){0,2}$",
        description="where the units were seen (sale, activation, service, verification), "
        "e.g. CN-44; checked against the distributor's authorised regions",
    )
    read_point: str | None = Field(default=None, max_length=80)
    operator: str | None = Field(default=None, max_length=80)
    equipment: str | None = Field(default=None, max_length=80)
    biz_transactions: list[BizTransaction] = Field(default_factory=list, max_length=50)
    attributes: SmallJson | None = Field(
        default=None, description="commission only: custom attributes of the new units"
    )
    data: SmallJson = Field(
        default_factory=dict, description="results, measurements, defect codes, notes (≤ 16 KB)"
    )

    @model_validator(mode="after")
    def _names_units(self) -> EventIn:
        lots_only = bool(self.consumed and self.parent)
        unpack_all = self.type == "unpack" and self.container is not None
        if not (self.serials or self.units or lots_only or self.containers or unpack_all):
            raise ValueError(
                "an event names at least one unit in `serials`, `units` or `containers`"
            )
        return self  # which fields each event type takes: `core.lifecycle.field_problems`


class CommissionIn(Strict):
    """Make new units: `count` serials from the product's rule, or the given `serials`."""

    event_id: str | None = Field(default=None, min_length=1, max_length=80)
    product: str = Field(min_length=1, max_length=40)
    lot: str | None = Field(default=None, max_length=60)
    count: int | None = Field(default=None, ge=1, le=1_000_000)
    serials: list[SerialText] | None = None
    location: str | None = CodeRef
    plant: str | None = Field(default=None, max_length=8)
    line: str | None = Field(default=None, max_length=8)
    event_time: EventTime | None = None
    attributes: SmallJson | None = None

    @model_validator(mode="after")
    def _count_or_serials(self) -> CommissionIn:
        if (self.count is None) == (self.serials is None):
            raise ValueError("give either `count` (to generate serials) or `serials`, not both")
        if self.serials is not None and not self.serials:
            raise ValueError("`serials` must not be empty")
        return self
