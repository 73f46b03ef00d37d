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


# --- claim checks ------------------------------------------------------------------------------


# --- spare-part requests -----------------------------------------------------------------------


# --- figures -----------------------------------------------------------------------------------

FigureFormat = Literal["json", "csv", "xlsx"]  # a figure as JSON, or its table downloaded

# --- case work: notes, cost lines, service codes (casework) ------------------------------------

CostKind = Literal["parts", "labour", "shipping"]
Coverage = Literal["warranty", "chargeable", "goodwill"]
CodeKind = Literal["symptom", "defect"]


class NoteIn(Strict):
    """A note on a case (what the customer said, what the technician saw …)."""

    text: str = Field(min_length=1, max_length=4000)


class CostIn(Strict):
    """A cost line: `amount` as decimal text in the currency's unit (`128.50` yuan), stored in
    its minor unit (fen); `currency` an ISO 4217 code."""

    kind: CostKind
    coverage: Coverage
    amount: str = Field(min_length=1, max_length=20, examples=["128.50"])
    currency: str = Field(default="CNY", min_length=3, max_length=3)
    description: str = Field(default="", max_length=200)


class ServiceCodeIn(Strict):
    """A symptom or defect code with its names in both languages."""

    code: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    kind: CodeKind
    name_en: str = Field(min_length=1, max_length=200)
    name_zh: str = Field(min_length=1, max_length=200)
    active: bool = True


class ServiceCodePatch(Strict):
    """What to change of a code (its code and kind stay)."""

    name_en: str | None = Field(default=None, min_length=1, max_length=200)
    name_zh: str | None = Field(default=None, min_length=1, max_length=200)
    active: bool | None = None
