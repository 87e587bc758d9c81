"""Alembic migrations of the cpm database (shipped in the package as cpm.migrations)."""
