"""Shapes of after-sales requests at the edges (API, pages, CLI). Each area has its section."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from unitrace.ledger.schemas import Strict

# --- service cases -----------------------------------------------------------------------------

CaseKind = Literal["repair", "return", "maintenance", "installation", "inspection"]


class CaseIn(Strict):
    """A service case to open for a unit; `warranty_claim` runs the claim checks."""

    serial: str = Field(min_length=1, max_length=64)
    product: str | None = Field(default=None, min_length=1, max_length=40)
    kind: CaseKind = "repair"
    warranty_claim: bool = True
    reporter_party: str | None = Field(default=None, min_length=1, max_length=40)
    reporter_contact: str = Field(default="", max_length=400)
    symptom_code: str | None = Field(default=None, min_length=1, max_length=40)
    description: str = Field(default="", max_length=4000)
    region: str | None = Field(default=None, min_length=1, max_length=20)
    location: str | None = Field(
        default=None, min_length=1, max_length=40, description="the service location's code"
    )
    override_reason: str | None = Field(
        default=None, min_length=1, max_length=1000,
        description="open a claim a check refused (role with claim.override)",
    )  # fmt: skip


# --- warranty ----------------------------------------------------------------------------------


# --- claim checks ------------------------------------------------------------------------------


# --- spare-part requests -----------------------------------------------------------------------


# --- figures -----------------------------------------------------------------------------------
