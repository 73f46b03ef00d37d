"""A product's verification settings, and the codes and PINs made for its existing units.

OWNER: the codes helper (issue 16). Every change is audited.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from unitrace.access import audit
from unitrace.access.principal import Actor
from unitrace.core.errors import FieldError, NotFound, ValidationError
from unitrace.db.engine import Database
from unitrace.db.tables import products, units, verify_codes, verify_settings
from unitrace.ledger.bulk import chunks
from unitrace.verify import codes, keys

FIELDS = ("enabled", "pin", "ownership", "max_checks", "max_devices", "max_speed_kmh")
DEFAULTS: dict[str, Any] = {
    "enabled": False,
    "pin": False,
    "ownership": False,
    "max_checks": 20,
    "max_devices": 5,
    "max_speed_kmh": 800,
}
LIMITS = {"max_checks": (1, 1_000_000), "max_devices": (1, 100_000), "max_speed_kmh": (1, 20_000)}


def _product(conn: Connection, code: str) -> int:
    found = conn.execute(select(products.c.id).where(products.c.code == code)).scalar()
    if found is None:
        raise NotFound(f"no product {code!r}", [FieldError("product", "unknown product", code)])
    return int(found)


def _read(conn: Connection, product_id: int) -> dict[str, Any]:
    row = conn.execute(
        select(*(verify_settings.c[f] for f in FIELDS)).where(
            verify_settings.c.product_id == product_id
        )
    ).first()
    return dict(DEFAULTS) if row is None else {f: row._mapping[f] for f in FIELDS}


def get(db: Database, actor: Actor, product: str) -> dict[str, Any]:
    actor.require("verify.read")
    with db.read() as conn:
        return {"product": product} | _read(conn, _product(conn, product))


def problems(changes: dict[str, Any]) -> list[FieldError]:
    """Every problem with the changes, each naming its field."""
    found = [FieldError(k, "unknown setting", k) for k in changes if k not in FIELDS]
    for name in ("enabled", "pin", "ownership"):
        if name in changes and not isinstance(changes[name], bool):
            found.append(FieldError(name, "must be true or false", changes[name]))
    for name, (low, high) in LIMITS.items():
        if name not in changes:
            continue
        value = changes[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            found.append(FieldError(name, f"must be a whole number from {low} to {high}", value))
    return found


def put(db: Database, actor: Actor, product: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Change some of a product's settings (the others stay); audited."""
    actor.require("verify.manage")
    found = problems(changes)
    if found:
        raise ValidationError("invalid verification settings", found)
    with db.write() as conn:
        product_id = _product(conn, product)
        before = _read(conn, product_id)
        after = before | changes
        values = after | {"updated_at": datetime.now(UTC), "updated_by": actor.username}
        exists = conn.execute(
            select(verify_settings.c.product_id).where(verify_settings.c.product_id == product_id)
        ).first()
        if exists is None:
            conn.execute(insert(verify_settings).values(product_id=product_id, **values))
        else:
            conn.execute(
                update(verify_settings)
                .where(verify_settings.c.product_id == product_id)
                .values(**values)
            )
        audit.append(conn, actor, "verify.settings", "product", product, before, after)
    return {"product": product} | after


def issue(db: Database, actor: Actor, product: str) -> codes.Backfill:
    """Codes for the product's units without one (set-based; running it again makes none)."""
    actor.require("verify.manage")
    with db.write() as conn:
        product_id = _product(conn, product)
        ids = list(
            conn.execute(
                select(units.c.id).where(units.c.product_id == product_id).order_by(units.c.id)
            ).scalars()
        )
        missing = codes.without_code(conn, ids)
        codes.issue(conn, missing)
        result = codes.Backfill(made=len(missing), existing=len(ids) - len(missing))
        audit.append(conn, actor, "verify.issue", "product", product, None, result.__dict__.copy())
    return result


def _rows(conn: Connection, product_id: int, without_pin: bool = False) -> Iterator[Any]:
    query = (
        select(verify_codes.c.id, verify_codes.c.code, verify_codes.c.key_id, units.c.serial)
        .join(units, units.c.id == verify_codes.c.unit_id)
        .where(units.c.product_id == product_id)
        .order_by(units.c.id)
    )
    if without_pin:
        query = query.where(verify_codes.c.pin_hash.is_(None))
    yield from conn.execute(query)


def export(db: Database, actor: Actor, product: str, out: Path) -> int:
    """serial,code,url of the product's codes into a CSV file; the number written."""
    actor.require("verify.read")
    count = 0
    with db.read() as conn, out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(("serial", "code", "url"))
        for row in _rows(conn, _product(conn, product)):
            writer.writerow((row.serial, codes.display(row.code), codes.verify_url(row.code)))
            count += 1
    return count


@dataclass(frozen=True)
class Pins:
    made: int
    skipped: int  # codes that had a PIN (shown once: never again)


def pins(db: Database, actor: Actor, product: str, out: Path) -> Pins:
    """A PIN for every code of the product without one, written once (serial,code,pin) to
    `out`; only its keyed hash is kept, under the code's own key (the one its row names, so a
    code made before a rotation checks its PIN with that key). Audited (counts, never a PIN)."""
    actor.require("verify.manage")
    with db.write() as conn:
        product_id = _product(conn, product)
        total = len(list(_rows(conn, product_id)))
        made = [
            (row, codes.new_pin(), key)
            for row in _rows(conn, product_id, without_pin=True)
            if (key := keys.by_id(row.key_id)) is not None  # a key no longer configured: none
        ]
        statement = (
            update(verify_codes)
            .where(verify_codes.c.id == bindparam("row_id"))
            .values(pin_hash=bindparam("hash"))
        )
        for chunk in chunks(made):
            conn.execute(
                statement,
                [
                    {"row_id": row.id, "hash": codes.pin_hash(row.code, pin, key)}
                    for row, pin, key in chunk
                ],
            )
        with out.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(("serial", "code", "pin"))
            writer.writerows((row.serial, codes.display(row.code), pin) for row, pin, _ in made)
        result = Pins(made=len(made), skipped=total - len(made))
        audit.append(conn, actor, "verify.pins", "product", product, None, result.__dict__.copy())
    return result
