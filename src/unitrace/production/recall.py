"""Recall campaigns: opened from a forward trace (the affected set is frozen then), units marked
recalled through the ledger, notices per holder, and progress read from the ledger's events
after the campaign started — no counters of its own to drift.

While a campaign is open, its units cannot be shipped, delivered, sold or activated until they
are repaired, have a part replaced or are scrapped (`production.rules.check_recall_block`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from unitrace.access import audit
from unitrace.access.principal import Actor
from unitrace.core import signals
from unitrace.core.errors import Conflict, FieldError, NotFound, invalid
from unitrace.core.lifecycle import LIVE, Role, Status
from unitrace.db.engine import Database
from unitrace.db.tables import event_units, events, parties, products, recall_units, recalls, units
from unitrace.ledger.bulk import bulk_insert
from unitrace.ledger.pipeline import record_in
from unitrace.ledger.schemas import EventIn, UnitRef
from unitrace.production.quality import to_csv
from unitrace.production.schemas import RecallIn
from unitrace.production.trace import affected_rows

OUTCOMES = ("repaired", "replaced", "scrapped", "returned", "in_stock", "in_field")
# the strongest settlement wins: a unit repaired and later scrapped counts as scrapped
_SETTLED_BY = [
    ("scrap", Role.SUBJECT, "scrapped"),
    ("repair", Role.SUBJECT, "repaired"),
    ("replace_part", Role.PARENT, "replaced"),
    ("return", Role.SUBJECT, "returned"),
]


def _campaign(conn: Connection, code: str) -> Any:
    row = conn.execute(select(recalls).where(recalls.c.code == code)).first()
    if row is None:
        raise NotFound(f"no recall campaign {code!r}", [FieldError("code", "unknown", code)])
    return row


def _products(rows: Any) -> list[str]:
    return sorted({str(r[2]) for r in rows})  # affected rows: id, serial, product, …


def create_recall(db: Database, actor: Actor, data: RecallIn) -> dict[str, Any]:
    """Open a campaign: run the trace and freeze the affected units with holder and region."""
    actor.require("recall.manage")
    with db.write() as conn:
        if conn.execute(select(recalls.c.id).where(recalls.c.code == data.code)).first():
            raise Conflict(
                f"recall {data.code!r} exists", [FieldError("code", "already exists", data.code)]
            )
        rows, label = affected_rows(conn, data.trace)
        if not rows:
            raise invalid("trace", f"the trace from {label} finds no units")
        after = conn.execute(select(func.coalesce(func.max(events.c.id), 0))).scalar_one()
        trace = data.trace.model_dump(mode="json", exclude_none=True)
        recall_id = conn.execute(
            insert(recalls)
            .values(
                code=data.code,
                title=data.title,
                reason=data.reason,
                status="open",
                trace=trace,
                after_event_id=after,
                created_at=datetime.now(UTC),
                created_by=actor.username,
            )
            .returning(recalls.c.id)
        ).scalar_one()
        # affected rows: id, serial, product, status, holder id, …, region (see trace)
        bulk_insert(
            conn,
            recall_units,
            ("unit_id", "holder_id", "region", "status_at_start"),
            ((r[0], r[4], r[9], r[3]) for r in rows),
            constants={"recall_id": recall_id},
        )
        summary = {"title": data.title, "trace": trace, "start": label, "units": len(rows)}
        audit.append(conn, actor, "create", "recall", data.code, None, summary)
        signals.emit(conn, "recall", {"id": data.code, **summary, "products": _products(rows)})
    return {
        "code": data.code,
        "title": data.title,
        "status": "open",
        "start": label,
        "units": len(rows),
    }


def mark_recalled(db: Database, actor: Actor, code: str) -> dict[str, Any]:
    """Record one `recall` event for every unit of the campaign that is live and not yet
    recalled (through the ledger's write path)."""
    actor.require("recall.manage")
    with db.write() as conn:
        campaign = _campaign(conn, code)
        if campaign.status != "open":
            raise invalid("code", f"recall {code} is closed", code)
        markable = [int(s) for s in LIVE - {Status.RECALLED, Status.INSTALLED}]
        rows = conn.execute(
            select(units.c.serial, products.c.code)
            .join(recall_units, recall_units.c.unit_id == units.c.id)
            .join(products, products.c.id == units.c.product_id)
            .where(recall_units.c.recall_id == campaign.id, units.c.status.in_(markable))
            .order_by(units.c.id)
        ).all()
        if not rows:
            return {"code": code, "marked": 0}
        event = EventIn(
            type="recall",
            units=[UnitRef(serial=s, product=p) for s, p in rows],
            data={"campaign": code, "title": campaign.title},
        )
        record_in(conn, actor, event)
    return {"code": code, "marked": len(rows)}


def close_recall(db: Database, actor: Actor, code: str) -> dict[str, Any]:
    actor.require("recall.manage")
    with db.write() as conn:
        campaign = _campaign(conn, code)
        if campaign.status == "closed":
            return {"code": code, "status": "closed"}
        conn.execute(
            update(recalls)
            .where(recalls.c.id == campaign.id)
            .values(status="closed", closed_at=datetime.now(UTC))
        )
        audit.append(
            conn, actor, "update", "recall", code, {"status": "open"}, {"status": "closed"}
        )
    return {"code": code, "status": "closed"}


def _outcomes(conn: Connection, campaign: Any) -> dict[int, tuple[str, Any]]:
    """unit id → (outcome, row with holder/region at start and now) for every campaign unit."""
    found: dict[int, set[str]] = defaultdict(set)
    for unit_id, kind, role in conn.execute(
        select(event_units.c.unit_id, events.c.type, event_units.c.role)
        .join(events, events.c.id == event_units.c.event_id)
        .join(recall_units, recall_units.c.unit_id == event_units.c.unit_id)
        .where(
            recall_units.c.recall_id == campaign.id,
            events.c.id > campaign.after_event_id,
            events.c.type.in_([k for k, _r, _o in _SETTLED_BY]),
        )
    ):
        found[int(unit_id)] |= {o for k, r, o in _SETTLED_BY if k == kind and int(r) == role}
    holder = parties.alias("holder")
    rows = conn.execute(
        select(
            units.c.id,
            units.c.serial,
            products.c.code.label("product"),
            units.c.status,
            units.c.holder_id,
            recall_units.c.region,
            recall_units.c.status_at_start,
            holder.c.code.label("holder"),
            holder.c.name.label("holder_name"),
            holder.c.kind.label("holder_kind"),
        )
        .join(recall_units, recall_units.c.unit_id == units.c.id)
        .join(products, products.c.id == units.c.product_id)
        .outerjoin(holder, holder.c.id == recall_units.c.holder_id)
        .where(recall_units.c.recall_id == campaign.id)
        .order_by(units.c.id)
    ).all()
    out: dict[int, tuple[str, Any]] = {}
    for r in rows:
        settled = found.get(r.id, set())
        outcome = next((o for _k, _r, o in _SETTLED_BY if o in settled), None)
        out[r.id] = (outcome or ("in_field" if r.holder_id is not None else "in_stock"), r)
    return out


def _header(campaign: Any) -> dict[str, Any]:
    closed = campaign.closed_at.isoformat() if campaign.closed_at else None
    return {
        "code": campaign.code,
        "title": campaign.title,
        "reason": campaign.reason,
        "status": campaign.status,
        "trace": campaign.trace,
        "created_at": campaign.created_at.isoformat(),
        "created_by": campaign.created_by,
        "closed_at": closed,
    }


def progress(db: Database, actor: Actor, code: str) -> dict[str, Any]:
    """Counts by outcome, and by outcome per region and per holder (as frozen at the start)."""
    actor.require("trace")
    with db.read() as conn:
        campaign = _campaign(conn, code)
        outcomes = _outcomes(conn, campaign)
    totals = Counter(o for o, _ in outcomes.values())
    regions: dict[str, Counter[str]] = defaultdict(Counter)
    holders: dict[str, Counter[str]] = defaultdict(Counter)
    for outcome, row in outcomes.values():
        regions[row.region or ""][outcome] += 1
        holders[row.holder or ""][outcome] += 1
    return {
        **_header(campaign),
        "units": len(outcomes),
        "outcomes": {o: totals.get(o, 0) for o in OUTCOMES},
        "by_region": {k: {o: v.get(o, 0) for o in OUTCOMES} for k, v in sorted(regions.items())},
        "by_holder": {k: {o: v.get(o, 0) for o in OUTCOMES} for k, v in sorted(holders.items())},
    }


def notices(db: Database, actor: Actor, code: str) -> list[dict[str, Any]]:
    """One notice per holder at the start (distributor, retailer, customer): its units."""
    actor.require("trace")
    with db.read() as conn:
        campaign = _campaign(conn, code)
        outcomes = _outcomes(conn, campaign)
    groups: dict[str, dict[str, Any]] = {}
    for outcome, r in outcomes.values():
        key = r.holder or ""
        group = groups.setdefault(
            key,
            {
                "holder": r.holder,
                "holder_name": r.holder_name,
                "holder_kind": r.holder_kind,
                "units": [],
            },
        )
        group["units"].append(
            {
                "serial": r.serial,
                "product": r.product,
                "region": r.region,
                "status_at_start": Status(r.status_at_start).label,
                "status": Status(r.status).label,
                "outcome": outcome,
            }
        )
    return [groups[k] for k in sorted(groups)]


NOTICE_COLUMNS = (
    "holder",
    "holder_name",
    "holder_kind",
    "region",
    "serial",
    "product",
    "status_at_start",
    "status",
    "outcome",
)


def notice_rows(db: Database, actor: Actor, code: str) -> list[dict[str, Any]]:
    """One row per unit of the campaign with its holder: what the notices CSV lists."""
    return [{**group, **u} for group in notices(db, actor, code) for u in group["units"]]


def notices_csv(db: Database, actor: Actor, code: str) -> str:
    return to_csv(NOTICE_COLUMNS, notice_rows(db, actor, code))


def list_recalls(db: Database, actor: Actor) -> list[dict[str, Any]]:
    actor.require("trace")
    with db.read() as conn:
        recall_id = recall_units.c.recall_id
        per_recall = select(recall_id, func.count()).group_by(recall_id)
        counts: dict[int, int] = dict(conn.execute(per_recall).all())
        rows = conn.execute(select(recalls).order_by(recalls.c.id.desc())).all()
    return [{**_header(r), "units": counts.get(r.id, 0)} for r in rows]
