"""interop: webhook subscriptions, outbox and delivery log (issue 17)

Revision ID: 0015_webhooks
Revises: 0015_imports
Create Date: 2026-12-04 01:30:00
"""

from __future__ import annotations

revision = "0015_webhooks"
down_revision = "0015_imports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
