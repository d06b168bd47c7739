"""The round secret: 32 random bytes from which every user's salt and the padding derive.

It lives in a file readable only by its owner; it is never logged, printed, passed on a
command line or stored in the database in plain text.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from por.errors import InputError
from verifier.files import create_private

SECRET_SIZE = 32


def load_secret(path: str | Path) -> bytes:
    """Read a round secret file (64 hex digits).

    Raises:
        InputError: missing, unreadable, readable by others, or not 64 hex digits.
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode
        text = path.read_text("ascii").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read the round secret") from e
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InputError(
            f"{path}: the round secret is readable by group or others; run: chmod 600 {path}"
        )
    if len(text) != 2 * SECRET_SIZE or any(c not in "0123456789abcdef" for c in text):
        raise InputError(f"{path}: expected {2 * SECRET_SIZE} lowercase hex digits")
    return bytes.fromhex(text)


def new_secret() -> bytes:
    """A new random round secret (in memory: :func:`create_secret` writes it)."""
    return secrets.token_bytes(SECRET_SIZE)


def secrets_dir() -> Path:
    """Where round secrets go by default: ``$XDG_DATA_HOME/por/secrets`` (else
    ``~/.local/share/por/secrets``), a private directory outside anything served."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "por" / "secrets"


def default_secret_path(round_id: str) -> Path:
    """The default file of a round's secret: ``ROUND.key`` in :func:`secrets_dir`.

    Round ids are ``[A-Za-z0-9._:-]`` starting with a letter or digit (spec §3): a safe
    file name.
    """
    return secrets_dir() / f"{round_id}.key"


def create_secret(path: str | Path, secret: bytes | None = None) -> bytes:
    """Write a round secret (new and random unless given) at ``path`` with mode 0600, in a
    directory created with mode 0700; never overwrite one. Written whole or not at all.

    Raises:
        InputError: the file already exists or cannot be created.
    """
    path = Path(path)
    secret = new_secret() if secret is None else secret
    try:
        if not path.parent.exists():
            path.parent.mkdir(mode=0o700, parents=True)
        create_private(path, secret.hex() + "\n")  # never overwrites a secret
    except FileExistsError as e:
        raise InputError(f"{path}: a round secret already exists; refusing to overwrite") from e
    except OSError as e:
        raise InputError(f"{path}: cannot create the round secret: {e.strerror}") from e
    return secret
