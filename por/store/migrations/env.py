"""Alembic's environment: runs migrations on the engine ``por.store.db`` hands it."""

from __future__ import annotations

from alembic import context

from por.store.models import SQLModel

config = context.config
engine = config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=SQLModel.metadata)
    context.run_migrations()
