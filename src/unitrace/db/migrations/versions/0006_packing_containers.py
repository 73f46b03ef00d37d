"""packing: cartons and pallets

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 18:25:00.231787
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "containers",
        sa.Column("id", Id, nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("parent_id", Id, nullable=True),
        sa.Column("location_id", Id, nullable=True),
        sa.Column("holder_id", Id, nullable=True),
        sa.Column("created_event_id", sa.BigInteger(), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["holder_id"], ["parties.id"], name=op.f("fk_containers_holder_id_parties")
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_containers_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["containers.id"], name=op.f("fk_containers_parent_id_containers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_containers")),
        sa.UniqueConstraint("code", name=op.f("uq_containers_code")),
    )
    op.create_index(
        "ix_containers_parent",
        "containers",
        ["parent_id"],
        postgresql_where=sa.text("parent_id IS NOT NULL"),
        sqlite_where=sa.text("parent_id IS NOT NULL"),
    )
    op.create_table(
        "event_containers",
        sa.Column("container_id", Id, nullable=False),
        sa.Column("event_id", Id, nullable=False),
        sa.Column("role", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["container_id"],
            ["containers.id"],
            name=op.f("fk_event_containers_container_id_containers"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_event_containers_event_id_events")
        ),
        sa.PrimaryKeyConstraint("container_id", "event_id", name=op.f("pk_event_containers")),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_event_containers_event", "event_containers", ["event_id"])
    # A plain ADD COLUMN (no table rebuild): units can hold millions of rows.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE units ADD COLUMN container_id INTEGER "
            "CONSTRAINT fk_units_container_id_containers REFERENCES containers (id)"
        )
    else:
        op.add_column("units", sa.Column("container_id", Id, nullable=True))
        op.create_foreign_key(
            op.f("fk_units_container_id_containers"),
            "units",
            "containers",
            ["container_id"],
            ["id"],
        )
    op.create_index(
        "ix_units_container",
        "units",
        ["container_id"],
        postgresql_where=sa.text("container_id IS NOT NULL"),
        sqlite_where=sa.text("container_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_units_container", table_name="units")
    with op.batch_alter_table("units", schema=None) as batch_op:
        if op.get_bind().dialect.name != "sqlite":
            batch_op.drop_constraint("fk_units_container_id_containers", type_="foreignkey")
        batch_op.drop_column("container_id")
    op.drop_index("ix_event_containers_event", table_name="event_containers")
    op.drop_table("event_containers")
    op.drop_index("ix_containers_parent", table_name="containers")
    op.drop_table("containers")
