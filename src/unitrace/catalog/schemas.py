"""Input and output shapes of the catalog, shared by the API, the CLI and the use cases."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

Code = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9\-_.]*$")
REGION_PATTERN = r"^[A-Z]{2}(-[A-Z0-9]{1,6})?$"
REGION = re.compile(REGION_PATTERN)
Region = Field(default=None, min_length=2, max_length=20, pattern=REGION_PATTERN)


def _region_code(value: str) -> str:
    if not REGION.match(value):
        raise ValueError("not a region code like CN-31")
    return value


# one authorised region: each wrong one is named by its place (authorised_regions.3)
RegionCode = Annotated[str, Field(max_length=20), AfterValidator(_region_code)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# the event a warranty starts at (aftersales.warranty.STARTS)
WarrantyStart = Literal["manufacture", "shipment", "sale", "activation"]


# how many digits of the GTIN (in its GTIN-13 form) are the GS1 company prefix: the SGTIN EPC
# needs it; none given: UNITRACE_GS1_PREFIXES (catalog.identifiers)
CompanyPrefixLength = Field(
    default=None,
    ge=6,
    le=12,
    description="digits of the GTIN (GTIN-13 form) that are the GS1 company prefix, 6-12; "
    "null: from UNITRACE_GS1_PREFIXES",
)


class ProductCreate(Strict):
    code: str = Code
    name: str = Field(min_length=1, max_length=200)
    gtin: str | None = Field(default=None, description="GTIN-8, -12, -13 or -14")
    tracking: Literal["serial", "lot", "none"] = "serial"
    serial_rule: str | None = Field(
        default=None, max_length=200, description="serial template, e.g. SN{yy}{mm}-{seq:6}"
    )
    warranty_months: int = Field(default=0, ge=0, le=600)
    warranty_start: WarrantyStart = "sale"
    warranty_fallback: WarrantyStart | None = Field(
        default=None, description="when the unit has no start event: e.g. shipment (+ days)"
    )
    warranty_fallback_days: int = Field(default=0, ge=0, le=3650)
    description: str = Field(default="", max_length=4000)
    gs1_company_prefix_length: int | None = CompanyPrefixLength


class ProductUpdate(Strict):
    """Fields to change; `gtin`, `serial_rule` and `gs1_company_prefix_length` may be set to
    null to remove them."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    gtin: str | None = None
    serial_rule: str | None = Field(default=None, max_length=200)
    warranty_months: int | None = Field(default=None, ge=0, le=600)
    warranty_start: WarrantyStart | None = None
    warranty_fallback: WarrantyStart | None = Field(default=None, description="null: none")
    warranty_fallback_days: int | None = Field(default=None, ge=0, le=3650)
    description: str | None = Field(default=None, max_length=4000)
    gs1_company_prefix_length: int | None = CompanyPrefixLength

    @field_validator(
        "name", "warranty_months", "warranty_start", "warranty_fallback_days", "description"
    )
    @classmethod
    def _not_removed(cls, value: object) -> object:
        # Runs only for fields the request sends: an explicit null cannot clear them.
        if value is None:
            raise ValueError("cannot be removed (null)")
        return value


class LotCreate(Strict):
    product: str = Code
    number: str = Field(min_length=1, max_length=60, pattern=r"^\S(.*\S)?$")
    production_date: date | None = None
    expiry_date: date | None = None
    supplier: str | None = Field(default=None, max_length=40)


class LotUpdate(Strict):
    """Fields of a lot to change; the product and number are its identity and never change.
    Dates and supplier may be set to null to clear them."""

    production_date: date | None = None
    expiry_date: date | None = None
    supplier: str | None = Field(default=None, max_length=40)


PartyKind = Literal["supplier", "distributor", "retailer", "customer"]
LocationKind = Literal["site", "warehouse", "bin", "station", "service", "returns"]


class PartyCreate(Strict):
    code: str = Code
    name: str = Field(min_length=1, max_length=200)
    kind: PartyKind
    region: str | None = Region
    authorised_regions: list[RegionCode] = Field(default_factory=list, max_length=200)
    contact: str = Field(
        default="", max_length=400, description="contact person, telephone, e-mail (free text)"
    )


class PartyUpdate(Strict):
    """Fields of a party to change; the code is its identity and never changes. `region` may
    be set to null to clear it; `authorised_regions` replaces the whole list."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: PartyKind | None = None
    region: str | None = Region
    authorised_regions: list[RegionCode] | None = Field(default=None, max_length=200)
    contact: str | None = Field(default=None, max_length=400)

    @field_validator("name", "kind", "authorised_regions", "contact")
    @classmethod
    def _not_removed(cls, value: object) -> object:
        if value is None:
            raise ValueError("cannot be removed (null)")
        return value


class LocationCreate(Strict):
    code: str = Code
    name: str = Field(min_length=1, max_length=200)
    kind: LocationKind
    parent: str | None = Field(default=None, max_length=40)
    region: str | None = Region


class LocationUpdate(Strict):
    """Fields of a location to change; the code never changes. `parent` and `region` may be
    set to null (a location at the top; no region)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: LocationKind | None = None
    parent: str | None = Field(default=None, max_length=40)
    region: str | None = Region

    @field_validator("name", "kind")
    @classmethod
    def _not_removed(cls, value: object) -> object:
        if value is None:
            raise ValueError("cannot be removed (null)")
        return value
