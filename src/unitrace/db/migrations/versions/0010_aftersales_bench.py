"""after-sales (bench): events by their parent unit, for the parts taken out of a unit

Revision ID: 0010_bench
Revises: 0010_spares
Create Date: 2026-12-02 08:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_bench"
down_revision = "0010_spares"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_events_parent_unit",
        "events",
        ["parent_unit_id", "type"],
        unique=False,
        postgresql_where=sa.text("parent_unit_id IS NOT NULL"),
        sqlite_where=sa.text("parent_unit_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_events_parent_unit", table_name="events")
