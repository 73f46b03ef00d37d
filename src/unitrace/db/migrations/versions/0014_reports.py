"""verify: consumers' reports of where a product not found was bought (issue 16)

Revision ID: 0014_reports
Revises: 0014_clones
Create Date: 2026-12-03 10:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_reports"
down_revision = "0014_clones"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "counterfeit_reports",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("reported_at", _AT, nullable=False),
        sa.Column("shop", sa.String(length=200), nullable=False),
        sa.Column("place", sa.String(length=300), nullable=False),
        sa.Column("region", sa.String(length=20), nullable=False),
        sa.Column("bought_on", sa.Date(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("contact", sa.String(length=200), nullable=True),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
    )
    op.create_index("ix_counterfeit_reports_at", "counterfeit_reports", ["reported_at"])


def downgrade() -> None:
    op.drop_table("counterfeit_reports")
