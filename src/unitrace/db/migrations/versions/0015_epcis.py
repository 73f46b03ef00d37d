"""interop: EPCIS 2.0 repository and capture jobs (issue 17)

Revision ID: 0015_epcis
Revises: 0014_reports
Create Date: 2026-12-04 01:30:00
"""

from __future__ import annotations

revision = "0015_epcis"
down_revision = "0014_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
