"""Shapes of production data at the edges: bills of materials, routes, trace queries, recalls."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from unitrace.ledger.schemas import WindowTime

Code = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9\-_.]*$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class BomLineIn(Strict):
    component: str = Field(min_length=1, max_length=40, description="component product code")
    quantity: int = Field(default=1, ge=1, le=100_000)
    required: bool = True


class BomIn(Strict):
    """The whole bill of materials of a product (replaces the previous one)."""

    policy: Literal["refuse", "warn"] = Field(
        default="refuse", description="an assembly that breaks the BOM is refused, or warned"
    )
    lines: list[BomLineIn] = Field(default_factory=list, max_length=500)


class StepDefIn(Strict):
    code: str = Code
    name: str = Field(min_length=1, max_length=200)
    required: bool = True


class RouteIn(Strict):
    """The ordered process steps of a product (replaces the previous route)."""

    steps: list[StepDefIn] = Field(default_factory=list, max_length=100)


class TraceQuery(Strict):
    """Where a forward trace starts: one component serial, a lot, a supplier, or a station,
    equipment or operator in a time window."""

    serial: str | None = Field(default=None, min_length=1, max_length=64)
    product: str | None = Field(default=None, max_length=40, description="product of serial/lot")
    lot: str | None = Field(default=None, min_length=1, max_length=60)
    supplier: str | None = Field(default=None, min_length=1, max_length=40)
    station: str | None = Field(default=None, min_length=1, max_length=40)
    equipment: str | None = Field(default=None, min_length=1, max_length=80)
    operator: str | None = Field(default=None, min_length=1, max_length=80)
    since: WindowTime | None = None
    until: WindowTime | None = None

    @model_validator(mode="after")
    def _one_start(self) -> TraceQuery:
        named = ("serial", "lot", "supplier", "station", "equipment", "operator")
        starts = [n for n in named if getattr(self, n)]
        if len(starts) != 1:
            raise ValueError(
                "give exactly one of serial, lot, supplier, station, equipment, operator"
            )
        windowed = starts[0] in ("station", "equipment", "operator")
        if windowed and (self.since is None or self.until is None):
            raise ValueError(f"a trace from a {starts[0]} needs a time window: since and until")
        if self.lot and not self.product:
            raise ValueError("a lot number needs its product")
        if self.since and self.until and self.until <= self.since:
            raise ValueError("until must be after since")
        return self


class TraceParams(TraceQuery):
    """A trace query in a URL, beside other query parameters (limit, offset, format)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class RecallIn(Strict):
    code: str = Code
    title: str = Field(min_length=1, max_length=200)
    reason: str = Field(default="", max_length=4000)
    trace: TraceQuery
