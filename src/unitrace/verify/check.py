"""One verification: a code read → the public answer, and the verification recorded.

The dataclasses are the interface the public page (web/verify_page.py), the JSON edge
(verify/public.py), the resolver and the owners part use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import Connection, bindparam, select

from unitrace.aftersales import warranty
from unitrace.config import site_timezone
from unitrace.core.clock import as_moment
from unitrace.core.lifecycle import Status
from unitrace.db.engine import Database
from unitrace.db.fast import Fast
from unitrace.db.tables import (
    event_units,
    events,
    lots,
    products,
    units,
    verify_codes,
    verify_settings,
)
from unitrace.ledger import group
from unitrace.ledger.schemas import EventIn

from . import clones, codes, keys, owners, regions

REGION_PATTERN = re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,6}){0,2}")  # as ledger's EventIn.region
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


# --- the verdict ---------------------------------------------------------------------------

PUBLIC = owners.PUBLIC  # who records a verification from the public page

_FIND = Fast(
    select(
        verify_codes.c.id,
        verify_codes.c.unit_id,
        verify_codes.c.key_id,
        verify_codes.c.pin_hash,
        verify_codes.c.checks,
        verify_codes.c.first_at,
        verify_codes.c.first_region,
        verify_codes.c.compromised_at,
        units.c.status,
        units.c.serial,
        units.c.lot_id,
        products.c.code.label("product"),
        products.c.name,
        products.c.description,
        products.c.gtin14,
        verify_settings.c.enabled,
        verify_settings.c.pin,
        verify_settings.c.ownership,
        verify_settings.c.max_checks,
        verify_settings.c.picture,
    )
    .join(units, units.c.id == verify_codes.c.unit_id)
    .join(products, products.c.id == units.c.product_id)
    .outerjoin(verify_settings, verify_settings.c.product_id == units.c.product_id)
    .where(verify_codes.c.code == bindparam("code"))
)
_COLUMNS = [c.key for c in _FIND.statement.selected_columns]
_LOT_DATE = Fast(select(lots.c.production_date).where(lots.c.id == bindparam("lot")))
_COMMISSIONED = Fast(
    select(events.c.event_time)
    .join(event_units, event_units.c.event_id == events.c.id)
    .where(event_units.c.unit_id == bindparam("unit"), events.c.type == "commission")
    .limit(1)
)
DEFAULT_MAX_CHECKS = 20  # verify_settings' default, for a product without a settings row


def _province(region: str | None) -> str | None:
    """`CN-44` of `CN-4401` or `CN-44`; None for no region or one without a province."""
    if not region or not region.startswith("CN-") or len(region) < 5:
        return region
    return region[:5]


def _far(first: str | None, here: str | None) -> bool:
    return bool(first and here) and _province(first) != _province(here)


async def verify(db: Database, code: str, ctx: Context) -> Answer:
    """Answer one verification and record it: a `verify` event through the write path (the
    group writer), with the region, the device and a keyed hash of the address. Anything that
    is not a known code — a malformed one included — gets `NOT_FOUND`, after the same lookup."""
    normal = codes.normalise(code) if isinstance(code, str) and len(code) <= 64 else None
    with db.read() as conn:
        row = _FIND.run(conn, {"code": normal or "-"}).fetchone()
        if row is None or normal is None:
            return NOT_FOUND
        found = dict(zip(_COLUMNS, row, strict=True), id_code=normal)
        if found["first_at"] is not None:
            found["first_at"] = as_moment(found["first_at"])
        answer, event = _verdict(conn, found, ctx)
    await group.record(db, PUBLIC, event)
    return answer


def _verdict(conn: Connection, f: dict[str, Any], ctx: Context) -> tuple[Answer, EventIn]:
    at = ctx.at or datetime.now(UTC)
    region = ctx.region or regions.region_of(conn, ctx.address)
    source = "chosen" if ctx.region else ("address" if region else None)
    reasons: list[str] = []
    if f["compromised_at"] is not None:
        reasons.append("compromised")
    owned = owners.ownership(conn, f["unit_id"])
    if owned.stolen:
        reasons.append("stolen")
    status = Status(f["status"])
    if status is Status.RECALLED:
        reasons.append("recalled")
    if status is Status.SCRAPPED:
        reasons.append("scrapped")
    if clones.open_alert(conn, f["id"]):
        reasons.append("clone_alert")
    checks = int(f["checks"]) + 1
    max_checks = f["max_checks"] if f["max_checks"] is not None else DEFAULT_MAX_CHECKS
    if checks > max_checks:
        reasons.append("many_checks")
    if _far(f["first_region"], region):
        reasons.append("far_away")
    pin_ok: bool | None = None
    pin_required = bool(f["pin"]) and f["pin_hash"] is not None
    if pin_required:
        if not ctx.pin:
            reasons.append("pin_missing")
        else:
            pin_ok = codes.pin_matches(f["key_id"], f["pin_hash"], f["id_code"], ctx.pin)
            if not pin_ok:
                reasons.append("pin_wrong")
    warranty_state = warranty_until = None
    if owned.registered:
        found = warranty.verdict(conn, f["unit_id"])
        warranty_state = found.get("status")
        end = found.get("end_date")
        warranty_until = date.fromisoformat(end) if end else None
    answer = Answer(
        "warning" if reasons else "genuine",
        code=f["id_code"],
        reasons=tuple(r for r in REASONS if r in reasons),
        product_name=f["name"],
        product_description=f["description"] or "",
        picture_url=f"/v/{f['id_code']}/picture" if f["picture"] else None,
        gtin=f["gtin14"],
        production_date=_production_date(conn, f),
        warranty_state=warranty_state,
        warranty_until=warranty_until,
        checks=checks,
        first_verified_at=f["first_at"],
        first_region=f["first_region"],
        region=region,
        pin_required=pin_required,
        registrable=not owned.registered and status in owners.ACTIVATABLE,
        registered=owned.registered,
        ownership=bool(f["ownership"]),
        owned_since=owned.owned_since,
    )
    event = EventIn(
        type="verify",
        product=f["product"],
        serials=[f["serial"]],
        event_time=at,
        region=region,
        data={
            "verification": {
                "code_id": f["id"],
                "device": ctx.device[:40],
                "address": keys.address_hash(ctx.address),
                "region_source": source,
                "pin_ok": pin_ok,
            }
        },
    )
    return answer, event


def _production_date(conn: Connection, f: dict[str, Any]) -> date | None:
    if f["lot_id"] is not None:
        made = _LOT_DATE.scalar(conn, {"lot": f["lot_id"]})
        if made is not None:
            return made if isinstance(made, date) else date.fromisoformat(str(made))
    moment = _COMMISSIONED.scalar(conn, {"unit": f["unit_id"]})
    if moment is None:
        return None
    return as_moment(moment).astimezone(site_timezone()).date()
