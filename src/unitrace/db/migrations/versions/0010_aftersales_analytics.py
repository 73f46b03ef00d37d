"""after-sales figures: cases by opening time, cost lines by their time (the warranty report)

Revision ID: 0010_analytics
Revises: 0009
Create Date: 2026-12-02 08:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0010_analytics"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_service_cases_opened", "service_cases", ["opened_at"])
    op.create_index("ix_case_costs_at", "case_costs", ["at"])


def downgrade() -> None:
    op.drop_index("ix_case_costs_at", table_name="case_costs")
    op.drop_index("ix_service_cases_opened", table_name="service_cases")
