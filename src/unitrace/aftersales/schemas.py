"""Shapes of after-sales requests at the edges (API, pages, CLI). Each area has its section."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

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


class PartNeed(Strict):
    product: str = Field(min_length=1, max_length=40)
    quantity: int = Field(default=1, ge=1, le=1000)


class DiagnosisIn(Strict):
    """What the technician found: the defect, the component serials in the unit, the parts the
    repair needs (what the service location lacks is requested from the warehouse)."""

    defect_code: str | None = Field(default=None, min_length=1, max_length=40)
    found_components: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, max_length=500
    )
    parts_needed: list[PartNeed] = Field(default_factory=list, max_length=100)
    note: str = Field(default="", max_length=4000)


# --- warranty ----------------------------------------------------------------------------------


# --- claim checks ------------------------------------------------------------------------------

CheckName = Literal[
    "shipped", "warranty", "open_case", "frequency", "region", "scrapped", "stolen", "recall",
    "components",
]  # fmt: skip


class ClaimCheckIn(Strict):
    """A dry run of the claim checks: what a warranty claim for this unit would meet now."""

    serial: str = Field(min_length=1, max_length=64)
    product: str | None = Field(default=None, min_length=1, max_length=40)
    region: str | None = Field(
        default=None, min_length=1, max_length=20, description="where the claim comes from"
    )
    found_components: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, max_length=500, description="component serials found in the unit"
    )
    on: date | None = Field(default=None, description="the day of the claim (default today)")


class ClaimRuleIn(Strict):
    """What a check does, for one product or (no product) for all: `refuse`, `flag`, `off`,
    or `inherit` (remove the rule: the one for all, or the default, applies)."""

    product: str | None = Field(default=None, min_length=1, max_length=40)
    check: CheckName
    mode: Literal["refuse", "flag", "off", "inherit"]
    params: dict[Annotated[str, Field(max_length=20)], int] = Field(
        default_factory=dict, max_length=5, description='e.g. frequency {"claims": 3, "days": 90}'
    )


class StolenIn(Strict):
    """A stolen report, or its clearing: the unit's product when the serial is ambiguous."""

    product: str | None = Field(default=None, min_length=1, max_length=40)
    note: str = Field(default="", max_length=1000)


# --- spare-part requests -----------------------------------------------------------------------


# --- figures -----------------------------------------------------------------------------------
