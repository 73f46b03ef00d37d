"""Test setup for registration and ownership by the buyer (verify/owners.py): products with
verification codes, units sold to a buyer. Codes are written directly (the codes part makes
them at commissioning); `fake_normalise` stands for verify.codes.normalise until the merge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from tests.factories import make_location, make_party, make_product, make_units, record
from unitrace.db.engine import Database
from unitrace.db.tables import products, units, verify_codes, verify_settings
from unitrace.verify import codes


def fake_normalise(monkeypatch: pytest.MonkeyPatch) -> None:
    def normalise(text: str) -> str | None:
        plain = "".join(c for c in text.upper() if c.isalnum())
        return plain if len(plain) == codes.LENGTH else None

    monkeypatch.setattr(codes, "normalise", normalise)


def with_codes(db: Database, product: str, ownership: bool) -> dict[str, str]:
    """Verification on for the product, a code for each of its units: serial → code."""
    now = datetime.now(UTC)
    out: dict[str, str] = {}
    with db.write() as conn:
        product_id = conn.execute(select(products.c.id).where(products.c.code == product)).scalar()
        conn.execute(
            insert(verify_settings).values(
                product_id=product_id,
                enabled=True,
                pin=False,
                ownership=ownership,
                max_checks=20,
                max_devices=5,
                max_speed_kmh=800,
                updated_at=now,
                updated_by="tests",
            )
        )
        rows = conn.execute(
            select(units.c.id, units.c.serial).where(units.c.product_id == product_id)
        )
        for i, row in enumerate(rows.all()):
            code = f"{product[:2]}{i:014d}".replace("0", "A").upper()[:16].ljust(16, "Z")
            conn.execute(
                insert(verify_codes).values(
                    unit_id=row.id,
                    code=code,
                    key_id="0" * 16,
                    created_at=now,
                    checks=0,
                    devices=0,
                )
            )
            out[row.serial] = code
    return out


def sold_units(
    db: Database, product: str = "LX1", *, ownership: bool = False, count: int = 3
) -> tuple[list[str], dict[str, str]]:
    """A product with an activation-based 24-month warranty and `count` units: all but the
    last delivered to a retailer (the first of them sold), the last only received (it cannot
    be registered). Answers the serials and their codes."""
    make_product(db, product, rule=None, warranty_months=24, warranty_start="activation")
    make_location(db)
    make_party(db, "R-SHOP", kind="retailer")
    made = datetime.now(UTC) - timedelta(days=60)
    wanted = [f"{product}-{i}" for i in range(count)]
    serials = make_units(db, product, None, serials=wanted, event_time=made)
    record(db, type="receive", product=product, serials=serials, location="WH1")
    sold = serials[:-1]
    record(db, type="ship", product=product, serials=sold, party="R-SHOP")
    record(db, type="deliver", product=product, serials=sold)
    record(db, type="sell", product=product, serials=sold[:1])
    return serials, with_codes(db, product, ownership)
