"""After-sales API: figures (included by `aftersales.routes`) — returns and repairs in the quality
views. Every figure answers JSON, or `format=csv|xlsx` downloads its table (English column keys:
the API keeps English, docs/api.md "Language"; the pages download with their own headers)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from unitrace.aftersales import figures
from unitrace.aftersales.schemas import FigureFormat
from unitrace.api import downloads
from unitrace.api.deps import CurrentActor, DatabaseDep
from unitrace.ledger.schemas import WindowTime

router = APIRouter(tags=["after-sales"])
Product = Query(default=None, max_length=40, description="a product code")


def download(
    name: str, columns: tuple[str, ...], items: list[dict[str, Any]], fmt: str
) -> Response:
    return downloads.download(name, columns, items, fmt)


@router.get("/warranty-report/failures", response_model=None)
def failures(
    db: DatabaseDep,
    actor: CurrentActor,
    by: str = Query(default="product", description=", ".join(figures.DIMENSIONS)),
    product: str | None = Product,
    since: WindowTime | None = None,
    until: WindowTime | None = None,
    format: FigureFormat = "json",
) -> dict[str, Any] | Response:
    """Field failure rate (units with a warranty claim ÷ units shipped or sold) and claims,
    grouped by product, lot, component lot, supplier, station or production month; the claims
    opened in [since, until)."""
    found = figures.failures(db, actor, by, product=product, since=since, until=until)
    if format == "json":
        return found
    return download(f"field-failures-by-{by}", figures.FAILURE_COLUMNS, found["items"], format)


@router.get("/warranty-report/time-to-failure", response_model=None)
def time_to_failure(
    db: DatabaseDep,
    actor: CurrentActor,
    product: str | None = Product,
    since: WindowTime | None = None,
    until: WindowTime | None = None,
    format: FigureFormat = "json",
) -> dict[str, Any] | Response:
    """Days from the warranty start to the claim: median, p90 and a histogram."""
    found = figures.time_to_failure(db, actor, product=product, since=since, until=until)
    if format == "json":
        return found
    return download("time-to-failure", figures.TTF_COLUMNS, found["histogram"], format)


@router.get("/warranty-report/costs", response_model=None)
def warranty_cost(
    db: DatabaseDep,
    actor: CurrentActor,
    product: str | None = Product,
    since: WindowTime | None = None,
    until: WindowTime | None = None,
    format: FigureFormat = "json",
) -> dict[str, Any] | Response:
    """Warranty-covered cost by product, month and currency, with totals per currency."""
    found = figures.warranty_cost(db, actor, product=product, since=since, until=until)
    if format == "json":
        return found
    return download("warranty-cost", figures.COST_COLUMNS, found["items"], format)


@router.get("/warranty-report/defects", response_model=None)
def top_defects(
    db: DatabaseDep,
    actor: CurrentActor,
    product: str | None = Product,
    since: WindowTime | None = None,
    until: WindowTime | None = None,
    limit: int = Query(default=20, ge=1, le=500),
    format: FigureFormat = "json",
) -> dict[str, Any] | Response:
    """The defect codes of the service cases, most frequent first, in both languages."""
    found = figures.top_defects(db, actor, product=product, since=since, until=until, limit=limit)
    if format == "json":
        return found
    return download("top-defects", figures.DEFECT_COLUMNS, found["items"], format)
