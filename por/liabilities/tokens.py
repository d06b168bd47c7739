"""Proof tokens: the random code an exchange gives each user per round, and the sealed index
that lets a server answer ``GET /api/v1/proofs/{token}`` without holding the round secret.

A token is 128 random bits, written as 32 lowercase hex digits. It is never stored: the
index ``proof-tokens.bin`` (in the round's directory) holds, per user, only

* ``token_id = SHA-256(TAG_TOKEN_ID ‖ token)``, the lookup key, and
* the user's id, salt and leaf index sealed with AES-256-GCM under
  ``SHA-256(TAG_TOKEN_KEY ‖ token)``,

so a copy of the index (or of a backup) tells nothing about which user is which leaf, and
nobody can turn it back into tokens. Each key seals exactly one record, so a fixed nonce is
safe. Records are fixed-width and sorted by ``token_id``: a lookup is a binary search of an
mmap. The proof itself is read from ``tree.bin`` at request time (spec §8.3), checked
against the round's root before it leaves.

File layout (big-endian):

| offset | bytes |
|---|---|
| 0 | magic ``PORTOK\\0\\1`` |
| 8 | ``u64(count)`` |
| 16 | ``count`` records of ``token_id (32) ‖ sealed (186)``, ascending by ``token_id`` |

The sealed plaintext is ``u64(leaf_index) ‖ salt (32) ‖ u16(len(user_id)) ‖ user_id``
padded with zero bytes to 128 bytes of user id (170 bytes; 186 with the GCM tag).

A private round's index (spec §16.16) is version 2, magic ``PORTOK\\0\\2``: the same
records (sealed exactly as in version 1) after a 32-byte **serving key**
``S = HMAC(K, TAG_SERVING_KEY ‖ str(round))`` at offset 16. The server makes a private
proof on demand from ``tree.bin`` with range-proof nonces ``HMAC(S, TAG_PRV_NONCE ‖ …)``:
S reveals no more than ``tree.bin`` already holds (every opening), and nothing of K.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import itertools
import mmap
import os
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from por.errors import InputError, UsageError
from verifier.errors import FormatError, VerificationError
from verifier.files import create_private, fsync_dir, write_atomic
from verifier.liabilities.margin_round import MarginRootSummary
from verifier.liabilities.mst import (
    HASH_SIZE,
    MAX_USER_ID_BYTES,
    decode_positions,
    derive_salt,
    encode_str,
    user_commitment,
    user_id_bytes,
)
from verifier.liabilities.proof import (
    InclusionProof,
    MarginInclusionProof,
    verify_margin_proof,
)
from verifier.liabilities.risk import RiskParams
from verifier.liabilities.rounddir import TOKEN_FILE as TOKEN_FILE  # re-exported
from verifier.liabilities.rounddir import risk_path, root_path, tree_path
from verifier.liabilities.summary import RootSummary
from verifier.liabilities.treefile import TreeFile

if TYPE_CHECKING:
    from verifier.private.proof import PrivateRoot
    from verifier.private.treefile import PrivateTreeFile

MAGIC = b"PORTOK\x00\x01"
HEADER_SIZE = len(MAGIC) + 8
# Version 2: a private round's index, with its serving key after the count (spec §16.16).
MAGIC_PRIVATE = b"PORTOK\x00\x02"
SERVING_KEY_SIZE = 32
PRIVATE_HEADER_SIZE = HEADER_SIZE + SERVING_KEY_SIZE
# The serving key's derivation from K (spec §16.16): a tag no other derivation from K uses
# (§4, §5, §16.3, §16.5 each have their own), so S is none of K's blindings, salts or nonces.
TAG_SERVING_KEY = b"POR-PRV-V1:SRVK:"
# The magic of a private round's tree.bin (spec §16.10): how issue-tokens tells the schemes apart.
_PRIVATE_TREE_MAGIC = b"PORPRV\x00\x01"
TOKEN_BYTES = 16  # 128 random bits
# Domain separation between the lookup key and the sealing key, 16 ASCII bytes each.
TAG_TOKEN_ID = b"POR-TOKEN-V1:ID:"
TAG_TOKEN_KEY = b"POR-TOKEN-V1:KEY"
PLAIN_SIZE = 8 + HASH_SIZE + 2 + MAX_USER_ID_BYTES
SEALED_SIZE = PLAIN_SIZE + 16
RECORD_SIZE = HASH_SIZE + SEALED_SIZE
# One key seals one record, so the nonce never repeats under a key (NIST SP 800-38D §8).
_NONCE = bytes(12)
# Sealed under a key nobody holds: an unknown token opens it and fails, as a wrong one does.
_DECOY = bytes(SEALED_SIZE)


def new_token() -> str:
    """A fresh random token: 128 bits from the OS, as 32 lowercase hex digits."""
    return secrets.token_hex(TOKEN_BYTES)


def token_id(token: str) -> bytes:
    """The lookup key of ``token`` (what the index stores in its place)."""
    return hashlib.sha256(TAG_TOKEN_ID + token.encode("utf-8", "surrogatepass")).digest()


def _token_key(token: str) -> bytes:
    return hashlib.sha256(TAG_TOKEN_KEY + token.encode("utf-8", "surrogatepass")).digest()


@dataclass(frozen=True)
class TokenRecord:
    """What a token opens: the user, their salt, and their leaf."""

    user_id: str
    salt: bytes
    leaf_index: int


def serving_key(secret: bytes, round_id: str) -> bytes:
    """A private round's serving key S = HMAC(K, TAG_SERVING_KEY ‖ str(round)) (spec §16.16)."""
    return hmac.digest(secret, TAG_SERVING_KEY + encode_str(round_id.encode()), "sha256")


def serving_nonce(key: bytes, round_id: str, level: int, index: int, asset_index: int) -> bytes:
    """A served range proof's nonce: HMAC(S, TAG_PRV_NONCE ‖ str(round) ‖ u8(level) ‖
    u64(index) ‖ u8(j)), §16.5's message under S instead of K (spec §16.16)."""
    from verifier.private.scheme import range_nonce

    return range_nonce(key, round_id, level, index, asset_index)


class ServingUnavailable(VerificationError):
    """This server cannot make the proof (a private round without the ``[private]`` extra):
    nothing is handed out."""


def _seal(token: str, record: TokenRecord) -> bytes:
    raw = user_id_bytes(record.user_id)
    plain = (
        record.leaf_index.to_bytes(8, "big")
        + record.salt
        + len(raw).to_bytes(2, "big")
        + raw.ljust(MAX_USER_ID_BYTES, b"\x00")
    )
    return AESGCM(_token_key(token)).encrypt(_NONCE, plain, MAGIC)


def _open(token: str, sealed: bytes) -> TokenRecord | None:
    try:
        plain = AESGCM(_token_key(token)).decrypt(_NONCE, sealed, MAGIC)
    except InvalidTag:
        return None
    length = int.from_bytes(plain[40:42], "big")
    return TokenRecord(
        user_id=plain[42 : 42 + length].decode("utf-8"),
        salt=plain[8:40],
        leaf_index=int.from_bytes(plain[:8], "big"),
    )


def read_user_ids(path: Path) -> list[str]:
    """Read a users file: one user id per line (UTF-8), blank lines ignored.

    Raises:
        InputError: unreadable, not UTF-8, an invalid user id (with its line), or a repeat.
    """
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read the users file: {e}") from e
    users: list[str] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        user = line.rstrip("\r")
        if not user:
            continue
        try:
            user_id_bytes(user)
        except FormatError as e:
            raise InputError(f"{path} line {number}: {e}") from e
        if user in seen:
            raise InputError(f"{path} line {number}: user {user!r} is listed twice")
        seen.add(user)
        users.append(user)
    if not users:
        raise InputError(f"{path}: no user ids")
    return users


def issue_tokens(
    round_dir: Path, secret: bytes, users: Iterable[str]
) -> list[tuple[str, str]]:
    """Give each user of the round a new token and write the sealed index.

    The index is replaced whole (:func:`verifier.files.write_atomic`, mode 0600), so a
    server never reads half of one; issuing again replaces every token of the round (the
    old ones stop working).

    Returns:
        ``(user_id, token)`` pairs, in the order given: for the exchange's account system
        only (every token opens that user's proof).

    Raises:
        InputError: a user is not in the round, or the directory holds no tree.
    """
    try:
        with open(tree_path(round_dir), "rb") as fh:
            private = fh.read(len(_PRIVATE_TREE_MAGIC)) == _PRIVATE_TREE_MAGIC
    except OSError as e:
        raise InputError(f"{round_dir}: no usable tree.bin: {e.strerror}") from e
    if private:
        records, pairs, round_id = _private_records(round_dir, secret, users)
        head = MAGIC_PRIVATE + len(records).to_bytes(8, "big") + serving_key(secret, round_id)
    else:
        records, pairs = _spot_records(round_dir, secret, users)
        head = MAGIC + len(records).to_bytes(8, "big")
    records.sort()
    for a, b in itertools.pairwise(records):
        if a[:HASH_SIZE] == b[:HASH_SIZE]:  # 2^-128 per pair; refuse rather than shadow one
            raise UsageError("two tokens collided; issue again")
    write_atomic(round_dir / TOKEN_FILE, head + b"".join(records))
    fsync_dir(round_dir)
    return pairs


def _sealed(round_id: str, secret: bytes, users: Iterable[str],
            find: Callable[[bytes], int | None]) -> tuple[list[bytes], list[tuple[str, str]]]:
    """Each user's fresh token and its sealed record, the leaf found by the user's
    commitment (``find``: the tree file's index of a commitment, or None)."""
    pairs: list[tuple[str, str]] = []
    records: list[bytes] = []
    for user in users:
        salt = derive_salt(secret, round_id, user)
        index = find(user_commitment(round_id, user, salt))
        if index is None:
            raise InputError(f"user {user!r} is not in round {round_id} (or the round secret"
                             " is not this round's)")
        token = new_token()
        records.append(token_id(token) + _seal(token, TokenRecord(user, salt, index)))
        pairs.append((user, token))
    return records, pairs


def _spot_records(round_dir: Path, secret: bytes, users: Iterable[str]
                  ) -> tuple[list[bytes], list[tuple[str, str]]]:
    try:
        tree = TreeFile(tree_path(round_dir))
    except FormatError as e:
        raise InputError(f"{round_dir}: no usable tree.bin: {e}") from e
    try:
        return _sealed(tree.layout.round_id, secret, users, tree.find)
    finally:
        tree.close()


def _private_records(round_dir: Path, secret: bytes, users: Iterable[str]
                     ) -> tuple[list[bytes], list[tuple[str, str]], str]:
    from por.liabilities.private import read_round

    root, tree = read_round(round_dir)
    records, pairs = _sealed(root.round_id, secret, users, tree.find)
    return records, pairs, root.round_id


def write_token_csv(path: Path, pairs: list[tuple[str, str]]) -> None:
    """Write ``user_id,token`` lines to a new file of mode 0600 (it holds every token).

    Raises:
        InputError: the file exists or cannot be created.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["user_id", "token"])
    writer.writerows(pairs)
    try:
        create_private(path, buffer.getvalue())
    except FileExistsError as e:
        raise InputError(f"{path}: already exists; refusing to overwrite issued tokens") from e
    except OSError as e:
        raise InputError(f"{path}: cannot create: {e.strerror}") from e


class TokenIndex:
    """A round's sealed token index, opened read-only, with the round's tree for proofs."""

    def __init__(self, round_dir: Path) -> None:
        """Open ``round_dir``'s token index, tree file and root summary.

        Raises:
            InputError: a file is missing, truncated or not in the expected format.
        """
        path = round_dir / TOKEN_FILE
        try:
            with open(path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                self._mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else None
        except OSError as e:
            raise InputError(f"{path}: cannot read: {e.strerror}") from e
        magic = self._mm[: len(MAGIC)] if self._mm is not None else b""
        if self._mm is None or size < HEADER_SIZE or magic not in (MAGIC, MAGIC_PRIVATE):
            raise InputError(f"{path}: not a proof token index (bad magic)")
        self._records_at = PRIVATE_HEADER_SIZE if magic == MAGIC_PRIVATE else HEADER_SIZE
        self.count = int.from_bytes(self._mm[len(MAGIC) : HEADER_SIZE], "big")
        if size != self._records_at + self.count * RECORD_SIZE:
            raise InputError(
                f"{path}: {size} bytes, but {self.count} records need"
                f" {self._records_at + self.count * RECORD_SIZE}"
            )
        # A private round (spec §16.16): its root, tree file and serving key; the proof is
        # made per request.
        self._private: tuple[PrivateRoot, PrivateTreeFile, bytes] | None = None
        if magic == MAGIC_PRIVATE:
            self._open_private(round_dir)
            return
        # A margin round (spec §15.10) also needs its risk.json, the file its tree binds:
        # a margin proof embeds the risk parameters.
        self.risk: RiskParams | None = None
        try:
            self.tree = TreeFile(tree_path(round_dir))
            raw = root_path(round_dir).read_bytes()
            self.summary: RootSummary | MarginRootSummary
            if self.tree.layout.risk_hash is None:
                self.summary = RootSummary.from_json(raw)
            else:
                self.summary = MarginRootSummary.from_json(raw)
                self.risk = RiskParams.from_json(risk_path(round_dir).read_bytes())
        except (OSError, FormatError) as e:
            raise InputError(f"{round_dir}: the round's root.json, risk.json or tree.bin: "
                             f"{e}") from e
        if self.tree.root_hash() != self.summary.root_hash:
            raise InputError(f"{round_dir}: tree.bin does not lead to root.json's root")
        if self.risk is not None and self.risk.hash != self.tree.layout.risk_hash:
            raise InputError(f"{round_dir}: risk.json is not the file the tree binds")

    def _open_private(self, round_dir: Path) -> None:
        from por.liabilities.private import read_round

        assert self._mm is not None
        try:
            root, tree = read_round(round_dir)
        except FormatError as e:  # InputError is one
            raise InputError(f"{round_dir}: the round's root.json or tree.bin: {e}") from e
        key = bytes(self._mm[HEADER_SIZE:PRIVATE_HEADER_SIZE])
        self._private = (root, tree, key)

    @property
    def private(self) -> bool:
        """True for a private round's index (spec §16.16): its proofs are made per request."""
        return self._private is not None

    def close(self) -> None:
        """Release the mappings."""
        if self._mm is not None:
            self._mm.close()
        if self._private is None:
            self.tree.close()

    def _sealed(self, key: bytes) -> bytes | None:
        assert self._mm is not None
        lo, hi = 0, self.count
        while lo < hi:
            mid = (lo + hi) // 2
            off = self._records_at + mid * RECORD_SIZE
            probe = self._mm[off : off + HASH_SIZE]
            if probe < key:
                lo = mid + 1
            else:
                hi = mid
        off = self._records_at + lo * RECORD_SIZE
        if lo < self.count and hmac.compare_digest(self._mm[off : off + HASH_SIZE], key):
            return self._mm[off + HASH_SIZE : off + RECORD_SIZE]
        return None

    def lookup(self, token: str) -> TokenRecord | None:
        """The record ``token`` opens, or None.

        A token of any shape goes through the same steps (hash, search, open): an unknown
        token opens a decoy record and fails exactly as a wrong one does.
        """
        sealed = self._sealed(token_id(token))
        return _open(token, sealed if sealed is not None else _DECOY)

    def proof_text(self, record: TokenRecord) -> bytes:
        """The exact bytes ``por liabilities prove`` writes for ``record``'s user, checked
        against the round's root before they are returned: in a spot round by the one
        helper that makes a served proof from the tree file
        (:func:`por.liabilities.prove.served_proof_text`), in a margin round by
        :meth:`proof`.

        Raises:
            VerificationError: the index and the tree disagree (a corrupt or replaced file):
                nothing is handed out then.
            ServingUnavailable: a private round on a server without the ``[private]`` extra.
        """
        if self._private is not None:
            return self._private_proof_text(record)
        if isinstance(self.summary, MarginRootSummary):
            return self.proof(record).to_json().encode()
        from por.liabilities.prove import served_proof_text  # numpy: only when serving

        return served_proof_text(self.tree, self.summary, record.user_id, record.salt,
                                 record.leaf_index)

    def _private_proof_text(self, record: TokenRecord) -> bytes:
        """A private round's proof (spec §16.16): made now from tree.bin with the serving
        key's nonces, parsed back from its bytes and checked by the verifier's own check
        against the published root.json before it is returned. CPU-heavy (levels × assets
        range proofs): the server runs it off its event loop."""
        assert self._private is not None
        root, tree, key = self._private
        try:
            from por.liabilities.private import prove_leaf
            from verifier.private.proof import PrivateProof, verify_private_proof

            if not 0 <= record.leaf_index < tree.leaf_count or tree.user_commitment(
                record.leaf_index
            ) != user_commitment(root.round_id, record.user_id, record.salt):
                raise VerificationError("the token index does not match the round's tree")
            data = prove_leaf(
                root, tree, record.user_id, record.salt, record.leaf_index,
                lambda level, index, j: serving_nonce(key, root.round_id, level, index, j),
            ).to_bytes()
            verify_private_proof(PrivateProof.from_json(data), expected_root=root.root_hash,
                                 summary=root)
        except ModuleNotFoundError as e:  # fail closed: no library, no proof
            raise ServingUnavailable(
                f"this server cannot make private proofs: {e.name} is not installed (the"
                " [private] extra, spec §16.16)") from e
        return data

    def proof(self, record: TokenRecord) -> InclusionProof | MarginInclusionProof:
        """The inclusion proof of ``record``'s leaf (a margin proof in a margin round),
        checked against the round's root (a spot proof is :meth:`proof_text`'s, parsed).

        Raises:
            VerificationError: the index and the tree disagree (a corrupt or replaced file):
                nothing is handed out then.
        """
        if self._private is not None:
            raise UsageError("a private round's proof is proof_text's (spec §16.16)")
        if not isinstance(self.summary, MarginRootSummary):
            return InclusionProof.from_json(self.proof_text(record))
        lay = self.tree.layout
        if not 0 <= record.leaf_index < lay.leaf_count or self.tree.commitment(
            record.leaf_index
        ) != user_commitment(lay.round_id, record.user_id, record.salt):
            raise VerificationError("the token index does not match the round's tree")
        _, amounts = self.tree.record(0, record.leaf_index)
        _, top_sums = self.tree.top()
        assert self.risk is not None
        margin = MarginInclusionProof(
            round_id=lay.round_id,
            assets=lay.assets,
            risk=self.risk,
            user_id=record.user_id,
            salt=record.salt,
            positions=tuple(decode_positions(amounts)),
            path=self.tree.margin_path(record.leaf_index),
            root_hash=self.summary.root_hash,
            root_sums=tuple(decode_positions(top_sums)),
            leaf_count=lay.leaf_count,
        )
        self.summary.check_proof(verify_margin_proof(margin, expected_root=self.summary.root_hash))
        return margin
