"""Opening the store: an engine from a database URL, migrated to the newest schema.

``sqlite:///por.db`` (a file in the working directory) is the default; PostgreSQL is
``postgresql+psycopg://user@host/dbname``. The URL comes from ``--db`` or ``$POR_DATABASE_URL``.
A password is never taken from the command line (every user of the machine sees argv, and
shell history keeps it): it comes from ``$POR_DATABASE_URL``, from a file named by
``$POR_DATABASE_PASSWORD_FILE`` (mode 0600), or from ``~/.pgpass``/``$PGPASSWORD``; and no
message ever shows it (:func:`redact_url`).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from por.errors import InputError

DEFAULT_URL = "sqlite:///por.db"
MIGRATIONS = Path(__file__).parent / "migrations"
URL_ENV = "POR_DATABASE_URL"
PASSWORD_FILE_ENV = "POR_DATABASE_PASSWORD_FILE"  # noqa: S105 - a variable's name
_USERINFO = re.compile(r"(//[^/@:]*):[^/@]*@")


def redact_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``: the only form of a database
    URL that may reach a message or a log line."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _USERINFO.sub(r"\1:***@", url)


def has_password(url: str) -> bool:
    """True if ``url`` carries a password."""
    try:
        return make_url(url).password is not None
    except (ArgumentError, ValueError):
        return _USERINFO.search(url) is not None


def refuse_password_on_argv(url: str, option: str = "--db") -> None:
    """Refuse a database URL with a password given as a command-line option.

    Raises:
        InputError: the URL holds a password (the message shows it redacted).
    """
    if has_password(url):
        raise InputError(
            f"{option} {redact_url(url)}: a password on the command line is visible to every"
            f" user of this machine (ps, /proc, shell history); put the URL in ${URL_ENV}, or"
            f" the password alone in a file (mode 0600) named by ${PASSWORD_FILE_ENV}")


def _password_from_file(path: Path) -> str:
    try:
        mode = path.stat().st_mode
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path} (${PASSWORD_FILE_ENV}): cannot read the database password"
                         ) from e
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InputError(f"{path} (${PASSWORD_FILE_ENV}): readable by group or others; run:"
                         f" chmod 600 {path}")
    password = text.rstrip("\r\n")
    if not password:
        raise InputError(f"{path} (${PASSWORD_FILE_ENV}): the file is empty")
    return password


def _scrub(text: str, url: str) -> str:
    """``text`` without the URL's password, whatever a driver put in its message."""
    try:
        password = make_url(url).password
    except (ArgumentError, ValueError):
        password = None
    return text.replace(str(password), "***") if password else text


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def open_engine(url: str = DEFAULT_URL) -> Engine:
    """An engine for ``url``, with foreign keys enforced on SQLite.

    Raises:
        InputError: the URL is not one SQLAlchemy can use.
    """
    target: Any = url
    password_file = os.environ.get(PASSWORD_FILE_ENV)
    try:
        if password_file and not has_password(url):
            target = make_url(url).set(password=_password_from_file(Path(password_file)))
        engine = create_engine(target)
    except (SQLAlchemyError, ValueError, ImportError) as e:
        raise InputError(f"database URL {redact_url(url)} is not usable:"
                         f" {type(e).__name__}") from e
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
        url = engine.url.render_as_string(hide_password=False)
        raise InputError(_scrub(
            f"cannot migrate the database {engine.url!r}: {type(e).__name__}:"
            f" {getattr(e, 'orig', e)}", url)) from e


def open_store(url: str = DEFAULT_URL) -> Engine:
    """Open and migrate the store at ``url``.

    Raises:
        InputError: unusable URL or database.
    """
    engine = open_engine(url)
    migrate(engine)
    return engine
