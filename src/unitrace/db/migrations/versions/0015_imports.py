"""interop: import jobs and saved column mappings (issue 17)

Revision ID: 0015_imports
Revises: 0015_epcis
Create Date: 2026-12-04 01:30:00
"""

from __future__ import annotations

revision = "0015_imports"
down_revision = "0015_epcis"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
