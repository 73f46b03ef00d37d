"""Catalog use cases: products, lots, parties, locations. Each opens its own transaction."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from unitrace.access import audit
from unitrace.access.principal import Actor
from unitrace.catalog.schemas import (
    LocationCreate,
    LotCreate,
    LotUpdate,
    PartyCreate,
    ProductCreate,
    ProductUpdate,
)
from unitrace.core.checkdigits import valid_gtin
from unitrace.core.errors import Conflict, FieldError, NotFound, ValidationError, invalid
from unitrace.core.serials import SerialTemplate
from unitrace.db.engine import Database
from unitrace.db.fast import Fast, once_per_batch
from unitrace.db.tables import locations, lots, parties, products, units

_REGION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,6})?$")


# --- lookups other modules use inside their own transaction ------------------------------


def product_row(conn: Connection, code: str, field: str = "product") -> Row[Any]:
    row = conn.execute(_PRODUCT, {"code": code}).first()
    if row is None:
        raise NotFound(
            f"no product with code {code!r}", [FieldError(field, "unknown product", code)]
        )
    return row


def lot_id(conn: Connection, product_id: int, number: str, field: str = "lot") -> int:
    found = conn.execute(
        select(lots.c.id).where(lots.c.product_id == product_id, lots.c.number == number)
    ).scalar()
    if found is None:
        raise NotFound(
            f"no lot {number!r} for this product", [FieldError(field, "unknown lot", number)]
        )
    return int(found)


_PARTY_ID = Fast(select(parties.c.id).where(parties.c.code == bindparam("code")))
_LOCATION_ID = Fast(select(locations.c.id).where(locations.c.code == bindparam("code")))
_PRODUCT = select(products).where(products.c.code == bindparam("code"))


def _cached_id(conn: Connection, statement: Fast, kind: str, code: str) -> Any:
    return once_per_batch(conn, (kind, code), lambda: statement.scalar(conn, {"code": code}))


def party_id(conn: Connection, code: str, field: str = "party") -> int:
    found = _cached_id(conn, _PARTY_ID, "party", code)
    if found is None:
        raise unknown_party(code, field)
    return int(found)


def unknown_party(code: str, field: str = "party") -> NotFound:
    """How an unknown party is reported — also one a partner may not name, word for word."""
    return NotFound(f"no party with code {code!r}", [FieldError(field, "unknown party", code)])


def location_id(conn: Connection, code: str, field: str = "location") -> int:
    found = _cached_id(conn, _LOCATION_ID, "location", code)
    if found is None:
        raise unknown_location(code, field)
    return int(found)


def unknown_location(code: str, field: str = "location") -> NotFound:
    """How an unknown location is reported — also one a partner may not name, word for word."""
    return NotFound(
        f"no location with code {code!r}", [FieldError(field, "unknown location", code)]
    )


def serial_template(product: Row[Any]) -> SerialTemplate | None:
    return SerialTemplate.parse(product.serial_rule) if product.serial_rule else None


# --- products ---------------------------------------------------------------------------


def _product_public(row: Row[Any]) -> dict[str, Any]:
    return {
        "code": row.code,
        "name": row.name,
        "gtin": row.gtin,
        "tracking": row.tracking,
        "serial_rule": row.serial_rule,
        "warranty_months": row.warranty_months,
        "warranty_start": row.warranty_start,
        "description": row.description,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


def _check_product_rules(tracking: str, gtin: str | None, serial_rule: str | None) -> None:
    if gtin is not None and not valid_gtin(gtin):
        raise invalid("gtin", "not a valid GTIN-8/12/13/14 (length, digits or check digit)", gtin)
    if serial_rule is not None:
        if not serial_rule.strip():
            raise invalid("serial_rule", "must not be empty (leave it out instead)")
        if tracking != "serial":
            raise invalid("serial_rule", "only products tracked by serial have a serial rule")
        try:
            SerialTemplate.parse(serial_rule)
        except ValidationError as exc:  # name the product's field, keep the token in the text
            for item in exc.errors:
                item.field = "serial_rule"
            exc.detail = f"serial_rule: {exc.detail}"
            raise


def _unique_violation(conn: Connection, table: Any, column: str, value: Any, what: str) -> None:
    if (
        value is not None
        and conn.execute(select(func.count()).where(getattr(table.c, column) == value)).scalar()
    ):
        raise Conflict(
            f"a {what} with {column} {value!r} exists",
            [FieldError(column, "already exists", value)],
        )


def create_product(db: Database, actor: Actor, data: ProductCreate) -> dict[str, Any]:
    actor.require("catalog.write")
    _check_product_rules(data.tracking, data.gtin, data.serial_rule)
    try:
        with db.write() as conn:
            _unique_violation(conn, products, "code", data.code, "product")
            _unique_violation(conn, products, "gtin", data.gtin, "product")
            now = datetime.now(UTC)
            conn.execute(
                insert(products).values(**data.model_dump(), created_at=now, updated_at=now)
            )
            created = _product_public(product_row(conn, data.code))
            audit.append(conn, actor, "create", "product", data.code, None, created)
            return created
    except IntegrityError:
        raise Conflict(f"product {data.code!r} or its GTIN was created meanwhile") from None


def update_product(db: Database, actor: Actor, code: str, data: ProductUpdate) -> dict[str, Any]:
    actor.require("catalog.write")
    changes = data.model_dump(exclude_unset=True)
    with db.write() as conn:
        row = product_row(conn, code)
        changes = {k: v for k, v in changes.items() if row._mapping[k] != v}
        merged = {**row._mapping, **changes}
        _check_product_rules(merged["tracking"], merged["gtin"], merged["serial_rule"])
        if changes.get("gtin") not in (None, row.gtin):
            _unique_violation(conn, products, "gtin", changes["gtin"], "product")
        if not changes:
            return _product_public(row)
        conn.execute(
            update(products)
            .where(products.c.id == row.id)
            .values(**changes, updated_at=datetime.now(UTC))
        )
        after = _product_public(product_row(conn, code))
        audit.append(conn, actor, "update", "product", code, _product_public(row), after)
        return after


def get_product(db: Database, actor: Actor, code: str) -> dict[str, Any]:
    actor.require("read")
    with db.read() as conn:
        return _product_public(product_row(conn, code))


def list_products(
    db: Database, actor: Actor, q: str | None = None, limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    actor.require("read")
    query = select(products).order_by(products.c.code)
    if q:
        like = f"%{q}%"
        query = query.where(
            or_(products.c.code.ilike(like), products.c.name.ilike(like), products.c.gtin == q)
        )
    with db.read() as conn:
        total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = conn.execute(query.limit(limit).offset(offset)).all()
    return {"items": [_product_public(r) for r in rows], "total": total}


# --- lots, parties, locations -----------------------------------------------------------


def create_lot(db: Database, actor: Actor, data: LotCreate) -> dict[str, Any]:
    actor.require("catalog.write")
    _check_lot_dates(data.production_date, data.expiry_date)
    with db.write() as conn:
        product = product_row(conn, data.product)
        if product.tracking == "none":
            raise invalid("product", "is not tracked by lot or serial", data.product)
        supplier = party_id(conn, data.supplier, "supplier") if data.supplier else None
        exists = conn.execute(
            select(lots.c.id).where(lots.c.product_id == product.id, lots.c.number == data.number)
        ).first()
        if exists:
            raise Conflict(
                f"lot {data.number!r} of {data.product} exists",
                [FieldError("number", "already exists for this product", data.number)],
            )
        conn.execute(
            insert(lots).values(
                product_id=product.id,
                number=data.number,
                production_date=data.production_date,
                expiry_date=data.expiry_date,
                supplier_id=supplier,
            )
        )
        created = _lot_public(_lot_row(conn, data.product, data.number))
        audit.append(conn, actor, "create", "lot", f"{data.product}/{data.number}", None, created)
    return created


def _lot_query() -> Any:
    supplier = parties.alias("supplier")
    return (
        select(
            lots.c.id,
            lots.c.number,
            lots.c.production_date,
            lots.c.expiry_date,
            lots.c.created_at,
            products.c.code.label("product"),
            products.c.name.label("product_name"),
            supplier.c.code.label("supplier"),
        )
        .join(products, products.c.id == lots.c.product_id)
        .outerjoin(supplier, supplier.c.id == lots.c.supplier_id)
    )


def _lot_public(row: Row[Any]) -> dict[str, Any]:
    return {
        "product": row.product,
        "product_name": row.product_name,
        "number": row.number,
        "production_date": row.production_date.isoformat() if row.production_date else None,
        "expiry_date": row.expiry_date.isoformat() if row.expiry_date else None,
        "supplier": row.supplier,
        "created_at": row.created_at.isoformat(),
    }


def _lot_row(conn: Connection, product: str, number: str) -> Row[Any]:
    row = conn.execute(
        _lot_query().where(products.c.code == product, lots.c.number == number)
    ).first()
    if row is None:
        raise NotFound(
            f"no lot {number!r} of product {product!r}", [FieldError("lot", "unknown lot", number)]
        )
    return row


def _check_lot_dates(production: Any, expiry: Any) -> None:
    if production and expiry and expiry < production:
        raise invalid("expiry_date", "is before the production date", str(expiry))


def list_lots(
    db: Database,
    actor: Actor,
    product: str | None = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """Lots, newest first, with the number of units in each. Staff only (lots name suppliers)."""
    actor.require("catalog.read")
    query = _lot_query().order_by(lots.c.created_at.desc(), lots.c.id.desc())
    if product:
        query = query.where(products.c.code == product)
    if q:
        query = query.where(or_(lots.c.number.ilike(f"%{q}%"), products.c.code.ilike(f"%{q}%")))
    with db.read() as conn:
        total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = conn.execute(query.limit(limit).offset(offset)).all()
        counts: dict[int, int] = {}
        if rows:
            counted = conn.execute(
                select(units.c.lot_id, func.count())
                .where(units.c.lot_id.in_([r.id for r in rows]))
                .group_by(units.c.lot_id)
            ).all()
            counts = {lot: n for lot, n in counted}
    items = [{**_lot_public(r), "unit_count": counts.get(r.id, 0)} for r in rows]
    return {"items": items, "total": total}


def get_lot(db: Database, actor: Actor, product: str, number: str) -> dict[str, Any]:
    actor.require("catalog.read")
    with db.read() as conn:
        return _lot_public(_lot_row(conn, product, number))


def update_lot(
    db: Database, actor: Actor, product: str, number: str, data: LotUpdate
) -> dict[str, Any]:
    actor.require("catalog.write")
    changes = data.model_dump(exclude_unset=True)
    with db.write() as conn:
        row = _lot_row(conn, product, number)
        before = _lot_public(row)
        changes = {k: v for k, v in changes.items() if getattr(row, k) != v}
        if not changes:
            return before
        values: dict[str, Any] = {k: v for k, v in changes.items() if k != "supplier"}
        if "supplier" in changes:
            code = changes["supplier"]
            values["supplier_id"] = party_id(conn, code, "supplier") if code else None
        _check_lot_dates(
            values.get("production_date", row.production_date),
            values.get("expiry_date", row.expiry_date),
        )
        conn.execute(update(lots).where(lots.c.id == row.id).values(**values))
        after = _lot_public(_lot_row(conn, product, number))
        audit.append(conn, actor, "update", "lot", f"{product}/{number}", before, after)
    return after


def create_party(db: Database, actor: Actor, data: PartyCreate) -> dict[str, Any]:
    actor.require("catalog.write")
    errors = [
        FieldError(f"authorised_regions.{i}", "not a region code like CN-31", region)
        for i, region in enumerate(data.authorised_regions)
        if not _REGION.match(region)
    ]
    if errors:
        raise ValidationError("authorised_regions: invalid region codes", errors)
    if data.authorised_regions and data.kind not in ("distributor", "retailer"):
        raise invalid("authorised_regions", "only distributors and retailers have them")
    with db.write() as conn:
        _unique_violation(conn, parties, "code", data.code, "party")
        conn.execute(insert(parties).values(**data.model_dump()))
        audit.append(conn, actor, "create", "party", data.code, None, data.model_dump())
    return data.model_dump()


def create_location(db: Database, actor: Actor, data: LocationCreate) -> dict[str, Any]:
    actor.require("catalog.write")
    with db.write() as conn:
        _unique_violation(conn, locations, "code", data.code, "location")
        parent = location_id(conn, data.parent, "parent") if data.parent else None
        values = data.model_dump(exclude={"parent"})
        conn.execute(insert(locations).values(**values, parent_id=parent))
        audit.append(conn, actor, "create", "location", data.code, None, data.model_dump())
    return data.model_dump()


def list_table(db: Database, actor: Actor, what: str) -> list[dict[str, Any]]:
    """Parties or locations, for pickers and the CLI (small tables)."""
    actor.require("catalog.read")
    table = {"parties": parties, "locations": locations}[what]
    with db.read() as conn:
        rows = conn.execute(select(table).order_by(table.c.code)).mappings().all()
    return [
        {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items() if k != "id"}
        for r in rows
    ]
