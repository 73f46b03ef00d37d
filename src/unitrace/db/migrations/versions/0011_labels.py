"""labels: label templates, one a product or the default

Revision ID: 0011_labels
Revises: 0011_ids
Create Date: 2026-12-02 16:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_labels"
down_revision = "0011_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "label_templates",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "product_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=80), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_label_templates_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_templates")),
        sa.UniqueConstraint("product_id", name="uq_label_templates_product"),
    )
    op.create_index(
        "uq_label_templates_default",
        "label_templates",
        ["is_default"],
        unique=True,
        postgresql_where=sa.text("product_id IS NULL"),
        sqlite_where=sa.text("product_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_label_templates_default", table_name="label_templates")
    op.drop_table("label_templates")
