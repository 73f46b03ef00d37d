"""Returns and repairs in the quality views: field failure rate and claims by product, lot,
component lot, supplier, station or production month; time to failure; warranty cost by product
and month; top defect codes. Each figure is one grouped statement (none loops over units).

Definitions (docs/aftersales.md, "Figures"):

- a *claim* is a service case opened as a warranty claim and not closed as `rejected` (a claim
  the company did not owe is not a failure of the product); `no_fault_found` counts: the unit
  came back;
- a unit is *in the field* when it has been shipped or sold (a `ship` or `sell` event), before
  `until` when the period has an end;
- field failure rate = units with a claim ÷ units in the field, per key; the claims counted are
  those opened in the period (`since` ≤ opened < `until`);
- keys of a unit: its product; its lot; its component lots (lots of the parts it holds now, of
  the parts removed from it in a case, and of the lots it consumed); the suppliers of its lot
  and of its component lots; its stations (locations of its commission and inspect events); its
  production month (the month of its commission, in the site's time zone). A unit counts once
  for each of its keys;
- time to failure = days from the unit's warranty start (the product's start event, else its
  fallback + days, as `aftersales.warranty`) to the claim's opening, both local dates;
- warranty cost = cost lines with coverage `warranty`, by product, month of the line and
  currency (never summed across currencies), in the period;
- top defect codes = service cases of any kind opened in the period, by defect code.
"""

from __future__ import annotations

import statistics
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, distinct, func, literal_column, or_, select, union
from sqlalchemy.sql.elements import ColumnElement

from unitrace.access.principal import Actor
from unitrace.aftersales.casework import amount_text
from unitrace.aftersales.warranty import STARTS
from unitrace.config import site_timezone
from unitrace.core.clock import as_moment
from unitrace.core.errors import FieldError, invalid, report
from unitrace.core.lifecycle import Role
from unitrace.db.engine import Database
from unitrace.db.tables import (
    case_costs,
    case_parts,
    event_units,
    events,
    locations,
    lot_uses,
    lots,
    parties,
    products,
    service_cases,
    service_codes,
    units,
)

DIMENSIONS = ("product", "lot", "component_lot", "supplier", "station", "production_month")
FAILURE_COLUMNS = ("key", "product", "units", "claimed_units", "claims", "failure_rate")
TTF_COLUMNS = ("from_days", "to_days", "claims")
COST_COLUMNS = ("product", "month", "currency", "amount", "amount_minor", "cases", "lines")
DEFECT_COLUMNS = ("defect_code", "name_en", "name_zh", "cases", "share", "cumulative")
# time-to-failure histogram: [from, to) in days — a month, a quarter, half a year, a year …
BUCKETS = (0, 30, 90, 180, 365, 540, 730, 1095)
FIELD_EVENTS = ("ship", "sell")
STATION_EVENTS = ("commission", "inspect")
SUBJECT = int(Role.SUBJECT)


class Period:
    """The figures' filters: a product code and a window [since, until)."""

    def __init__(
        self, product_id: int | None, since: datetime | None, until: datetime | None
    ) -> None:
        self.product_id, self.since, self.until = product_id, since, until

    def opened(self) -> list[ColumnElement[bool]]:
        """The cases opened in the window, of the product."""
        out: list[ColumnElement[bool]] = []
        if self.since is not None:
            out.append(service_cases.c.opened_at >= self.since)
        if self.until is not None:
            out.append(service_cases.c.opened_at < self.until)
        if self.product_id is not None:
            of_product = select(units.c.id).where(units.c.product_id == self.product_id)
            out.append(service_cases.c.unit_id.in_(of_product))
        return out


def _period(
    conn: Connection,
    product: str | None,
    since: datetime | None,
    until: datetime | None,
    by: str = "product",
) -> Period:
    """The filters, each problem named (all at once)."""
    problems: list[FieldError] = []
    if by not in DIMENSIONS:
        problems.append(FieldError("by", f"one of {', '.join(DIMENSIONS)}", by))
    product_id = None
    if product:
        product_id = conn.execute(select(products.c.id).where(products.c.code == product)).scalar()
        if product_id is None:
            problems.append(FieldError("product", f"no product {product!r}", product))
    if since is not None and until is not None and until <= since:
        problems.append(FieldError("until", "must be later than since", until.isoformat()))
    if problems:
        raise report("the figures cannot be shown", problems)
    return Period(product_id, since, until)


def _local_month(dialect: str, column: Any) -> Any:
    """`YYYY-MM` of a UTC column in the site's time zone (its offset now: China has no DST)."""
    offset = datetime.now(site_timezone()).utcoffset() or timedelta()
    minutes = int(offset.total_seconds() // 60)
    if dialect == "sqlite":
        return func.strftime("%Y-%m", column, f"{minutes:+d} minutes")
    shifted = func.timezone("UTC", column) + literal_column(f"interval '{minutes} minutes'")
    return func.to_char(shifted, "YYYY-MM")


def _claims(period: Period) -> Any:
    """The warranty claims of the period that count (not closed as rejected)."""
    return (
        select(service_cases.c.id, service_cases.c.unit_id, service_cases.c.opened_at)
        .where(
            service_cases.c.warranty_claim.is_(True),
            or_(service_cases.c.outcome.is_(None), service_cases.c.outcome != "rejected"),
            *period.opened(),
        )
        .subquery("claims")
    )


def _in_field(period: Period) -> Any:
    """The units shipped or sold (before the window's end)."""
    query = (
        select(event_units.c.unit_id)
        .join(events, events.c.id == event_units.c.event_id)
        .where(events.c.type.in_(FIELD_EVENTS), event_units.c.role == SUBJECT)
    )
    if period.until is not None:
        query = query.where(events.c.event_time < period.until)
    return query.distinct().subquery("in_field")


def _component_lots() -> Any:
    """(unit, lot) of the parts a unit holds, the parts removed from it in a case, and the lots
    it consumed."""
    child = units.alias("child")
    removed = units.alias("removed")
    return union(
        select(child.c.parent_id.label("unit_id"), child.c.lot_id.label("lot_id")).where(
            child.c.parent_id.is_not(None), child.c.lot_id.is_not(None)
        ),
        select(service_cases.c.unit_id, removed.c.lot_id)
        .select_from(
            case_parts.join(service_cases, service_cases.c.id == case_parts.c.case_id).join(
                removed, removed.c.id == case_parts.c.removed_unit_id
            )
        )
        .where(removed.c.lot_id.is_not(None)),
        select(lot_uses.c.unit_id, lot_uses.c.lot_id),
    ).subquery("component_lots")


def _keys(dialect: str, by: str, period: Period) -> Any:
    """(unit_id, key, product) of every unit for the dimension `by` (a unit may have many)."""
    unit_product = products.alias("unit_product")
    if by == "product":
        query = select(
            units.c.id.label("unit_id"),
            unit_product.c.code.label("key"),
            unit_product.c.code.label("product"),
        ).join(unit_product, unit_product.c.id == units.c.product_id)
    elif by in ("lot", "component_lot"):
        lot_product = products.alias("lot_product")
        if by == "lot":
            source = units.join(lots, lots.c.id == units.c.lot_id)
        else:
            parts = _component_lots()
            source = units.join(parts, parts.c.unit_id == units.c.id).join(
                lots, lots.c.id == parts.c.lot_id
            )
        query = select(
            units.c.id.label("unit_id"),
            lots.c.number.label("key"),
            lot_product.c.code.label("product"),
        ).select_from(source.join(lot_product, lot_product.c.id == lots.c.product_id))
    elif by == "supplier":
        parts = _component_lots()
        own = select(units.c.id.label("unit_id"), units.c.lot_id.label("lot_id")).where(
            units.c.lot_id.is_not(None)
        )
        every = union(own, select(parts.c.unit_id, parts.c.lot_id)).subquery("every_lot")
        query = (
            select(
                every.c.unit_id.label("unit_id"),
                parties.c.code.label("key"),
                literal_column("NULL").label("product"),
            )
            .select_from(
                every.join(lots, lots.c.id == every.c.lot_id).join(
                    parties, parties.c.id == lots.c.supplier_id
                )
            )
            .join(units, units.c.id == every.c.unit_id)
        )
    elif by == "station":
        query = (
            select(
                event_units.c.unit_id.label("unit_id"),
                locations.c.code.label("key"),
                literal_column("NULL").label("product"),
            )
            .select_from(
                event_units.join(events, events.c.id == event_units.c.event_id).join(
                    locations, locations.c.id == events.c.location_id
                )
            )
            .join(units, units.c.id == event_units.c.unit_id)
            .where(events.c.type.in_(STATION_EVENTS), event_units.c.role == SUBJECT)
        )
    elif by == "production_month":
        query = (
            select(
                event_units.c.unit_id.label("unit_id"),
                _local_month(dialect, events.c.event_time).label("key"),
                literal_column("NULL").label("product"),
            )
            .select_from(event_units.join(events, events.c.id == event_units.c.event_id))
            .join(units, units.c.id == event_units.c.unit_id)
            .where(events.c.type == "commission", event_units.c.role == SUBJECT)
        )
    else:
        raise invalid("by", f"one of {', '.join(DIMENSIONS)}", by)
    if period.product_id is not None:
        query = query.where(units.c.product_id == period.product_id)
    return query.distinct().subquery("keys")


def failures_query(dialect: str, by: str, period: Period) -> Any:
    """Per key: units in the field, units with a claim, claims (one grouped statement)."""
    keys, fielded, claims = _keys(dialect, by, period), _in_field(period), _claims(period)
    return (
        select(
            keys.c.key,
            keys.c.product,
            func.count(distinct(fielded.c.unit_id)),
            func.count(distinct(claims.c.unit_id)),
            func.count(distinct(claims.c.id)),
        )
        .select_from(
            keys.outerjoin(fielded, fielded.c.unit_id == keys.c.unit_id).outerjoin(
                claims, claims.c.unit_id == keys.c.unit_id
            )
        )
        .where(or_(fielded.c.unit_id.is_not(None), claims.c.id.is_not(None)))
        .group_by(keys.c.key, keys.c.product)
    )


def _failure_rows(conn: Connection, by: str, period: Period) -> list[dict[str, Any]]:
    query = failures_query(conn.dialect.name, by, period)
    items: list[dict[str, Any]] = []
    for key, product, fielded_units, claimed_units, claim_count in conn.execute(query).all():
        fielded_units, claimed_units = int(fielded_units), int(claimed_units)
        items.append(
            {
                "key": None if key is None else str(key),
                "product": product if by in ("product", "lot", "component_lot") else None,
                "units": fielded_units,
                "claimed_units": claimed_units,
                "claims": int(claim_count),
                "failure_rate": round(claimed_units / fielded_units, 4) if fielded_units else None,
            }
        )
    if by == "production_month":  # months in their order
        items.sort(key=lambda i: str(i["key"]))
    else:  # the most failing first; then by key, for a stable order
        items.sort(
            key=lambda i: (
                -(i["failure_rate"] or 0),
                -i["claims"],
                str(i["key"]),
                str(i["product"]),
            )
        )
    return items


def _failures(conn: Connection, by: str, period: Period) -> dict[str, Any]:
    if by not in DIMENSIONS:
        raise invalid("by", f"one of {', '.join(DIMENSIONS)}", by)
    items = _failure_rows(conn, by, period)
    per_product = items if by == "product" else _failure_rows(conn, "product", period)
    fielded = sum(i["units"] for i in per_product)
    claimed = sum(i["claimed_units"] for i in per_product)
    total = {
        "units": fielded,
        "claimed_units": claimed,
        "claims": sum(i["claims"] for i in per_product),
        "failure_rate": round(claimed / fielded, 4) if fielded else None,
    }
    return {"by": by, "items": items, "total": total}


def _start_event(kind: Any) -> Any:
    """The first event of type `kind` (a column expression) of the claim's unit."""
    linked, event = event_units.alias("start_link"), events.alias("start_event")
    return (
        select(func.min(event.c.event_time))
        .select_from(linked.join(event, event.c.id == linked.c.event_id))
        .where(
            linked.c.unit_id == service_cases.c.unit_id,
            linked.c.role == SUBJECT,
            # by the unit's own events (≤ a few hundred), not every sale of every unit: the
            # concatenation keeps SQLite (no statistics) off the event-type index
            event.c.type + literal_column("''") == kind,
        )
        .scalar_subquery()
    )


def _local_date(moment: Any) -> date:
    return as_moment(moment).astimezone(site_timezone()).date()


def time_to_failure_query(period: Period) -> Any:
    """Per counted claim: its opening, and its unit's start event (or fallback event)."""
    start = case(STARTS, value=products.c.warranty_start)
    fallback = case(STARTS, value=products.c.warranty_fallback)
    return (
        select(
            service_cases.c.opened_at,
            _start_event(start).label("started"),
            _start_event(fallback).label("fell_back"),
            products.c.warranty_fallback_days,
        )
        .select_from(
            service_cases.join(units, units.c.id == service_cases.c.unit_id).join(
                products, products.c.id == units.c.product_id
            )
        )
        .where(
            service_cases.c.warranty_claim.is_(True),
            or_(service_cases.c.outcome.is_(None), service_cases.c.outcome != "rejected"),
            *period.opened(),
        )
    )


def _time_to_failure(conn: Connection, period: Period) -> dict[str, Any]:
    query = time_to_failure_query(period)
    days: list[int] = []
    unstarted = 0
    for opened, started, fell_back, fallback_days in conn.execute(query).all():
        if started is not None:
            begin = _local_date(started)
        elif fell_back is not None:
            begin = _local_date(fell_back) + timedelta(days=int(fallback_days or 0))
        else:
            unstarted += 1
            continue
        elapsed = (_local_date(opened) - begin).days
        if elapsed < 0:  # opened before its warranty started: no time to failure
            unstarted += 1
            continue
        days.append(elapsed)
    days.sort()
    histogram = []
    for index, low in enumerate(BUCKETS):
        high = BUCKETS[index + 1] if index + 1 < len(BUCKETS) else None
        count = sum(1 for d in days if d >= low and (high is None or d < high))
        histogram.append({"from_days": low, "to_days": high, "claims": count})
    return {
        "claims": len(days),
        "without_start": unstarted,
        "median_days": _quantile(days, 0.5),
        "p90_days": _quantile(days, 0.9),
        "histogram": histogram,
    }


def _quantile(values: list[int], share: float) -> float | None:
    """The `share` quantile, linear between the ranks (as PostgreSQL's percentile_cont)."""
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    if share == 0.5:
        return float(statistics.median(values))
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return round(float(cuts[round(share * 100) - 1]), 2)


def cost_query(dialect: str, period: Period) -> Any:
    """Warranty cost lines summed per product, local month and currency."""
    month = _local_month(dialect, case_costs.c.at).label("month")
    query = (
        select(
            products.c.code,
            month,
            case_costs.c.currency,
            func.sum(case_costs.c.amount_minor),
            func.count(distinct(case_costs.c.case_id)),
            func.count(),
        )
        .select_from(
            case_costs.join(service_cases, service_cases.c.id == case_costs.c.case_id)
            .join(units, units.c.id == service_cases.c.unit_id)
            .join(products, products.c.id == units.c.product_id)
        )
        .where(case_costs.c.coverage == "warranty")
        .group_by(products.c.code, month, case_costs.c.currency)
        .order_by(month, products.c.code, case_costs.c.currency)
    )
    if period.since is not None:
        query = query.where(case_costs.c.at >= period.since)
    if period.until is not None:
        query = query.where(case_costs.c.at < period.until)
    if period.product_id is not None:
        query = query.where(units.c.product_id == period.product_id)
    return query


def _warranty_cost(conn: Connection, period: Period) -> dict[str, Any]:
    query = cost_query(conn.dialect.name, period)
    items = []
    totals: dict[str, int] = {}
    for code, when, currency, minor, cases, lines in conn.execute(query).all():
        minor = int(minor or 0)
        totals[currency] = totals.get(currency, 0) + minor
        items.append(
            {
                "product": code,
                "month": str(when),
                "currency": currency,
                "amount": amount_text(minor, currency),
                "amount_minor": minor,
                "cases": int(cases),
                "lines": int(lines),
            }
        )
    return {
        "items": items,
        "totals": [
            {"currency": c, "amount": amount_text(m, c), "amount_minor": m}
            for c, m in sorted(totals.items())
        ],
    }


def defects_query(period: Period) -> Any:
    """Cases per defect code, with the code's names."""
    count = func.count().label("cases")
    return (
        select(service_cases.c.defect_code, service_codes.c.name_en, service_codes.c.name_zh, count)
        .select_from(
            service_cases.outerjoin(
                service_codes, service_codes.c.code == service_cases.c.defect_code
            )
        )
        .where(service_cases.c.defect_code.is_not(None), *period.opened())
        .group_by(service_cases.c.defect_code, service_codes.c.name_en, service_codes.c.name_zh)
        .order_by(count.desc(), service_cases.c.defect_code)
    )


def _top_defects(conn: Connection, period: Period, limit: int) -> dict[str, Any]:
    rows = conn.execute(defects_query(period)).all()
    total = sum(int(r.cases) for r in rows)
    running = 0
    items = []
    for row in rows[:limit]:
        running += int(row.cases)
        items.append(
            {
                "defect_code": row.defect_code,
                "name_en": row.name_en or row.defect_code,
                "name_zh": row.name_zh or row.defect_code,
                "cases": int(row.cases),
                "share": round(int(row.cases) / total, 4),
                "cumulative": round(running / total, 4),
            }
        )
    return {"total": total, "items": items}


def _allowed(actor: Actor) -> None:
    # company-wide figures: staff who read quality figures and service cases (not partners)
    actor.require("trace")
    actor.require("service.read")


def failures(
    db: Database,
    actor: Actor,
    by: str = "product",
    *,
    product: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Field failure rate and claims grouped by one dimension (DIMENSIONS):
    {"by", "items": [{key, product, units, claimed_units, claims, failure_rate}], "total"}."""
    _allowed(actor)
    with db.read() as conn:
        return _failures(conn, by, _period(conn, product, since, until, by))


def time_to_failure(
    db: Database,
    actor: Actor,
    *,
    product: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Days from warranty start to claim: {claims, without_start, median_days, p90_days,
    histogram: [{from_days, to_days, claims}]}."""
    _allowed(actor)
    with db.read() as conn:
        return _time_to_failure(conn, _period(conn, product, since, until))


def warranty_cost(
    db: Database,
    actor: Actor,
    *,
    product: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Warranty-covered cost lines by product, month and currency, with totals per currency."""
    _allowed(actor)
    with db.read() as conn:
        return _warranty_cost(conn, _period(conn, product, since, until))


def top_defects(
    db: Database,
    actor: Actor,
    *,
    product: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 20,
) -> dict[str, Any]:
    """The defect codes of the cases, most frequent first, named in both languages."""
    _allowed(actor)
    with db.read() as conn:
        return _top_defects(conn, _period(conn, product, since, until), limit)


def warranty_report(
    db: Database,
    actor: Actor,
    by: str = "product",
    *,
    product: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Every figure of the warranty report at once, in one read transaction (the page)."""
    _allowed(actor)
    with db.read() as conn:
        period = _period(conn, product, since, until, by)
        return {
            "failures": _failures(conn, by, period),
            "time_to_failure": _time_to_failure(conn, period),
            "cost": _warranty_cost(conn, period),
            "defects": _top_defects(conn, period, 20),
        }
