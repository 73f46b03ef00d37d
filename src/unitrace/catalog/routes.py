"""Catalog API: parse, call one use case, shape the answer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from unitrace.api.deps import CurrentActor, DatabaseDep
from unitrace.catalog import service
from unitrace.catalog.schemas import (
    LocationCreate,
    LocationKind,
    LocationUpdate,
    LotCreate,
    LotUpdate,
    PartyCreate,
    PartyKind,
    PartyUpdate,
    ProductCreate,
    ProductUpdate,
)

router = APIRouter(tags=["catalog"])


@router.post("/products", status_code=201)
def create_product(body: ProductCreate, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    return service.create_product(db, actor, body)


@router.get("/products")
def list_products(
    db: DatabaseDep,
    actor: CurrentActor,
    q: str | None = Query(
        default=None, max_length=100, description="code, name or GTIN (8, 12, 13 or 14 digits)"
    ),
    limit: int = Query(default=50, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=10_000_000),
) -> dict[str, Any]:
    return service.list_products(db, actor, q, limit, offset)


@router.get("/products/{code}")
def get_product(code: str, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    return service.get_product(db, actor, code)


@router.patch("/products/{code}")
def update_product(
    code: str, body: ProductUpdate, db: DatabaseDep, actor: CurrentActor
) -> dict[str, Any]:
    return service.update_product(db, actor, code, body)


@router.post("/lots", status_code=201)
def create_lot(body: LotCreate, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    return service.create_lot(db, actor, body)


@router.get("/lots")
def list_lots(
    db: DatabaseDep,
    actor: CurrentActor,
    product: str | None = Query(default=None, max_length=40, description="product code"),
    q: str | None = Query(default=None, max_length=100, description="lot number or product code"),
    limit: int = Query(default=50, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=10_000_000),
) -> dict[str, Any]:
    return service.list_lots(db, actor, product, q, limit, offset)


@router.get("/lots/{product}/{number:path}")
def get_lot(product: str, number: str, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    return service.get_lot(db, actor, product, number)


@router.patch("/lots/{product}/{number:path}")
def update_lot(
    product: str, number: str, body: LotUpdate, db: DatabaseDep, actor: CurrentActor
) -> dict[str, Any]:
    return service.update_lot(db, actor, product, number, body)


@router.post("/parties", status_code=201)
def create_party(body: PartyCreate, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    return service.create_party(db, actor, body)


@router.get("/parties")
def list_parties(
    db: DatabaseDep,
    actor: CurrentActor,
    q: str | None = Query(default=None, max_length=100, description="code or name"),
    kind: PartyKind | None = Query(default=None),
    limit: int = Query(default=50, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=10_000_000),
) -> dict[str, Any]:
    return service.list_parties(db, actor, q, kind, limit, offset)


@router.get("/parties/{code}")
def get_party(code: str, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    return service.get_party(db, actor, code)


@router.patch("/parties/{code}")
def update_party(
    code: str, body: PartyUpdate, db: DatabaseDep, actor: CurrentActor
) -> dict[str, Any]:
    return service.update_party(db, actor, code, body)


@router.post("/locations", status_code=201)
def create_location(body: LocationCreate, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    return service.create_location(db, actor, body)


@router.get("/locations")
def list_locations(
    db: DatabaseDep,
    actor: CurrentActor,
    q: str | None = Query(default=None, max_length=100, description="code or name"),
    kind: LocationKind | None = Query(default=None),
    limit: int = Query(default=50, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=10_000_000),
) -> dict[str, Any]:
    return service.list_locations(db, actor, q, kind, limit, offset)


@router.get("/locations/{code}")
def get_location(code: str, db: DatabaseDep, actor: CurrentActor) -> dict[str, Any]:
    return service.get_location(db, actor, code)


@router.patch("/locations/{code}")
def update_location(
    code: str, body: LocationUpdate, db: DatabaseDep, actor: CurrentActor
) -> dict[str, Any]:
    return service.update_location(db, actor, code, body)
