"""verify: verification settings per product, codes per unit, verifications

Revision ID: 0012_verify
Revises: 0011_runs
Create Date: 2026-12-02 20:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_verify"
down_revision = "0011_runs"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "verify_settings",
        sa.Column("product_id", _ID, sa.ForeignKey("products.id"), primary_key=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("pin", sa.Boolean(), nullable=False),
        sa.Column("ownership", sa.Boolean(), nullable=False),
        sa.Column("max_checks", sa.Integer(), nullable=False),
        sa.Column("max_devices", sa.Integer(), nullable=False),
        sa.Column("max_speed_kmh", sa.Integer(), nullable=False),
        sa.Column("picture", sa.String(length=200), nullable=True),
        sa.Column("updated_at", _AT, nullable=False),
        sa.Column("updated_by", sa.String(length=80), nullable=False),
    )
    op.create_table(
        "verify_codes",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("unit_id", _ID, sa.ForeignKey("units.id"), nullable=False, unique=True),
        sa.Column("code", sa.String(length=32), nullable=False, unique=True),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("pin_hash", sa.String(length=128), nullable=True),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("devices", sa.Integer(), nullable=False),
        sa.Column("first_at", _AT, nullable=True),
        sa.Column("first_region", sa.String(length=20), nullable=True),
        sa.Column("last_at", _AT, nullable=True),
        sa.Column("last_region", sa.String(length=20), nullable=True),
        sa.Column("compromised_at", _AT, nullable=True),
        sa.Column("compromised_by", sa.String(length=80), nullable=True),
        sa.Column("compromised_reason", sa.Text(), nullable=True),
    )
    op.create_table(
        "verifications",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("code_id", _ID, sa.ForeignKey("verify_codes.id"), nullable=False),
        sa.Column("unit_id", _ID, sa.ForeignKey("units.id"), nullable=False),
        sa.Column("event_id", _ID, sa.ForeignKey("events.id"), nullable=True),
        sa.Column("at", _AT, nullable=False),
        sa.Column("region", sa.String(length=20), nullable=True),
        sa.Column("region_source", sa.String(length=8), nullable=True),
        sa.Column("device", sa.String(length=40), nullable=False),
        sa.Column("address_hash", sa.String(length=64), nullable=False),
        sa.Column("pin_ok", sa.Boolean(), nullable=True),
    )
    op.create_index("ix_verifications_code", "verifications", ["code_id", "at"])
    op.create_index("ix_verifications_code_device", "verifications", ["code_id", "device"])
    op.create_index("ix_verifications_at", "verifications", ["at"])


def downgrade() -> None:
    op.drop_table("verifications")
    op.drop_table("verify_codes")
    op.drop_table("verify_settings")
