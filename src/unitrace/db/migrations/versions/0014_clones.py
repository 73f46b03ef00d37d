"""verify: clone alerts, one a code and rule (issue 16)

Revision ID: 0014_clones
Revises: 0013_owners
Create Date: 2026-12-03 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_clones"
down_revision = "0013_owners"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "clone_alerts",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("code_id", _ID, sa.ForeignKey("verify_codes.id"), nullable=False),
        sa.Column("unit_id", _ID, sa.ForeignKey("units.id"), nullable=False),
        sa.Column("product_id", _ID, sa.ForeignKey("products.id"), nullable=False),
        sa.Column("rule", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("first_at", _AT, nullable=False),
        sa.Column("last_at", _AT, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("region", sa.String(length=20), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=80), nullable=True),
        sa.Column("acknowledged_at", _AT, nullable=True),
        sa.Column("closed_by", sa.String(length=80), nullable=True),
        sa.Column("closed_at", _AT, nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.UniqueConstraint("code_id", "rule", name="uq_clone_alerts_code_rule"),
    )
    op.create_index("ix_clone_alerts_status", "clone_alerts", ["status", "last_at"])
    op.create_index("ix_clone_alerts_product", "clone_alerts", ["product_id"])


def downgrade() -> None:
    op.drop_index("ix_clone_alerts_product", table_name="clone_alerts")
    op.drop_index("ix_clone_alerts_status", table_name="clone_alerts")
    op.drop_table("clone_alerts")
