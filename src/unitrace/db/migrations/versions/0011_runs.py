"""labels: print runs and the units of a run from a list of serials

Revision ID: 0011_runs
Revises: 0011_labels
Create Date: 2026-12-02 16:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_runs"
down_revision = "0011_labels"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "label_runs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("template", sa.String(length=60), nullable=False),
        sa.Column("format", sa.String(length=4), nullable=False),
        sa.Column("dpi", sa.SmallInteger(), nullable=True),
        sa.Column("source_kind", sa.String(length=12), nullable=False),
        sa.Column("source", sa.JSON(), nullable=False),
        sa.Column("product_id", _ID, nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("file", sa.String(length=200), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reprint_of", _ID, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_label_runs_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["reprint_of"], ["label_runs.id"], name=op.f("fk_label_runs_reprint_of_label_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_runs")),
    )
    op.create_index("ix_label_runs_created", "label_runs", ["created_at"], unique=False)
    op.create_table(
        "label_run_units",
        sa.Column("run_id", _ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("unit_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["label_runs.id"], name=op.f("fk_label_run_units_run_id_label_runs")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_label_run_units_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("run_id", "position", name=op.f("pk_label_run_units")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("label_run_units")
    op.drop_index("ix_label_runs_created", table_name="label_runs")
    op.drop_table("label_runs")
