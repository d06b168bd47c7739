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
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from por.errors import InputError, UsageError
from verifier.errors import FormatError, VerificationError
from verifier.liabilities.margin_round import MarginRootSummary
from verifier.liabilities.mst import (
    HASH_SIZE,
    MAX_USER_ID_BYTES,
    decode_amounts,
    decode_positions,
    derive_salt,
    user_commitment,
    user_id_bytes,
)
from verifier.liabilities.proof import (
    InclusionProof,
    MarginInclusionProof,
    verify_margin_proof,
    verify_proof,
)
from verifier.liabilities.risk import RiskParams
from verifier.liabilities.rounddir import TOKEN_FILE as TOKEN_FILE  # re-exported
from verifier.liabilities.rounddir import risk_path, root_path, tree_path
from verifier.liabilities.summary import RootSummary
from verifier.liabilities.treefile import TreeFile

MAGIC = b"PORTOK\x00\x01"
HEADER_SIZE = len(MAGIC) + 8
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

    The index is written to a temporary name and renamed, so a server never reads half of
    one; issuing again replaces every token of the round (the old ones stop working).

    Returns:
        ``(user_id, token)`` pairs, in the order given: for the exchange's account system
        only (every token opens that user's proof).

    Raises:
        InputError: a user is not in the round, or the directory holds no tree.
    """
    try:
        tree = TreeFile(tree_path(round_dir))
    except FormatError as e:
        raise InputError(f"{round_dir}: no usable tree.bin: {e}") from e
    try:
        round_id = tree.layout.round_id
        pairs: list[tuple[str, str]] = []
        records: list[bytes] = []
        for user in users:
            salt = derive_salt(secret, round_id, user)
            index = tree.find(user_commitment(round_id, user, salt))
            if index is None:
                raise InputError(
                    f"user {user!r} is not in round {round_id} (or the round secret is not"
                    " this round's)"
                )
            token = new_token()
            records.append(token_id(token) + _seal(token, TokenRecord(user, salt, index)))
            pairs.append((user, token))
    finally:
        tree.close()
    records.sort()
    for a, b in itertools.pairwise(records):
        if a[:HASH_SIZE] == b[:HASH_SIZE]:  # 2^-128 per pair; refuse rather than shadow one
            raise UsageError("two tokens collided; issue again")
    target = round_dir / TOKEN_FILE
    tmp = round_dir / f".{TOKEN_FILE}.tmp"
    with open(tmp, "wb") as f:
        f.write(MAGIC + len(records).to_bytes(8, "big"))
        for record in records:
            f.write(record)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)
    return pairs


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
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as e:
        raise InputError(f"{path}: already exists; refusing to overwrite issued tokens") from e
    except OSError as e:
        raise InputError(f"{path}: cannot create: {e.strerror}") from e
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(buffer.getvalue())


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
        if self._mm is None or size < HEADER_SIZE or self._mm[: len(MAGIC)] != MAGIC:
            raise InputError(f"{path}: not a proof token index (bad magic)")
        self.count = int.from_bytes(self._mm[len(MAGIC) : HEADER_SIZE], "big")
        if size != HEADER_SIZE + self.count * RECORD_SIZE:
            raise InputError(
                f"{path}: {size} bytes, but {self.count} records need"
                f" {HEADER_SIZE + self.count * RECORD_SIZE}"
            )
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

    def close(self) -> None:
        """Release the mappings."""
        if self._mm is not None:
            self._mm.close()
        self.tree.close()

    def _sealed(self, key: bytes) -> bytes | None:
        assert self._mm is not None
        lo, hi = 0, self.count
        while lo < hi:
            mid = (lo + hi) // 2
            off = HEADER_SIZE + mid * RECORD_SIZE
            probe = self._mm[off : off + HASH_SIZE]
            if probe < key:
                lo = mid + 1
            else:
                hi = mid
        off = HEADER_SIZE + lo * RECORD_SIZE
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

    def proof(self, record: TokenRecord) -> InclusionProof | MarginInclusionProof:
        """The inclusion proof of ``record``'s leaf (a margin proof in a margin round),
        checked against the round's root.

        Raises:
            VerificationError: the index and the tree disagree (a corrupt or replaced file):
                nothing is handed out then.
        """
        lay = self.tree.layout
        if not 0 <= record.leaf_index < lay.leaf_count or self.tree.commitment(
            record.leaf_index
        ) != user_commitment(lay.round_id, record.user_id, record.salt):
            raise VerificationError("the token index does not match the round's tree")
        _, amounts = self.tree.record(0, record.leaf_index)
        _, top_sums = self.tree.top()
        if isinstance(self.summary, MarginRootSummary):
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
            self.summary.check_proof(verify_margin_proof(
                margin, expected_root=self.summary.root_hash))
            return margin
        proof = InclusionProof(
            round_id=lay.round_id,
            assets=lay.assets,
            user_id=record.user_id,
            salt=record.salt,
            amounts=tuple(decode_amounts(amounts)),
            path=self.tree.path(record.leaf_index),
            root_hash=self.summary.root_hash,
            root_sums=tuple(decode_amounts(top_sums)),
            leaf_count=lay.leaf_count,
        )
        verify_proof(proof, summary=self.summary)
        return proof
