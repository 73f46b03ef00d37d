"""Pydantic models of the print-run edge (API, pages, CLI)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_SERIALS = 100_000  # serials one run may name (a lot or a commission run may be larger)


class RunIn(BaseModel):
    """What to print: exactly one source — a `lot` (with its `product`), `serials` (with their
    `product`), a `container` (carton or pallet, its label or SSCC: its SSCC label and
    those of the cartons on a pallet), or `commission` (the event id of a commission: every unit
    it made)."""

    model_config = ConfigDict(extra="forbid")

    product: str | None = Field(None, max_length=40)
    lot: str | None = Field(None, max_length=60)
    serials: list[str] | None = Field(None, max_length=MAX_SERIALS)
    container: str | None = Field(None, max_length=40)
    commission: str | None = Field(None, max_length=200)
    template: str = Field("default", min_length=1, max_length=60)
    format: Literal["pdf", "zpl"] = "pdf"
    dpi: Literal[203, 300] = 203


class ReprintIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(..., max_length=500, description="why the labels are printed again")
