"""Shapes of after-sales requests at the edges (API, pages, CLI). Each area has its section."""

from __future__ import annotations

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

REGION_PATTERN = r"^[A-Z]{2}(-[A-Z0-9]{1,6})?$"  # as catalog's: CN, CN-31


class ExtensionIn(Strict):
    """Months added to one unit's warranty: bought by the customer or given as goodwill."""

    product: str | None = Field(default=None, min_length=1, max_length=40)
    months: int = Field(ge=1, le=120)
    paid: Literal["bought", "goodwill"]
    reason: str = Field(min_length=1, max_length=1000, pattern=r"\S")
    case: str | None = Field(
        default=None, min_length=1, max_length=20, description="the service case it is for"
    )


class VoidIn(Strict):
    """Void one unit's warranty (tampering, misuse …): no claim is owed until it is lifted."""

    product: str | None = Field(default=None, min_length=1, max_length=40)
    reason: str = Field(min_length=1, max_length=1000, pattern=r"\S")
    case: str | None = Field(default=None, min_length=1, max_length=20)


class UnvoidIn(Strict):
    """Lift the void of one unit's warranty (`warranty.unvoid`), saying why."""

    product: str | None = Field(default=None, min_length=1, max_length=40)
    reason: str = Field(min_length=1, max_length=1000, pattern=r"\S")


class OverrideIn(Strict):
    """Other months for a product in a region (`CN-31`, or a whole country `CN`) or for units
    shipped to a channel party; exactly one of `region` and `party`."""

    region: str | None = Field(default=None, max_length=20, pattern=REGION_PATTERN)
    party: str | None = Field(default=None, min_length=1, max_length=40)
    months: int = Field(ge=0, le=600)


class OverridesIn(Strict):
    """The product's overrides, all of them (what is not listed is removed)."""

    overrides: list[OverrideIn] = Field(max_length=500)


# --- claim checks ------------------------------------------------------------------------------


# --- spare-part requests -----------------------------------------------------------------------


# --- figures -----------------------------------------------------------------------------------
