"""Production's figures for the home page: the first-pass yield of process steps, day by day
(one grouped statement on `ix_unit_steps_product_time`'s column)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import Integer, case, cast, func, literal_column, select

from unitrace.access.principal import Actor
from unitrace.db.engine import Database
from unitrace.db.tables import products, unit_steps


def _local_day(db: Database, zone: tzinfo, column: Any) -> Any:
    """The calendar day of a UTC column in `zone` (its offset now; no DST jump inside)."""
    offset = datetime.now(zone).utcoffset() or timedelta()
    minutes = int(offset.total_seconds() // 60)
    if db.is_sqlite:
        return func.date(column, f"{minutes:+d} minutes")
    shifted = func.timezone("UTC", column) + literal_column(f"interval '{minutes} minutes'")
    return func.date(shifted)


def yield_trend(db: Database, actor: Actor, zone: tzinfo, days: int = 14) -> dict[str, Any]:
    """First-pass yield per day and step over the `days` days up to the latest result:
    {"days": [...], "steps": {step: [fpy or None per day]}}."""
    actor.require("trace")
    with db.read() as conn:
        latest = conn.execute(select(func.max(unit_steps.c.ended_at))).scalar()
        if latest is None:
            return {"days": [], "steps": {}}
        if isinstance(latest, str):  # SQLite's max() returns the stored text
            latest = datetime.fromisoformat(latest)
        latest = latest if latest.tzinfo else latest.replace(tzinfo=UTC)
        since = latest - timedelta(days=days)
        day = _local_day(db, zone, unit_steps.c.ended_at).label("day")
        first = unit_steps.c.attempt == 1
        query = (
            select(
                day,
                unit_steps.c.step,
                func.sum(cast(case((first, 1), else_=0), Integer)),
                func.sum(cast(case((first & unit_steps.c.passed, 1), else_=0), Integer)),
            )
            # every product: the window is read on `ix_unit_steps_product_time`, not the
            # whole history of step results
            .where(
                unit_steps.c.product_id.in_(select(products.c.id).scalar_subquery()),
                unit_steps.c.ended_at >= since,
            )
            .group_by(day, unit_steps.c.step)
            .order_by(day)
        )
        rows = conn.execute(query).all()
    shown = sorted({str(r[0]) for r in rows})
    steps: dict[str, list[float | None]] = {}
    for when, step, firsts, passed in rows:
        values = steps.setdefault(step, [None] * len(shown))
        if firsts:
            values[shown.index(str(when))] = round(int(passed or 0) / int(firsts), 4)
    return {"days": shown, "steps": steps}
