"""Plain factory functions for tests (no fixture files)."""

from __future__ import annotations

from typing import Any

from unitrace.access.principal import SYSTEM
from unitrace.catalog import service as catalog
from unitrace.catalog.schemas import LocationCreate, LotCreate, PartyCreate, ProductCreate
from unitrace.db.engine import Database
from unitrace.ledger import service as ledger
from unitrace.ledger.schemas import CommissionIn, EventIn

RULE = "SN{yy}{mm}-{seq:6}{check:luhn}"
FAST_ARGON2 = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}  # argon2 at its cheapest


def make_product(db: Database, code: str = "AC1", rule: str | None = RULE, **kw: Any) -> str:
    catalog.create_product(
        db,
        SYSTEM,
        ProductCreate(code=code, name=kw.pop("name", f"Product {code}"), serial_rule=rule, **kw),
    )
    return code


def make_location(
    db: Database, code: str = "WH1", kind: str = "warehouse", region: str = "CN-44"
) -> str:
    catalog.create_location(
        db, SYSTEM, LocationCreate(code=code, name=code, kind=kind, region=region)
    )
    return code


def make_party(
    db: Database, code: str = "D-EAST", kind: str = "distributor", regions: list[str] | None = None
) -> str:
    catalog.create_party(
        db, SYSTEM, PartyCreate(code=code, name=code, kind=kind, authorised_regions=regions or [])
    )
    return code


def make_lot(db: Database, product: str, number: str = "L1", **kw: Any) -> str:
    catalog.create_lot(db, SYSTEM, LotCreate(product=product, number=number, **kw))
    return number


def make_units(db: Database, product: str = "AC1", count: int | None = 3, **kw: Any) -> list[str]:
    """`count` new serials from the product's rule, or (count None) the given `serials`."""
    return ledger.commission_units(
        db, SYSTEM, CommissionIn(product=product, count=count, **kw)
    ).serials


def record(db: Database, **kw: Any) -> Any:
    return ledger.record_events(db, SYSTEM, [EventIn(**kw)])[0]


def in_stock(db: Database, count: int = 3, product: str = "AC1") -> list[str]:
    """A product, a warehouse, a distributor and `count` units received into stock."""
    make_product(db, product)
    make_location(db)
    make_party(db)
    serials = make_units(db, product, count)
    record(db, type="receive", product=product, serials=serials, location="WH1")
    return serials
