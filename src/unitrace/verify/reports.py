"""Consumers' reports of where they bought a product whose code was not found (a possible
counterfeit), sent from the public not-found page (web/verify_page.py) without a login.

What is kept: the shop, the place, the region, the purchase date, the code as typed (it is not
looked up: anything typed is kept as text), an optional contact (personal data: only
verify.manage sees it) and a keyed hash of the sender's address (never the address)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select

from unitrace.access.principal import Actor
from unitrace.core.errors import FieldError, ValidationError
from unitrace.db.engine import Database
from unitrace.db.tables import counterfeit_reports
from unitrace.verify import check, keys


@dataclass(frozen=True)
class Report:
    shop: str
    place: str
    region: str
    bought_on: str  # YYYY-MM-DD as typed
    code: str = ""
    contact: str = ""


def problems(report: Report, today: date) -> tuple[list[FieldError], date | None]:
    """Every problem of the report, each naming its field; and the purchase date read."""
    found: list[FieldError] = []
    if not report.shop.strip():
        found.append(FieldError("shop", "say which shop or website sold it", ""))
    elif len(report.shop) > 200:
        found.append(FieldError("shop", "at most 200 characters", report.shop[:20]))
    if not report.place.strip():
        found.append(FieldError("place", "say where the shop is (address or web address)", ""))
    elif len(report.place) > 300:
        found.append(FieldError("place", "at most 300 characters", report.place[:20]))
    if not check.REGION_PATTERN.fullmatch(report.region.strip()):
        found.append(FieldError("region", "choose the region", report.region[:20]))
    bought: date | None = None
    try:
        bought = date.fromisoformat(report.bought_on.strip())
    except ValueError:
        found.append(FieldError("bought_on", "a date like 2026-05-01", report.bought_on[:20]))
    else:
        if bought > today:
            found.append(FieldError("bought_on", "the date is in the future", report.bought_on))
        elif bought < today - timedelta(days=20 * 365):
            found.append(FieldError("bought_on", "the date is too long ago", report.bought_on))
    if len(report.code) > 64:
        found.append(FieldError("code", "at most 64 characters", report.code[:20]))
    if len(report.contact) > 200:
        found.append(FieldError("contact", "at most 200 characters", report.contact[:20]))
    return found, bought


def submit(db: Database, report: Report, address: str, at: datetime | None = None) -> int:
    """Keep the report; its id. Raises ValidationError naming every bad field."""
    now = at or datetime.now(UTC)
    found, bought = problems(report, now.date())
    if found or bought is None:
        raise ValidationError("the report is not complete", found)
    with db.write() as conn:
        result = conn.execute(
            insert(counterfeit_reports).values(
                reported_at=now,
                shop=report.shop.strip(),
                place=report.place.strip(),
                region=report.region.strip(),
                bought_on=bought,
                code=report.code.strip() or None,
                contact=report.contact.strip() or None,
                address_hash=keys.address_hash(address),
            )
        )
        key = result.inserted_primary_key
        return int(key[0]) if key else 0


def listing(db: Database, actor: Actor, limit: int = 100, offset: int = 0) -> dict[str, Any]:
    """The newest reports first (verify.read); the contact only for verify.manage."""
    actor.require("verify.read")
    contact = actor.can("verify.manage")
    limit = max(1, min(limit, 500))
    t = counterfeit_reports
    with db.read() as conn:
        total = conn.execute(select(func.count()).select_from(t)).scalar_one()
        rows = conn.execute(
            select(t.c.id, t.c.reported_at, t.c.shop, t.c.place, t.c.region)
            .add_columns(t.c.bought_on, t.c.code, t.c.contact)
            .order_by(t.c.reported_at.desc(), t.c.id.desc())
            .limit(limit)
            .offset(max(0, offset))
        ).all()
    items = []
    for row in rows:
        item = {
            "id": row.id,
            "reported_at": row.reported_at.isoformat(),
            "shop": row.shop,
            "place": row.place,
            "region": row.region,
            "bought_on": row.bought_on.isoformat(),
            "code": row.code,
        }
        if contact:
            item["contact"] = row.contact
        items.append(item)
    return {"total": total, "items": items}
