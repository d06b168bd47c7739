"""Alembic's environment: runs migrations on the engine ``por.store.db`` hands it."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import por.store.models  # noqa: F401 - defines the tables in SQLModel.metadata

config = context.config
engine = config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=SQLModel.metadata)
    context.run_migrations()
