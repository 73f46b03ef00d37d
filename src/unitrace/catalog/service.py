"""Catalog use cases: products, lots, parties, locations. Each opens its own transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from unitrace.access import audit
from unitrace.access.principal import Actor
from unitrace.catalog.identifiers import company_prefix_problem
from unitrace.catalog.schemas import (
    REGION,
    LocationCreate,
    LocationUpdate,
    LotCreate,
    LotUpdate,
    PartyCreate,
    PartyUpdate,
    ProductCreate,
    ProductUpdate,
)
from unitrace.core import gs1
from unitrace.core.checkdigits import valid_gtin
from unitrace.core.errors import (
    Conflict,
    FieldError,
    NotFound,
    ValidationError,
    invalid,
    report,
    twice_in,
)
from unitrace.core.serials import SerialTemplate
from unitrace.db.engine import Database
from unitrace.db.fast import Fast, once_per_batch
from unitrace.db.tables import locations, lots, parties, products, units, users

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
        "gtin14": row.gtin14,
        "gs1_company_prefix_length": row.gs1_company_prefix_length,
        "tracking": row.tracking,
        "serial_rule": row.serial_rule,
        "warranty_months": row.warranty_months,
        "warranty_start": row.warranty_start,
        "warranty_fallback": row.warranty_fallback,
        "warranty_fallback_days": row.warranty_fallback_days,
        "description": row.description,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


def _check_warranty(start: str, fallback: str | None, days: int) -> None:
    """A fallback is another start than the policy's own; days only go with a fallback."""
    problems = []
    if fallback is not None and fallback == start:
        problems.append(
            FieldError("warranty_fallback", "must differ from warranty_start", fallback)
        )
    if fallback is None and days:
        problems.append(
            FieldError("warranty_fallback_days", "needs a warranty_fallback to count from", days)
        )
    if problems:
        raise report("the warranty policy is not valid", problems)


def _check_product_rules(
    tracking: str, gtin: str | None, serial_rule: str | None, prefix_length: int | None = None
) -> None:
    if gtin is not None and not valid_gtin(gtin):
        raise invalid("gtin", "not a valid GTIN-8/12/13/14 (length, digits or check digit)", gtin)
    prefix_problem = company_prefix_problem(gtin, prefix_length)
    if prefix_problem is not None:
        raise report("the GS1 company prefix length does not fit the GTIN", [prefix_problem])
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


def _gtin_taken(conn: Connection, gtin: str | None, product_id: int | None = None) -> None:
    """A GTIN-12/13 and its GTIN-14 form are one product: a second one in any length is
    refused, naming the product that has it."""
    if gtin is None:
        return
    other = conn.execute(
        select(products.c.id, products.c.code, products.c.gtin).where(
            products.c.gtin14 == gs1.gtin14(gtin)
        )
    ).first()
    if other is not None and other.id != product_id:
        raise Conflict(
            f"product {other.code!r} has this GTIN ({other.gtin}): a GTIN in another length "
            "is the same product",
            [FieldError("gtin", f"already the GTIN of product {other.code}", gtin)],
        )


def product_by_gtin(conn: Connection, gtin: str) -> Row[Any] | None:
    """The product with this GTIN in any length (8, 12, 13 or 14 digits), or None."""
    return conn.execute(select(products).where(products.c.gtin14 == gs1.gtin14(gtin))).first()


def create_product(db: Database, actor: Actor, data: ProductCreate) -> dict[str, Any]:
    actor.require("catalog.write")
    _check_product_rules(data.tracking, data.gtin, data.serial_rule, data.gs1_company_prefix_length)
    _check_warranty(data.warranty_start, data.warranty_fallback, data.warranty_fallback_days)
    try:
        with db.write() as conn:
            _unique_violation(conn, products, "code", data.code, "product")
            _gtin_taken(conn, data.gtin)
            now = datetime.now(UTC)
            gtin14 = gs1.gtin14(data.gtin) if data.gtin is not None else None
            conn.execute(
                insert(products).values(
                    **data.model_dump(), gtin14=gtin14, created_at=now, updated_at=now
                )
            )
            created = _product_public(product_row(conn, data.code))
            audit.append(conn, actor, "create", "product", data.code, None, created)
            return created
    except IntegrityError:
        raise Conflict(f"product {data.code!r} or its GTIN was created meanwhile") from None


def update_product(db: Database, actor: Actor, code: str, data: ProductUpdate) -> dict[str, Any]:
    actor.require("catalog.write")
    changes = data.model_dump(exclude_unset=True)
    if "warranty_fallback" in changes and changes["warranty_fallback"] is None:
        changes.setdefault("warranty_fallback_days", 0)  # no fallback: no days after it
    with db.write() as conn:
        row = product_row(conn, code)
        changes = {k: v for k, v in changes.items() if row._mapping[k] != v}
        merged = {**row._mapping, **changes}
        _check_product_rules(
            merged["tracking"],
            merged["gtin"],
            merged["serial_rule"],
            merged["gs1_company_prefix_length"],
        )
        _check_warranty(
            merged["warranty_start"], merged["warranty_fallback"], merged["warranty_fallback_days"]
        )
        if "gtin" in changes:
            _gtin_taken(conn, changes["gtin"], row.id)
            gtin = changes["gtin"]
            changes["gtin14"] = gs1.gtin14(gtin) if gtin is not None else None
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


def _page(
    db: Database,
    query: Select[Any],
    public: Callable[[Row[Any]], dict[str, Any]],
    limit: int | None,
    offset: int,
) -> dict[str, Any]:
    """One page of a list query, as `public` shows a row, and how many rows there are in all."""
    with db.read() as conn:
        total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = conn.execute(query.limit(limit).offset(offset)).all()
    return {"items": [public(r) for r in rows], "total": total}


def _as_gtin14(text: str) -> str:
    """A search text as the 14 digits of the GTIN it is, else as it is."""
    try:
        return gs1.gtin14(text)
    except ValidationError:
        return text


def list_products(
    db: Database, actor: Actor, q: str | None = None, limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    actor.require("read")
    query = select(products).order_by(products.c.code)
    if q:
        like = f"%{q}%"
        query = query.where(
            or_(
                products.c.code.ilike(like),
                products.c.name.ilike(like),
                # a GTIN in any length finds its product
                products.c.gtin14 == _as_gtin14(q),
            )
        )
    return _page(db, query, _product_public, limit, offset)


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


# --- parties ----------------------------------------------------------------------------


def _party_public(row: Row[Any]) -> dict[str, Any]:
    return {
        "code": row.code,
        "name": row.name,
        "kind": row.kind,
        "region": row.region,
        "authorised_regions": list(row.authorised_regions or []),
        "contact": row.contact,
        "created_at": row.created_at.isoformat(),
    }


def _party_row(conn: Connection, code: str) -> Row[Any]:
    row = conn.execute(select(parties).where(parties.c.code == code)).first()
    if row is None:
        raise unknown_party(code)
    return row


def _party_problems(kind: str, regions: list[str]) -> list[FieldError]:
    """Every problem with a party's authorised regions, all at once."""
    errors = [
        FieldError(f"authorised_regions.{i}", "not a region code like CN-31", region)
        for i, region in enumerate(regions)
        if not REGION.match(region)
    ]
    errors += twice_in((f"authorised_regions.{i}", r, r) for i, r in enumerate(regions))
    if regions and kind not in ("distributor", "retailer"):
        errors.append(
            FieldError("authorised_regions", "only distributors and retailers have them", kind)
        )
    return errors


def create_party(db: Database, actor: Actor, data: PartyCreate) -> dict[str, Any]:
    actor.require("catalog.write")
    errors = _party_problems(data.kind, data.authorised_regions)
    if errors:
        raise ValidationError("the party has invalid fields", errors)
    with db.write() as conn:
        _unique_violation(conn, parties, "code", data.code, "party")
        conn.execute(insert(parties).values(**data.model_dump()))
        created = _party_public(_party_row(conn, data.code))
        audit.append(conn, actor, "create", "party", data.code, None, created)
    return created


def get_party(db: Database, actor: Actor, code: str) -> dict[str, Any]:
    """One party. Staff only: a partner may see no party, not even whether one exists."""
    actor.require("catalog.read")
    with db.read() as conn:
        return _party_public(_party_row(conn, code))


def update_party(db: Database, actor: Actor, code: str, data: PartyUpdate) -> dict[str, Any]:
    """Change the fields sent (a partial update); every problem is reported at once and
    nothing is written then. One audit record holds the party before and after."""
    actor.require("catalog.write")
    changes = data.model_dump(exclude_unset=True)
    with db.write() as conn:
        row = _party_row(conn, code)
        before = _party_public(row)
        changes = {k: v for k, v in changes.items() if before[k] != v}
        merged = {**before, **changes}
        errors = _party_problems(merged["kind"], merged["authorised_regions"])
        partner_users = conn.execute(
            select(func.count()).where(users.c.party_id == row.id)
        ).scalar_one()
        if merged["kind"] not in ("distributor", "retailer") and partner_users:
            errors.append(FieldError("kind", "partner users belong to this party", merged["kind"]))
        if errors:
            raise ValidationError("the party has invalid fields", errors)
        if not changes:
            return before
        conn.execute(update(parties).where(parties.c.id == row.id).values(**changes))
        after = _party_public(_party_row(conn, code))
        audit.append(conn, actor, "update", "party", code, before, after)
    return after


def list_parties(
    db: Database,
    actor: Actor,
    q: str | None = None,
    kind: str | None = None,
    limit: int | None = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """Parties by code, `q` matching code or name, with the total for paging. Staff only."""
    actor.require("catalog.read")
    query = select(parties).order_by(parties.c.code)
    if q:
        like = f"%{q}%"
        query = query.where(or_(parties.c.code.ilike(like), parties.c.name.ilike(like)))
    if kind:
        query = query.where(parties.c.kind == kind)
    return _page(db, query, _party_public, limit, offset)


# --- locations --------------------------------------------------------------------------

_PARENT = locations.alias("parent")
_LOCATION_QUERY = select(locations, _PARENT.c.code.label("parent")).outerjoin(
    _PARENT, _PARENT.c.id == locations.c.parent_id
)


def _location_public(row: Row[Any]) -> dict[str, Any]:
    return {
        "code": row.code,
        "name": row.name,
        "kind": row.kind,
        "parent": row.parent,
        "region": row.region,
        "created_at": row.created_at.isoformat(),
    }


def _location_row(conn: Connection, code: str) -> Row[Any]:
    row = conn.execute(_LOCATION_QUERY.where(locations.c.code == code)).first()
    if row is None:
        raise unknown_location(code)
    return row


def _parent_problems(conn: Connection, code: str, parent: str | None) -> list[FieldError]:
    """A parent that does not exist, is the location itself or lies inside it (a loop)."""
    if parent is None:
        return []
    if parent == code:
        return [FieldError("parent", "a location cannot be inside itself", parent)]
    up: str | None = parent
    seen: set[str] = set()
    while up is not None and up not in seen:
        seen.add(up)
        found = conn.execute(
            select(_PARENT.c.code)
            .select_from(locations)
            .outerjoin(_PARENT, _PARENT.c.id == locations.c.parent_id)
            .where(locations.c.code == up)
        ).first()
        if found is None:
            return [FieldError("parent", "unknown location", parent)] if up == parent else []
        if found[0] == code:
            return [FieldError("parent", "lies inside this location (a loop)", parent)]
        up = found[0]
    return []


def create_location(db: Database, actor: Actor, data: LocationCreate) -> dict[str, Any]:
    actor.require("catalog.write")
    with db.write() as conn:
        errors = _parent_problems(conn, data.code, data.parent)
        if errors and errors[0].message == "unknown location":
            raise NotFound(f"no location with code {data.parent!r}", errors)
        if errors:
            raise ValidationError("the location has invalid fields", errors)
        _unique_violation(conn, locations, "code", data.code, "location")
        parent = location_id(conn, data.parent, "parent") if data.parent else None
        values = data.model_dump(exclude={"parent"})
        conn.execute(insert(locations).values(**values, parent_id=parent))
        created = _location_public(_location_row(conn, data.code))
        audit.append(conn, actor, "create", "location", data.code, None, created)
    return created


def get_location(db: Database, actor: Actor, code: str) -> dict[str, Any]:
    """One location. Staff only: locations are ours, a partner may see none."""
    actor.require("catalog.read")
    with db.read() as conn:
        return _location_public(_location_row(conn, code))


def update_location(db: Database, actor: Actor, code: str, data: LocationUpdate) -> dict[str, Any]:
    """Change the fields sent (a partial update), with one audit record; a new parent must
    exist and must not lie inside the location."""
    actor.require("catalog.write")
    changes = data.model_dump(exclude_unset=True)
    with db.write() as conn:
        row = _location_row(conn, code)
        before = _location_public(row)
        changes = {k: v for k, v in changes.items() if before[k] != v}
        if "parent" in changes:
            errors = _parent_problems(conn, code, changes["parent"])
            if errors:
                raise ValidationError("the location has invalid fields", errors)
        if not changes:
            return before
        values = {k: v for k, v in changes.items() if k != "parent"}
        if "parent" in changes:
            parent = changes["parent"]
            values["parent_id"] = location_id(conn, parent, "parent") if parent else None
        conn.execute(update(locations).where(locations.c.id == row.id).values(**values))
        after = _location_public(_location_row(conn, code))
        audit.append(conn, actor, "update", "location", code, before, after)
    return after


def list_locations(
    db: Database,
    actor: Actor,
    q: str | None = None,
    kind: str | None = None,
    limit: int | None = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """Locations by code with their parent's code, `q` matching code or name. Staff only."""
    actor.require("catalog.read")
    query = _LOCATION_QUERY.order_by(locations.c.code)
    if q:
        like = f"%{q}%"
        query = query.where(or_(locations.c.code.ilike(like), locations.c.name.ilike(like)))
    if kind:
        query = query.where(locations.c.kind == kind)
    return _page(db, query, _location_public, limit, offset)


def location_tree(locations_found: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Locations in tree order (site → warehouse → bin), each with its depth; a location
    whose parent is not in the list is a root."""
    codes = {loc["code"] for loc in locations_found}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for loc in locations_found:
        parent = loc["parent"] if loc["parent"] in codes else None
        children.setdefault(parent, []).append(loc)
    out: list[tuple[int, dict[str, Any]]] = []

    def walk(parent: str | None, depth: int) -> None:
        for loc in children.get(parent, []):
            out.append((depth, loc))
            walk(loc["code"], depth + 1)

    walk(None, 0)
    return out


def list_table(db: Database, actor: Actor, what: str) -> list[dict[str, Any]]:
    """All parties or locations, for pickers and the CLI (small tables)."""
    listed = {"parties": list_parties, "locations": list_locations}[what]
    items: list[dict[str, Any]] = listed(db, actor, limit=None)["items"]
    return items
