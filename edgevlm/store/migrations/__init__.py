"""Alembic migrations of the results store: one chain for SQLite and PostgreSQL (see edgevlm.store.schema)."""
