"""Production API: bills of materials, routes, trace, recalls and quality figures."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from unitrace.api import downloads
from unitrace.api.deps import CurrentActor, DatabaseDep
from unitrace.ledger.schemas import WindowTime
from unitrace.production import quality, recall, service, trace
from unitrace.production.schemas import BomIn, RecallIn, RouteIn, TraceParams

router = APIRouter(tags=["production"])
Format = downloads.Format


def _download(
    name: str, columns: tuple[str, ...], items: list[dict[str, Any]], fmt: str
) -> Response:
    return downloads.download(name, columns, items, fmt)


@router.get("/products/{code}/bom")
def get_bom(code: str, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    return service.get_bom(db, actor, code)


@router.put("/products/{code}/bom")
def set_bom(code: str, body: BomIn, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """Replace the bill of materials: component products, quantities, required or optional."""
    return service.set_bom(db, actor, code, body)


@router.get("/products/{code}/route")
def get_route(code: str, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    return service.get_route(db, actor, code)


@router.put("/products/{code}/route")
def set_route(code: str, body: RouteIn, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """Replace the route: ordered steps; required ones gate finished stock."""
    return service.set_route(db, actor, code, body)


@router.get("/trace/backward")
def trace_backward(
    db: DatabaseDep,
    actor: CurrentActor,
    serial: str = Query(min_length=1, max_length=64),
    product: str | None = Query(default=None, max_length=40),
) -> dict[str, Any]:
    """A unit's whole component tree with lots, suppliers, consumed lots and removed parts."""
    return trace.backward(db, actor, serial, product)


AFFECTED = (
    "serial",
    "product",
    "status",
    "location",
    "holder",
    "holder_name",
    "holder_kind",
    "region",
    "sold_at",
)


@router.get("/trace/forward", response_model=None)
def trace_forward(
    query: Annotated[TraceParams, Query()],
    db: DatabaseDep,
    actor: CurrentActor,
    limit: int = Query(default=1000, ge=1, le=trace.MAX_ITEMS),
    offset: int = Query(default=0, ge=0, le=10_000_000),
    format: Format = "json",
) -> dict[str, Any] | Response:
    """Every finished unit affected by a component serial, lot, supplier, or a station,
    equipment or operator in a time window; `format=csv|xlsx` downloads all of them."""
    if format == "json":
        return trace.forward(db, actor, query, limit, offset)
    return downloads.download("affected-units", AFFECTED, trace.affected(db, actor, query), format)


@router.post("/recalls", status_code=201)
def create_recall(body: RecallIn, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """Open a campaign from a trace; the affected units are frozen now."""
    return recall.create_recall(db, actor, body)


@router.get("/recalls")
def list_recalls(db: DatabaseDep, actor: CurrentActor) -> list[dict[str, Any]]:
    return recall.list_recalls(db, actor)


@router.get("/recalls/{code}")
def recall_progress(code: str, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """The campaign and its progress by outcome, per region and per holder."""
    return recall.progress(db, actor, code)


@router.post("/recalls/{code}/mark")
def mark_recalled(code: str, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    """Record a `recall` event for every unit of the campaign not yet marked."""
    return recall.mark_recalled(db, actor, code)


@router.post("/recalls/{code}/close")
def close_recall(code: str, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    return recall.close_recall(db, actor, code)


@router.get("/recalls/{code}/notices", response_model=None)
def recall_notices(
    code: str, db: DatabaseDep, actor: CurrentActor, format: Format = "json"
) -> list[dict[str, Any]] | Response:
    """One notice per holder (distributor, retailer, customer) with its units."""
    if format == "json":
        return recall.notices(db, actor, code)
    rows = [{**g, **u} for g in recall.notices(db, actor, code) for u in g["units"]]
    return _download(f"recall-{code}-notices", recall.NOTICE_COLUMNS, rows, format)


@router.get("/quality/yield", response_model=None)
def quality_yield(
    db: DatabaseDep,
    actor: CurrentActor,
    by: str = Query(default="product", description=", ".join(quality.DIMENSIONS)),
    product: str | None = Query(default=None, max_length=40),
    step: str | None = Query(default=None, max_length=40),
    since: WindowTime | None = None,
    until: WindowTime | None = None,
    format: Format = "json",
) -> dict[str, Any] | Response:
    """First-pass yield and failure rate grouped by one dimension over a period."""
    found = quality.yield_report(
        db, actor, by, product=product, step=step, since=since, until=until
    )
    if format == "json":
        return found
    return _download(f"yield-by-{by}", quality.COLUMNS, found["items"], format)


@router.get("/quality/defects", response_model=None)
def quality_defects(
    db: DatabaseDep,
    actor: CurrentActor,
    product: str | None = Query(default=None, max_length=40),
    since: WindowTime | None = None,
    until: WindowTime | None = None,
    format: Format = "json",
) -> dict[str, Any] | Response:
    """Pareto of defect codes of failed steps, with the cumulative share."""
    found = quality.defect_pareto(db, actor, product=product, since=since, until=until)
    if format == "json":
        return found
    return _download("defects", ("defect_code", "count", "cumulative"), found["items"], format)
