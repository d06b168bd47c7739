"""Witness co-signatures into a published bundle (docs/spec.md §14.3): ``por witness add``.

A witness runs ``por-verify log witness`` on the bundle's ``tree-head.json`` and hands back
a co-signature file; the exchange drops it into the bundle as ``witnesses/<key id>.json``.
Only co-signatures of the bundle's exact tree head are accepted (their signatures are
checked by whoever knows the witness's key: ``por-verify bundle --witness-key``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import click

from por.errors import InputError
from verifier.log.sth import SignedTreeHead
from verifier.log.witness import WITNESS_DIR, Cosignature, head_payload_hash

TREE_HEAD_FILE = "tree-head.json"  # spec §13.4


def add_cosignatures(bundle: Path, cosignature_files: Sequence[Path]) -> list[str]:
    """Copy co-signature files into ``bundle/witnesses/``, each named by its witness key id.

    Every file is parsed and must name the bundle's tree head (SHA-256 of its exact payload);
    each is written to a temporary name, fsynced and renamed into place.

    Returns:
        The bundle paths written.

    Raises:
        InputError: an unreadable file, a malformed co-signature, or one of another head.
    """
    try:
        head = SignedTreeHead.from_json((bundle / TREE_HEAD_FILE).read_bytes(), TREE_HEAD_FILE)
    except OSError as e:
        raise InputError(f"{bundle}: not a bundle ({TREE_HEAD_FILE}: {e.strerror})") from e
    want = head_payload_hash(head)
    parsed: list[tuple[Cosignature, bytes]] = []
    for path in cosignature_files:
        try:
            data = path.read_bytes()
        except OSError as e:
            raise InputError(f"{path}: cannot read: {e.strerror}") from e
        cosig = Cosignature.from_json(data, str(path))
        if cosig.tree_head_sha256 != want:
            raise InputError(
                f"{path}: co-signs another tree head (payload SHA-256"
                f" {cosig.tree_head_sha256.hex()}), not this bundle's ({want.hex()},"
                f" size {head.head.tree_size})"
            )
        parsed.append((cosig, data))
    folder = bundle / WITNESS_DIR
    written = []
    try:
        folder.mkdir(exist_ok=True)
        for cosig, data in parsed:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".cosignature-")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, folder / f"{cosig.witness_key_id}.json")
            written.append(f"{WITNESS_DIR}/{cosig.witness_key_id}.json")
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as e:
        raise InputError(f"{folder}: cannot write: {e.strerror}") from e
    return written


@click.group("witness")
def witness_group() -> None:
    """Witnesses' co-signatures of the log's tree heads (docs/spec.md §14)."""


@witness_group.command("add")
@click.argument("bundle", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.argument("cosignatures", nargs=-1, required=True,
                type=click.Path(path_type=Path, dir_okay=False))
def add_cmd(bundle: Path, cosignatures: tuple[Path, ...]) -> None:
    """Put witnesses' co-signature files (from `por-verify log witness`) into BUNDLE.

    Re-publishing a round rewrites its bundle from the store: add the co-signatures again.
    """
    from por.cli import handle_errors

    @handle_errors
    def run() -> None:
        for name in add_cosignatures(bundle, cosignatures):
            click.echo(f"added {bundle / name}")

    run()
