"""Opening the store: an engine from a database URL, migrated to the newest schema.

``sqlite:///por.db`` (a file in the working directory) is the default; PostgreSQL is
``postgresql+psycopg://user@host/dbname``. The URL comes from ``--db`` or ``$POR_DATABASE_URL``;
a password belongs in ``~/.pgpass`` or ``$PGPASSWORD``, not in the URL (URLs end up in logs).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError

from por.errors import InputError

DEFAULT_URL = "sqlite:///por.db"
MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def open_engine(url: str = DEFAULT_URL) -> Engine:
    """An engine for ``url``, with foreign keys enforced on SQLite.

    Raises:
        InputError: the URL is not one SQLAlchemy can use.
    """
    try:
        engine = create_engine(url)
    except (SQLAlchemyError, ValueError, ImportError) as e:
        raise InputError(f"database URL is not usable: {type(e).__name__}") from e
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config(engine: Engine) -> Config:
    """Alembic's configuration for ``engine``, using the migrations shipped in the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent).

    Raises:
        InputError: the database cannot be reached or migrated.
    """
    try:
        command.upgrade(alembic_config(engine), "head")
    except SQLAlchemyError as e:
        raise InputError(
            f"cannot migrate the database: {type(e).__name__}: {getattr(e, 'orig', e)}"
        ) from e


def open_store(url: str = DEFAULT_URL) -> Engine:
    """Open and migrate the store at ``url``.

    Raises:
        InputError: unusable URL or database.
    """
    engine = open_engine(url)
    migrate(engine)
    return engine
