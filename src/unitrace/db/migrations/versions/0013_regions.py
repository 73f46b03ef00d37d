"""verify: address ranges → region

Revision ID: 0013_regions
Revises: 0012_verify
Create Date: 2026-12-02 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_regions"
down_revision = "0012_verify"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ip_regions",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("lo", sa.String(length=32), nullable=False),
        sa.Column("hi", sa.String(length=32), nullable=False),
        sa.Column("region", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
    )
    op.create_index("ix_ip_regions_lo", "ip_regions", ["lo"])


def downgrade() -> None:
    op.drop_table("ip_regions")
