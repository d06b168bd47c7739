"""Read one user's inclusion proof from a built round (spec §8.2), in O(log N) reads.

Leaves are sorted by commitment, so the commitment derived from the user id and the round
secret is the index: a binary search finds the leaf, and one read per level the path. No
index of users is held in memory at any size. :func:`prove_all` writes every user's proof,
streaming, in worker processes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc

from por.errors import InputError
from verifier.liabilities.mst import decode_amounts, derive_salt, user_commitment
from verifier.liabilities.proof import InclusionProof, verify_proof
from verifier.liabilities.rounddir import root_path, tree_path
from verifier.liabilities.summary import RootSummary
from verifier.liabilities.treefile import TreeFile


class Prover:
    """Proofs of one round, read from its tree file."""

    def __init__(self, out_dir: str | Path, secret: bytes) -> None:
        """Open the round built in ``out_dir``.

        Raises:
            InputError: the directory holds no tree or no root summary.
        """
        out = Path(out_dir)
        try:
            self.summary = RootSummary.from_json(root_path(out).read_bytes())
        except OSError as e:
            raise InputError(f"{out}: no root.json; build the round first") from e
        self.tree = TreeFile(tree_path(out))
        self.secret = secret
        self._root = self.tree.root_hash()

    def close(self) -> None:
        """Release the tree file."""
        self.tree.close()

    def prove(self, user_id: str, *, self_check: bool = True) -> InclusionProof:
        """The inclusion proof of ``user_id``; checked before it is returned.

        Raises:
            InputError: the user is not in this round.
            VerificationError: the proof does not verify against the published root (a
                corrupt tree file); nothing is handed out then.
        """
        lay = self.tree.layout
        salt = derive_salt(self.secret, lay.round_id, user_id)
        index = self.tree.find(user_commitment(lay.round_id, user_id, salt))
        if index is None:
            raise InputError(f"user {user_id!r} is not in round {lay.round_id}")
        _, amounts = self.tree.record(0, index)
        _, top_sums = self.tree.top()
        proof = InclusionProof(
            round_id=lay.round_id,
            assets=lay.assets,
            user_id=user_id,
            salt=salt,
            amounts=tuple(decode_amounts(amounts)),
            path=self.tree.path(index),
            root_hash=self._root,
            root_sums=tuple(decode_amounts(top_sums)),
            leaf_count=lay.leaf_count,
        )
        if self_check:
            verify_proof(proof, summary=self.summary)
        return proof


# ---------------------------------------------------------------------------- every user

PROVE_BATCH = 2048  # users per task: bounds the proofs a task holds before handing them on
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")


def proof_file_name(user_id: str) -> str:
    """The file of a user's proof in a proofs directory.

    The user id itself when it is a safe file name (1-128 of ``A-Z a-z 0-9 . _ -``, not
    starting with a dot), else ``_`` and the SHA-256 of its UTF-8 bytes in hex, so any id
    (spaces, slashes, 128 bytes of UTF-8) maps to one file, the same on every system.
    """
    if _SAFE_NAME.fullmatch(user_id):
        return f"{user_id}.json"
    return f"_{hashlib.sha256(user_id.encode()).hexdigest()}.json"


def _prove_batch(round_dir: str, secret: bytes, ids: list[str], out_dir: str | None
                 ) -> tuple[bytes, list[str]]:
    """Proofs of ``ids``: leaf indexes, and the proofs as JSON lines (or written as files).

    Each worker opens the tree file once (the mapping is shared by the page cache).
    """
    prover = _PROVERS.get(round_dir)
    if prover is None:
        prover = _PROVERS[round_dir] = Prover(round_dir, secret)
    indexes: list[int] = []
    lines: list[str] = []
    for user_id in ids:
        proof = prover.prove(user_id, self_check=False)
        # Spec §8.2: bit i of the leaf index is 1 when path[i] is on the left.
        indexes.append(sum(1 << i for i, step in enumerate(proof.path) if step.side == "left"))
        if out_dir is None:
            lines.append(json.dumps(proof.to_dict(), separators=(",", ":")))
        else:
            final = Path(out_dir) / proof_file_name(user_id)
            tmp = final.with_name(f".{final.name}.{os.getpid()}.partial")
            tmp.write_text(proof.to_json())
            os.replace(tmp, final)  # a user split over batches is written twice, identically
    return np.array(indexes, np.int64).tobytes(), lines


_PROVERS: dict[str, Prover] = {}


@dataclass(frozen=True)
class ProveAllResult:
    """What :func:`prove_all` wrote."""

    users: int
    seconds: float


def prove_all(round_dir: str | Path, secret: bytes, snapshot: str | Path, out: str | Path,
              *, workers: int | None = None, progress: Callable[[int], Any] | None = None,
              force: bool = False) -> ProveAllResult:
    """Write every user's proof: one JSON line each to ``out`` (``.jsonl``), or one file each
    into the directory ``out`` (named by :func:`proof_file_name`).

    The user ids come from the snapshot the round was built from (the tree holds only
    commitments). It is read in batches; each batch's ids go to worker processes, which
    derive each commitment, find the leaf and read the path from the tree file; a bitmap of
    the leaves already written (one bit per leaf: 16 MiB at 2^27 leaves) drops a user
    whose rows appear in several batches. Nothing holds more than a few batches of proofs.

    Everything is written under a temporary name beside ``out`` (a private directory, mode
    0700) and renamed into place at the end; on failure, SIGINT or SIGTERM it is removed
    and the workers are stopped, so ``out`` is either complete or untouched.

    Raises:
        InputError: a user of the snapshot is not in the round (another snapshot or secret),
            the snapshot cannot be read, or ``out`` exists (a file, or a non-empty
            directory) and ``force`` is not set.
        PorError: the proofs cannot be written (full disk); nothing is left behind.
    """
    import shutil
    import time
    import uuid

    from por.liabilities.build import (
        local_executor,
        make_parents,
        remove_empty_dirs,
        remove_stale,
        stop_on_signals,
        stopping,
        write_error,
    )
    from por.liabilities.snapshot import check_snapshot_file, estimate_rows, open_snapshot

    t0 = time.perf_counter()
    out_path = Path(out)
    jsonl = str(out).endswith(".jsonl")
    if out_path.exists() and not force and (jsonl or not out_path.is_dir()
                                            or any(out_path.iterdir())):
        raise InputError(f"{out_path}: already exists; pass --force to replace it")
    if out_path.exists() and jsonl == out_path.is_dir():
        raise InputError(f"{out_path}: exists and is a "
                         f"{'directory' if jsonl else 'file'}; expected a "
                         f"{'.jsonl file' if jsonl else 'directory'}")
    first = Prover(round_dir, secret)
    reader = open_snapshot(snapshot, first.tree.layout.assets)
    leaf_count = first.tree.layout.leaf_count
    first.close()
    check_snapshot_file(snapshot)
    n_workers = max(1, workers or os.cpu_count() or 1)
    bits = np.zeros((leaf_count + 7) // 8, np.uint8)
    written = 0
    in_flight: deque[Future[tuple[bytes, list[str]]]] = deque()
    fh = None

    def settle(fut: Future[tuple[bytes, list[str]]]) -> None:
        nonlocal written
        raw, lines = fut.result()
        idx = np.frombuffer(raw, np.int64)
        byte, bit = idx >> 3, (idx & 7).astype(np.uint8)
        fresh = (bits[byte] >> bit) & 1 == 0
        # Within one task a user appears once (ids are unique per batch).
        np.bitwise_or.at(bits, byte, (np.uint8(1) << bit).astype(np.uint8))
        written += int(fresh.sum())
        if fh is not None:
            fh.writelines(line + "\n" for line, f in zip(lines, fresh.tolist(), strict=True) if f)
        if progress:
            progress(len(idx))

    with stop_on_signals(), contextlib.ExitStack() as stack:
        try:
            created = make_parents(out_path.parent)
            stack.callback(remove_empty_dirs, created)
            remove_stale(out_path.parent, f".{out_path.name}.partial-")
            staging = (out_path.parent
                       / f".{out_path.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")
            staging.mkdir(mode=0o700)
            stack.callback(shutil.rmtree, staging, True)
            tmp_out = staging / out_path.name
            if jsonl:
                fh = stack.enter_context(open(tmp_out, "w", encoding="utf-8"))
            else:
                tmp_out.mkdir(mode=0o700)
            stack.callback(_close_provers)
            executor = stack.enter_context(stopping(local_executor(n_workers,
                                                                    estimate_rows(snapshot))))
            for batch in reader.batches():
                ids = pc.unique(batch.column("user_id")).to_pylist()
                for start in range(0, len(ids), PROVE_BATCH):
                    in_flight.append(executor.submit(
                        _prove_batch, str(round_dir), secret, ids[start : start + PROVE_BATCH],
                        None if jsonl else str(tmp_out)))
                    while len(in_flight) > 2 * n_workers or (in_flight and in_flight[0].done()):
                        settle(in_flight.popleft())
            while in_flight:
                settle(in_flight.popleft())
            if fh is not None:
                fh.close()
            _replace(tmp_out, out_path, staging)
            created.clear()
        except OSError as e:
            raise write_error(e, out_path) from e
        finally:
            for fut in in_flight:
                fut.cancel()
    return ProveAllResult(written, time.perf_counter() - t0)


def _close_provers() -> None:
    for prover in _PROVERS.values():
        prover.close()
    _PROVERS.clear()


def _replace(new: Path, out: Path, staging: Path) -> None:
    """Move ``new`` to ``out``; an existing ``out`` (allowed by --force, or an empty
    directory) is moved aside into ``staging`` first and removed with it."""
    if out.exists():
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        else:
            os.rename(out, staging / f"{out.name}.old")
    if new.is_dir():
        new.chmod(0o777 & ~_umask())  # as mkdir would have made it
    os.rename(new, out)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
