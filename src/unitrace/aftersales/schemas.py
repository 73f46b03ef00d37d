"""Shapes of after-sales requests at the edges (API, pages, CLI). Each area has its section."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field, model_validator

from unitrace.ledger.schemas import SmallJson, Strict

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
        default=None,
        min_length=1,
        max_length=1000,
        description="open a claim a check refused (role with claim.override)",
    )


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


class StateIn(Strict):
    """A change of a case's state; closing names its outcome. `from_state`: the state the
    client saw (a page's form) — a case that moved on meanwhile answers 409."""

    to: Literal["open", "diagnosed", "waiting_for_parts", "in_repair", "testing", "closed"]
    outcome: Literal["resolved", "rejected", "no_fault_found"] | None = None
    note: str = Field(default="", max_length=4000)
    from_state: (
        Literal["open", "diagnosed", "waiting_for_parts", "in_repair", "testing", "closed"] | None
    ) = None


StepAction = Literal["receive_return", "repair", "inspect", "ship_back"]


class CaseStepIn(Strict):
    """A physical step of a case, recorded on the unit's ledger: the unit comes back
    (`receive_return`, to `location`, default the case's service location), is repaired
    (`repair`), tested (`inspect` with `result`), or shipped back (`ship_back`, to `party`,
    default the case's reporter party)."""

    action: StepAction
    location: str | None = Field(default=None, min_length=1, max_length=60)
    party: str | None = Field(default=None, min_length=1, max_length=40)
    result: Literal["pass", "fail"] | None = Field(default=None, description="inspect: the test")
    note: str = Field(default="", max_length=4000)
    data: SmallJson = Field(default_factory=dict, description="measurements, test values")
    event_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=80,
        description="client-chosen id: the same step sent again is acknowledged, not doubled",
    )


class ConsumedIn(Strict):
    """A lot-tracked consumable used in a repair: its product, lot number and how many."""

    product: str = Field(min_length=1, max_length=40)
    lot: str = Field(min_length=1, max_length=60)
    quantity: int = Field(ge=1, le=1_000_000)


class PartIn(Strict):
    """A part replaced in a case: the component taken out of the unit (`removed`, it goes to
    a returns location) and the one put in (`installed`); or only consumables used."""

    removed: str | None = Field(default=None, min_length=1, max_length=64)
    removed_product: str | None = Field(default=None, min_length=1, max_length=40)
    installed: str | None = Field(default=None, min_length=1, max_length=64)
    installed_product: str | None = Field(default=None, min_length=1, max_length=40)
    reason: str = Field(default="", max_length=1000)
    returns_location: str | None = Field(
        default=None,
        min_length=1,
        max_length=60,
        description="where the removed part goes (a location of kind returns); default the "
        "only one there is",
    )
    consumed: list[ConsumedIn] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _names_something(self) -> PartIn:
        if (self.removed is None) != (self.installed is None):
            raise ValueError("a replacement names both the removed and the installed part")
        if self.removed is None and not self.consumed:
            raise ValueError("name the removed and installed parts, or the consumables used")
        return self


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

CheckName = Literal[
    "shipped",
    "warranty",
    "open_case",
    "frequency",
    "region",
    "scrapped",
    "stolen",
    "recall",
    "components",
]


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


class PickIn(Strict):
    """Serialised spares scanned for a request: moved to its service location."""

    serials: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=200
    )


class CancelIn(Strict):
    reason: str = Field(min_length=1, max_length=1000)


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
