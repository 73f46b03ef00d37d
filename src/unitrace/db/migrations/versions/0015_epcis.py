"""interop: EPCIS 2.0 repository and capture jobs (issue 17)

Revision ID: 0015_epcis
Revises: 0014_reports
Create Date: 2026-12-04 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_epcis"
down_revision = "0014_reports"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "epcis_captures",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("behaviour", sa.String(length=12), nullable=False),
        sa.Column("events_total", sa.Integer(), nullable=False),
        sa.Column("captured", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("ledger_events", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("finished_at", _AT, nullable=True),
    )
    op.create_table(
        "epcis_events",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("hash_id", sa.String(length=120), nullable=False),
        sa.Column("event_id", sa.String(length=400), nullable=True),
        sa.Column("event_type", sa.String(length=30), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=True),
        sa.Column("biz_step", sa.String(length=400), nullable=True),
        sa.Column("disposition", sa.String(length=400), nullable=True),
        sa.Column("read_point", sa.String(length=400), nullable=True),
        sa.Column("biz_location", sa.String(length=400), nullable=True),
        sa.Column("event_time", _AT, nullable=False),
        sa.Column("record_time", _AT, nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("ledger_event_id", _ID, sa.ForeignKey("events.id"), nullable=True),
        sa.Column("capture_id", _ID, sa.ForeignKey("epcis_captures.id"), nullable=False),
        sa.UniqueConstraint("hash_id", name="uq_epcis_events_hash_id"),
    )
    op.create_index("ix_epcis_events_event_id", "epcis_events", ["event_id"])
    op.create_index("ix_epcis_events_record", "epcis_events", ["record_time", "id"])
    op.create_index("ix_epcis_events_time", "epcis_events", ["event_time"])
    op.create_index("ix_epcis_events_type_time", "epcis_events", ["event_type", "event_time"])
    op.create_index("ix_epcis_events_capture", "epcis_events", ["capture_id"])
    where = sa.text("ledger_event_id IS NOT NULL")
    op.create_index(
        "ix_epcis_events_ledger",
        "epcis_events",
        ["ledger_event_id"],
        postgresql_where=where,
        sqlite_where=where,
    )
    op.create_table(
        "epcis_index",
        sa.Column("kind", sa.String(length=200), primary_key=True),
        sa.Column("value", sa.String(length=400), primary_key=True),
        sa.Column("event_pk", _ID, sa.ForeignKey("epcis_events.id"), primary_key=True),
    )
    op.create_index("ix_epcis_index_event", "epcis_index", ["event_pk"])


def downgrade() -> None:
    op.drop_index("ix_epcis_index_event", table_name="epcis_index")
    op.drop_table("epcis_index")
    for name in ("ledger", "capture", "type_time", "time", "record", "event_id"):
        op.drop_index(f"ix_epcis_events_{name}", table_name="epcis_events")
    op.drop_table("epcis_events")
    op.drop_table("epcis_captures")
