"""Writing files safely: whole-or-nothing replacement and private (0600) files; reading a
large file mapped (``mapped_read_only``).

The one place both sides write through (the verifier's trust state, the exchange's
drafts, keys, secrets and bundles), so that a crash or a full disk leaves the old file or
the new one, never half of one, and a file that holds a secret is never readable by others,
not even for an instant (it is created 0600, never chmod-ed after).
"""

from __future__ import annotations

import mmap
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    """Make the names in ``directory`` durable (after renames into it).

    Raises:
        OSError: the directory cannot be opened or synced.
    """
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes | str) -> None:
    """Replace ``path`` with ``data`` whole or not at all.

    The data goes to a temporary file beside ``path`` (created 0600 by ``mkstemp``, and
    ``path`` keeps that mode), is fsynced, and is renamed over ``path``; on any failure the
    temporary file is removed and ``path`` is as it was. A missing parent directory is
    created.

    Raises:
        OSError: the directory is not writable, or the disk is full.
    """
    body = data.encode() if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def create_private(path: Path, data: bytes | str) -> None:
    """Create ``path`` with mode 0600 holding ``data``; never replace an existing file.

    Written whole or not at all: the data goes to a new 0600 temporary name beside
    ``path``, is fsynced, and is hard-linked to ``path`` (which fails if ``path`` exists).

    Raises:
        FileExistsError: ``path`` exists.
        OSError: the directory is not writable, or the disk is full.
    """
    body = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def mapped_read_only(path: Path, what: str,
                     error: type[Exception]) -> Iterator[bytes | mmap.mmap]:
    """``path`` mapped read-only and unmapped on leaving: a private tree file (about 780 MB
    at 2^20 x 4) is read record by record, never whole. An empty file is ``b""`` (mmap
    refuses length 0), so it gets the parser's error like any other short file.

    Raises:
        error: it cannot be opened or mapped (the caller's kind of unreadable input:
            ``UnreadableInputError`` in the verifier, ``InputError`` on the exchange side).
    """
    try:
        with open(path, "rb") as fh:
            mapped = (mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
                      if os.fstat(fh.fileno()).st_size else None)
    except (OSError, ValueError) as e:
        raise error(f"{path}: cannot read the {what}: "
                    f"{getattr(e, 'strerror', None) or e}") from e
    if mapped is None:
        yield b""
        return
    try:
        yield mapped
    finally:
        mapped.close()
