"""Clone alerts for staff: listed and filtered (verify.read), shown with the code's
verification history, acknowledged and closed with a note, and codes marked compromised or
restored (verify.manage). Every change is audited."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from unitrace.access import audit
from unitrace.access.principal import Actor
from unitrace.core.errors import Conflict, FieldError, NotFound, ValidationError, invalid
from unitrace.db.engine import Database
from unitrace.db.tables import clone_alerts, products, units, verifications, verify_codes

from . import codes
from .clones import RULES, centroid

STATES = ("open", "acknowledged", "closed")
HISTORY = 500  # verifications shown with an alert, newest first


def _filters(
    status: str | None,
    rule: str | None,
    product: str | None,
    region: str | None,
    since: datetime | None,
    until: datetime | None,
) -> list[Any]:
    problems = []
    if status and status not in STATES:
        problems.append(FieldError("status", "open, acknowledged or closed", status))
    if rule and rule not in RULES:
        problems.append(FieldError("rule", "checks, devices or travel", rule))
    if problems:
        raise ValidationError(f"{problems[0].field}: {problems[0].message}", problems)
    where: list[Any] = []
    if status:
        where.append(clone_alerts.c.status == status)
    if rule:
        where.append(clone_alerts.c.rule == rule)
    if product:
        where.append(products.c.code == product)
    if region:
        where.append(clone_alerts.c.region == region)
    if since:
        where.append(clone_alerts.c.last_at >= since)
    if until:
        where.append(clone_alerts.c.last_at < until)
    return where


def _row(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "code": r.code,
        "serial": r.serial,
        "product": r.product,
        "rule": r.rule,
        "status": r.status,
        "first_at": r.first_at.isoformat(),
        "last_at": r.last_at.isoformat(),
        "count": r.count,
        "region": r.region,
        "detail": r.detail,
        "acknowledged_by": r.acknowledged_by,
        "acknowledged_at": r.acknowledged_at.isoformat() if r.acknowledged_at else None,
        "closed_by": r.closed_by,
        "closed_at": r.closed_at.isoformat() if r.closed_at else None,
        "note": r.note,
        "compromised": r.compromised_at is not None,
    }


def _query() -> Any:
    return (
        select(
            clone_alerts,
            verify_codes.c.code,
            verify_codes.c.compromised_at,
            units.c.serial,
            products.c.code.label("product"),
        )
        .join(verify_codes, verify_codes.c.id == clone_alerts.c.code_id)
        .join(units, units.c.id == clone_alerts.c.unit_id)
        .join(products, products.c.id == clone_alerts.c.product_id)
    )


def list_alerts(
    db: Database,
    actor: Actor,
    *,
    status: str | None = "open",
    rule: str | None = None,
    product: str | None = None,
    region: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 500,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Alerts last breached first, `limit` of them from `offset` (`summary` counts them all)."""
    actor.require("verify.read")
    where = _filters(status, rule, product, region, since, until)
    query = (
        _query()
        .where(*where)
        .order_by(clone_alerts.c.last_at.desc(), clone_alerts.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    with db.read() as conn:
        return [_row(r) for r in conn.execute(query).all()]


def summary(
    db: Database,
    actor: Actor,
    *,
    status: str | None = "open",
    rule: str | None = None,
    product: str | None = None,
    region: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """What the filter finds in all: `total`, by region of the last breach (most first, with
    the region's centroid for the chart), by rule, and how many each state has (no filter)."""
    actor.require("verify.read")
    where = _filters(status, rule, product, region, since, until)
    grouped = (
        select(clone_alerts.c.region, clone_alerts.c.rule, func.count())
        .select_from(clone_alerts)
        .join(products, products.c.id == clone_alerts.c.product_id)
        .where(*where)
        .group_by(clone_alerts.c.region, clone_alerts.c.rule)
    )
    states = select(clone_alerts.c.status, func.count()).group_by(clone_alerts.c.status)
    with db.read() as conn:
        rows = conn.execute(grouped).all()
        by_state = {str(k): int(n) for k, n in conn.execute(states)}
    regions: dict[str, int] = {}
    rules = dict.fromkeys(RULES, 0)
    for seen, rule_, n in rows:
        regions[seen or ""] = regions.get(seen or "", 0) + int(n)
        rules[rule_] = rules.get(rule_, 0) + int(n)
    ranked = sorted(regions.items(), key=lambda kv: (-kv[1], kv[0]))
    points = []
    for seen, n in ranked:
        where_ = centroid(seen)
        if where_ is not None:
            name, lat, lon = where_
            points.append({"region": seen, "name": name, "lat": lat, "lon": lon, "count": n})
    return {
        "total": sum(regions.values()),
        "regions": dict(ranked),
        "points": points,
        "rules": rules,
        "states": {s: by_state.get(s, 0) for s in STATES},
    }


def _alert(conn: Connection, alert_id: int) -> Any:
    row = conn.execute(_query().where(clone_alerts.c.id == alert_id)).first()
    if row is None:
        raise NotFound(f"no clone alert {alert_id}", [FieldError("id", "unknown alert", alert_id)])
    return row


def show(db: Database, actor: Actor, alert_id: int) -> dict[str, Any]:
    """One alert, its code's verifications (newest first) and how many came from each region."""
    actor.require("verify.read")
    with db.read() as conn:
        row = _alert(conn, alert_id)
        found = conn.execute(
            select(
                verifications.c.at,
                verifications.c.region,
                verifications.c.region_source,
                verifications.c.device,
                verifications.c.pin_ok,
            )
            .where(verifications.c.code_id == row.code_id)
            .order_by(verifications.c.at.desc(), verifications.c.id.desc())
            .limit(HISTORY)
        ).all()
        by_region = conn.execute(
            select(verifications.c.region, func.count())
            .where(verifications.c.code_id == row.code_id)
            .group_by(verifications.c.region)
        ).all()
        code = conn.execute(
            select(
                verify_codes.c.checks,
                verify_codes.c.devices,
                verify_codes.c.compromised_at,
                verify_codes.c.compromised_by,
                verify_codes.c.compromised_reason,
            ).where(verify_codes.c.id == row.code_id)
        ).one()
    return _row(row) | {
        "checks": code.checks,
        "devices": code.devices,
        "compromised_at": code.compromised_at.isoformat() if code.compromised_at else None,
        "compromised_by": code.compromised_by,
        "compromised_reason": code.compromised_reason,
        "history": [
            {
                "at": v.at.isoformat(),
                "region": v.region,
                "source": v.region_source,
                "device": v.device[:8],
                "pin_ok": v.pin_ok,
            }
            for v in found
        ],
        "by_region": dict(
            sorted(((r or "", int(n)) for r, n in by_region), key=lambda kv: (-kv[1], kv[0]))
        ),
    }


def settle(db: Database, actor: Actor, alert_id: int, status: str, note: str) -> dict[str, Any]:
    """Acknowledge or close an alert; closing needs a note (how it was settled). A closed
    alert cannot be settled again; acknowledging an acknowledged one keeps it so."""
    actor.require("verify.manage")
    if status not in ("acknowledged", "closed"):
        raise invalid("status", "acknowledged or closed", status)
    kept = (note or "").strip()[:4000]
    if status == "closed" and not kept:
        raise invalid("note", "say how the alert was settled")
    now = datetime.now(UTC)
    with db.write() as conn:
        row = _alert(conn, alert_id)
        if row.status == "closed":
            raise Conflict(
                f"alert {alert_id} is closed already",
                [FieldError("id", "closed already", alert_id)],
            )
        values: dict[str, Any] = {"status": status, "note": kept or row.note}
        if status == "acknowledged":
            values |= {"acknowledged_by": actor.username, "acknowledged_at": now}
        else:
            values |= {"closed_by": actor.username, "closed_at": now}
        conn.execute(update(clone_alerts).where(clone_alerts.c.id == alert_id).values(**values))
        before = {"status": row.status, "note": row.note}
        after = {"status": status, "note": values["note"]}
        audit.append(conn, actor, "update", "clone_alert", str(alert_id), before, after)
    return {"id": alert_id, "status": status, "note": values["note"]}


def _code(conn: Connection, code: str) -> Any:
    normal = codes.normalise(code) if isinstance(code, str) and len(code) <= 64 else None
    row = None
    if normal is not None:
        row = conn.execute(
            select(
                verify_codes.c.id,
                verify_codes.c.code,
                verify_codes.c.compromised_at,
                verify_codes.c.compromised_reason,
            ).where(verify_codes.c.code == normal)
        ).first()
    if row is None:
        raise NotFound(f"no code {code!r}", [FieldError("code", "unknown code", code)])
    return row


def compromise(db: Database, actor: Actor, code: str, reason: str) -> dict[str, Any]:
    """Mark a code compromised (later verifications answer a warning, `compromised`)."""
    actor.require("verify.manage")
    kept = (reason or "").strip()[:2000]
    if not kept:
        raise invalid("reason", "say why the code is compromised")
    now = datetime.now(UTC)
    with db.write() as conn:
        row = _code(conn, code)
        conn.execute(
            update(verify_codes)
            .where(verify_codes.c.id == row.id)
            .values(compromised_at=now, compromised_by=actor.username, compromised_reason=kept)
        )
        before = {"compromised": row.compromised_at is not None, "reason": row.compromised_reason}
        after = {"compromised": True, "reason": kept}
        audit.append(conn, actor, "update", "verify_code", row.code, before, after)
    return {"code": row.code, "compromised": True, "reason": kept, "at": now.isoformat()}


def restore(db: Database, actor: Actor, code: str) -> dict[str, Any]:
    """Take a code's compromised mark away (verifications answer as before)."""
    actor.require("verify.manage")
    with db.write() as conn:
        row = _code(conn, code)
        conn.execute(
            update(verify_codes)
            .where(verify_codes.c.id == row.id)
            .values(compromised_at=None, compromised_by=None, compromised_reason=None)
        )
        before = {"compromised": row.compromised_at is not None, "reason": row.compromised_reason}
        after = {"compromised": False, "reason": None}
        audit.append(conn, actor, "update", "verify_code", row.code, before, after)
    return {"code": row.code, "compromised": False}
