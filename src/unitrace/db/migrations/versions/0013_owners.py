"""verify: buyers' registrations, owners and ownership transfers (issue 16)

Revision ID: 0013_owners
Revises: 0013_regions
Create Date: 2026-12-02 21:25:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_owners"
down_revision = "0013_regions"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "buyer_registrations",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("unit_id", _ID, sa.ForeignKey("units.id"), nullable=False, unique=True),
        sa.Column("event_id", _ID, sa.ForeignKey("events.id"), nullable=False),
        sa.Column("purchase_date", sa.Date(), nullable=False),
        sa.Column("region", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("registered_at", _AT, nullable=False),
    )
    op.create_table(
        "owners",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("unit_id", _ID, sa.ForeignKey("units.id"), nullable=False),
        sa.Column("since", _AT, nullable=False),
        sa.Column("until", _AT, nullable=True),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("owner_key_hash", sa.String(length=64), nullable=False),
    )
    op.create_index("ix_owners_unit", "owners", ["unit_id"])
    op.create_index(
        "uq_owners_current",
        "owners",
        ["unit_id"],
        unique=True,
        postgresql_where=sa.text('"until" IS NULL'),
        sqlite_where=sa.text('"until" IS NULL'),
    )
    op.create_table(
        "ownership_transfers",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("unit_id", _ID, sa.ForeignKey("units.id"), nullable=False),
        sa.Column("from_owner", _ID, sa.ForeignKey("owners.id"), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("expires_at", _AT, nullable=False),
        sa.Column("used_at", _AT, nullable=True),
        sa.Column("to_owner", _ID, sa.ForeignKey("owners.id"), nullable=True),
    )
    op.create_index("ix_ownership_transfers_unit", "ownership_transfers", ["unit_id"])


def downgrade() -> None:
    op.drop_table("ownership_transfers")
    op.drop_table("owners")
    op.drop_table("buyer_registrations")
