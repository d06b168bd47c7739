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


def create_secret(path: str | Path) -> bytes:
    """Create a new random round secret at ``path`` with mode 0600; never overwrite one.

    Raises:
        InputError: the file already exists or cannot be created.
    """
    path = Path(path)
    secret = secrets.token_bytes(SECRET_SIZE)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as e:
        raise InputError(f"{path}: a round secret already exists; refusing to overwrite") from e
    except OSError as e:
        raise InputError(f"{path}: cannot create the round secret: {e.strerror}") from e
    with os.fdopen(fd, "w") as fh:
        fh.write(secret.hex() + "\n")
    return secret
