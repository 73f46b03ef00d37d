"""products: the GTIN as 14 digits (one product per GTIN in any length) and the GS1 company
prefix length (issue 15, identifiers)

Revision ID: 0011_ids
Revises: 0010_bench
Create Date: 2026-12-02 16:30:00
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0011_ids"
down_revision = "0010_bench"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("products", sa.Column("gtin14", sa.String(length=14), nullable=True))
    op.add_column("products", sa.Column("gs1_company_prefix_length", sa.Integer(), nullable=True))
    conn = op.get_bind()
    products = sa.table(
        "products", sa.column("id"), sa.column("code"), sa.column("gtin"), sa.column("gtin14")
    )
    found = conn.execute(
        sa.select(products.c.id, products.c.code, products.c.gtin)
        .where(products.c.gtin.is_not(None))
        .order_by(products.c.code)
    ).all()
    by_gtin14: dict[str, list[str]] = defaultdict(list)
    for row in found:
        by_gtin14[row.gtin.zfill(14)].append(f"{row.code} ({row.gtin})")
    twice = {gtin: codes for gtin, codes in by_gtin14.items() if len(codes) > 1}
    if twice:
        listed = "; ".join(f"{gtin}: {', '.join(codes)}" for gtin, codes in sorted(twice.items()))
        raise RuntimeError(
            "products share a GTIN in different lengths (a GTIN-12/13 and its GTIN-14 form "
            f"are one product): {listed}. Remove or change the GTIN of all but one of each "
            "(e.g. `unitrace product` / PATCH /api/v1/products/CODE) and upgrade again"
        )
    for row in found:
        conn.execute(
            products.update().where(products.c.id == row.id).values(gtin14=row.gtin.zfill(14))
        )
    op.create_index("uq_products_gtin14", "products", ["gtin14"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_products_gtin14", table_name="products")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("gs1_company_prefix_length")
        batch_op.drop_column("gtin14")
