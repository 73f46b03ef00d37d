from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from unitrace.db import migrate
from unitrace.db.engine import Database
from unitrace.db.tables import metadata


def test_migrations_build_exactly_the_table_metadata(db: Database) -> None:
    assert migrate.current_revision(db) == migrate.head_revision(db)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                metadata)  # fmt: skip
    assert diff == []


def test_upgrade_is_repeatable(db: Database) -> None:
    migrate.upgrade(db)  # already at head: nothing to do, no error
    assert migrate.current_revision(db) == migrate.head_revision(db)
