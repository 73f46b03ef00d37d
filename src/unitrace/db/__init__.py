"""Storage: tables, engine and session handling, Alembic migrations."""
