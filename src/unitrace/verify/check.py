"""One verification: a code read → the public answer, and the verification recorded.

OWNER: the engine helper (issue 16). The dataclasses are the interface the public page
(web/verify_page.py), the resolver and the owners part use: change them only by adding fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from unitrace.db.engine import Database

Kind = Literal["genuine", "warning", "not_found"]
# why an answer is a warning, in this order of weight (the page words each for a consumer)
REASONS = (
    "compromised",  # staff marked the code compromised
    "stolen",  # reported stolen (by staff or by the owner)
    "recalled",
    "scrapped",
    "clone_alert",  # a clone alert of the code is open
    "many_checks",  # verified more often than the product's max_checks
    "far_away",  # first verified far from here
    "pin_wrong",  # the PIN given does not match
    "pin_missing",  # the product has PINs and none was given (the page asks for it)
)


@dataclass(frozen=True)
class Context:
    """Who asks, as far as the public page knows: the client's address (as RequestLimits
    believed it), the device's cookie id, the region the user chose (or None: from the
    address), the PIN typed (or None), the page's locale and the time."""

    address: str
    device: str
    region: str | None = None
    pin: str | None = None
    locale: str = "zh-CN"
    at: datetime | None = None  # None: now


@dataclass(frozen=True)
class Answer:
    """What anyone may learn of a code: nothing of holder, shipment, price, distributor,
    location or events. `kind == "not_found"`: every other field is at its default, so every
    unknown code gets the same answer."""

    kind: Kind
    code: str = ""  # the code as normalised (empty for not_found)
    reasons: tuple[str, ...] = ()
    product_name: str = ""
    product_description: str = ""
    picture_url: str | None = None
    gtin: str | None = None
    production_date: date | None = None
    warranty_state: str | None = None  # shown only when registered: in_warranty, expired, …
    warranty_until: date | None = None
    checks: int = 0  # verifications of this code, this one included
    first_verified_at: datetime | None = None  # None: this is the first
    first_region: str | None = None
    region: str | None = None  # where this verification was placed (chosen or by address)
    pin_required: bool = False
    registrable: bool = False  # the buyer may register the warranty (owners part)
    registered: bool = False
    ownership: bool = False  # the product has owners (luxury)
    owned_since: date | None = None
    extra: dict[str, str] = field(default_factory=dict)


NOT_FOUND = Answer("not_found")


async def verify(db: Database, code: str, ctx: Context) -> Answer:
    """Answer one verification and record it (a `verify` event through the write path)."""
    raise NotImplementedError  # the engine helper writes this
