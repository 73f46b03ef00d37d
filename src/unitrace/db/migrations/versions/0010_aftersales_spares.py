"""after-sales, spares: the requests a unit arrived for, by unit (is a spare reserved?)

Revision ID: 0010_spares
Revises: 0010_claims
Create Date: 2026-12-02 08:05:00
"""

from __future__ import annotations

from alembic import op

revision = "0010_spares"
down_revision = "0010_claims"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_spare_request_units_unit", "spare_request_units", ["unit_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_spare_request_units_unit", table_name="spare_request_units")
