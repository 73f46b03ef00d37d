"""after-sales claims: one rule for all products a check, one uncleared stolen report a unit

Revision ID: 0010_claims
Revises: 0010_analytics
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_claims"
down_revision = "0010_analytics"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("claim_rules", schema=None) as batch_op:
        batch_op.create_index(
            "uq_claim_rules_global",
            ["check_name"],
            unique=True,
            postgresql_where=sa.text("product_id IS NULL"),
            sqlite_where=sa.text("product_id IS NULL"),
        )
    with op.batch_alter_table("stolen_reports", schema=None) as batch_op:
        batch_op.create_index(
            "uq_stolen_reports_open",
            ["unit_id"],
            unique=True,
            postgresql_where=sa.text("cleared_at IS NULL"),
            sqlite_where=sa.text("cleared_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("stolen_reports", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_stolen_reports_open",
            postgresql_where=sa.text("cleared_at IS NULL"),
            sqlite_where=sa.text("cleared_at IS NULL"),
        )
    with op.batch_alter_table("claim_rules", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_claim_rules_global",
            postgresql_where=sa.text("product_id IS NULL"),
            sqlite_where=sa.text("product_id IS NULL"),
        )
