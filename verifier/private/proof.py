"""The private scheme's published root (``root.json``) and inclusion proof, and their check.

Spec §16.7–§16.9. Bytes in, a report or an exception out; no I/O. A file's bytes must be
exactly the RFC 8785 serialization of what it holds (strict JSON: no unknown or missing
field, no duplicate key, no float), so one proof has one encoding.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import rfc8785

from verifier.encoding import strictjson as sj
from verifier.errors import FormatError, VerificationError
from verifier.liabilities.mst import (
    HASH_SIZE,
    check_round_id,
    encode_amounts,
    levels_for,
    user_commitment,
)
from verifier.liabilities.mst import user_id_bytes as check_user_id
from verifier.private import commitments as pc
from verifier.private.scheme import (
    SCHEME,
    VERSION,
    VERSION_HYBRID,
    VERSIONS,
    PrivateAsset,
    check_hidden_levels,
    check_private_assets,
    committed_value,
    generator_seed,
    hex_bytes,
    leaf_hash,
    node_hash,
    range_position,
    reveals,
    root_hash,
)

Side = Literal["left", "right"]
_U64_RE_MAX_DIGITS = 20


def canonical_bytes(obj: Mapping[str, Any]) -> bytes:
    """The RFC 8785 (JCS) bytes of ``obj``, no trailing newline: a private file's only form.

    Raises:
        FormatError: ``obj`` has no RFC 8785 form (an integer beyond 2^53, a lone surrogate).
    """
    try:
        return rfc8785.dumps(obj)
    except rfc8785.CanonicalizationError as e:
        raise FormatError(f"no RFC 8785 serialization: {e}") from e


def _load_canonical(data: bytes, what: str) -> Mapping[str, Any]:
    raw = sj.loads(data, what)
    if not isinstance(raw, dict):
        raise FormatError(f"{what}: expected a JSON object")
    if canonical_bytes(raw) != data:
        raise FormatError(f"{what}: the bytes are not the file's RFC 8785 serialization"
                          " (sorted keys, no whitespace, no trailing newline; spec §16.7)")
    return raw


def _scheme(raw: Mapping[str, Any], what: str) -> int:
    scheme = sj.string(raw.get("scheme"), f"{what}.scheme")
    version = sj.integer(raw.get("version"), f"{what}.version")
    if scheme != SCHEME or version not in VERSIONS:
        raise FormatError(f"{what}: scheme {scheme!r} version {version} is not {SCHEME!r}"
                          f" version {' or '.join(map(str, VERSIONS))}")
    return version


def _fields(base: frozenset[str], version: int) -> set[str]:
    """A version-2 object has every field of version 1 and ``hidden_levels`` (§16.14)."""
    return set(base) | ({"hidden_levels"} if version == VERSION_HYBRID else set())


def _assets(value: Any, where: str) -> tuple[PrivateAsset, ...]:
    out = []
    for i, item in enumerate(sj.array(value, where)):
        entry = sj.obj(item, f"{where}[{i}]", {"symbol", "decimals", "unit_exponent"})
        out.append(PrivateAsset(sj.string(entry["symbol"], f"{where}[{i}].symbol"),
                                sj.integer(entry["decimals"], f"{where}[{i}].decimals"),
                                sj.integer(entry["unit_exponent"], f"{where}[{i}].unit_exponent")))
    return check_private_assets(out)


def assets_json(assets: Sequence[PrivateAsset]) -> list[dict[str, Any]]:
    """The JSON form of a private asset list."""
    return [{"decimals": a.decimals, "symbol": a.symbol, "unit_exponent": a.unit_exponent}
            for a in assets]


def _u64(value: Any, where: str) -> int:
    number = sj.amount(value, where)
    if number > pc.MAX_VALUE:
        raise FormatError(f"{where}: {number} is above 2^64-1")
    return number


def _list(value: Any, where: str, count: int) -> list[Any]:
    items = sj.array(value, where)
    if len(items) != count:
        raise FormatError(f"{where}: expected {count} entries (one per asset), found {len(items)}")
    return items


def _scalars(value: Any, where: str, count: int) -> tuple[int, ...]:
    out = []
    for i, item in enumerate(_list(value, where, count)):
        number = int.from_bytes(hex_bytes(sj.string(item, f"{where}[{i}]"), pc.SCALAR_SIZE,
                                          f"{where}[{i}]"), "big")
        if number >= pc.GROUP_ORDER:
            raise FormatError(f"{where}[{i}]: a blinding factor must be below the group order")
        out.append(number)
    return tuple(out)


def _commitment_list(value: Any, where: str, count: int) -> tuple[bytes, ...]:
    return tuple(
        pc.check_commitment(hex_bytes(sj.string(item, f"{where}[{i}]"), pc.COMMITMENT_SIZE,
                                      f"{where}[{i}]"), f"{where}[{i}]")
        for i, item in enumerate(_list(value, where, count)))


def _range_proofs(value: Any, where: str, count: int) -> tuple[bytes, ...]:
    out = []
    for i, item in enumerate(_list(value, where, count)):
        text = sj.string(item, f"{where}[{i}]")
        try:
            proof = base64.b64decode(text.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as e:
            raise FormatError(f"{where}[{i}]: not base64 ({e})") from e
        if base64.b64encode(proof).decode("ascii") != text:
            raise FormatError(f"{where}[{i}]: base64 is not canonical")
        out.append(proof)
    return tuple(out)


@dataclass(frozen=True)
class PrivateRoot:
    """The published root of a private round and its opening (spec §16.7)."""

    round_id: str
    assets: tuple[PrivateAsset, ...]
    leaf_count: int
    root_hash: bytes
    totals: tuple[int, ...]
    blindings: tuple[int, ...]
    hidden_levels: int | None = None  # None: version 1, full hiding; else version 2 (§16.14)

    FIELDS = frozenset({"scheme", "version", "round", "assets", "leaf_count", "root_hash",
                        "totals", "blindings"})

    @property
    def version(self) -> int:
        """1 (full hiding) or 2 (hybrid, L bound into the root)."""
        return VERSION if self.hidden_levels is None else VERSION_HYBRID

    @property
    def levels(self) -> int:
        """log2 N."""
        return self.leaf_count.bit_length() - 1

    @property
    def hidden(self) -> int:
        """How many bottom levels are hidden: L, or every level (version 1)."""
        return self.levels if self.hidden_levels is None else self.hidden_levels

    def reveals(self) -> str:
        """What a proof of this round shows of other users (§16.14)."""
        return reveals(self.hidden_levels, self.levels)

    @classmethod
    def from_json(cls, data: bytes, what: str = "root.json") -> PrivateRoot:
        """Parse a published private root strictly.

        Raises:
            FormatError: anything malformed or not canonical.
        """
        loaded = _load_canonical(data, what)
        version = _scheme(loaded, what)
        raw = sj.obj(loaded, what, _fields(cls.FIELDS, version))
        assets = _assets(raw["assets"], f"{what}.assets")
        leaf_count = sj.integer(raw["leaf_count"], f"{what}.leaf_count")
        try:
            levels = levels_for(leaf_count)
        except FormatError as e:
            raise FormatError(f"{what}.leaf_count: {e}") from e
        hidden = None
        if version == VERSION_HYBRID:
            hidden = check_hidden_levels(
                sj.integer(raw["hidden_levels"], f"{what}.hidden_levels"), levels,
                f"{what}.hidden_levels")
        n = len(assets)
        return cls(
            round_id=check_round_id(sj.string(raw["round"], f"{what}.round")),
            assets=assets,
            leaf_count=leaf_count,
            root_hash=sj.hash_hex(raw["root_hash"], f"{what}.root_hash"),
            totals=tuple(_u64(x, f"{what}.totals[{i}]")
                         for i, x in enumerate(_list(raw["totals"], f"{what}.totals", n))),
            blindings=_scalars(raw["blindings"], f"{what}.blindings", n),
            hidden_levels=hidden,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object (spec §16.7, §16.14)."""
        out: dict[str, Any] = {
            "scheme": SCHEME, "version": self.version, "round": self.round_id,
            "assets": assets_json(self.assets), "leaf_count": self.leaf_count,
            "root_hash": self.root_hash.hex(), "totals": [str(t) for t in self.totals],
            "blindings": [pc.scalar_bytes(b).hex() for b in self.blindings]}
        if self.hidden_levels is not None:
            out["hidden_levels"] = self.hidden_levels
        return out

    def to_bytes(self) -> bytes:
        """The file's bytes (RFC 8785)."""
        return canonical_bytes(self.to_dict())

    def top_commitments(self) -> tuple[bytes, ...]:
        """Each asset's root commitment, opened: commit(total, blinding, G_j) (§16.6).

        Raises:
            FormatError: an opening out of range.
            VerificationError: the library refuses an opening.
        """
        return tuple(
            pc.commit(total, blinding, pc.generator(generator_seed(asset)), f"root {asset.symbol}")
            for asset, total, blinding in zip(self.assets, self.totals, self.blindings,
                                              strict=True))


@dataclass(frozen=True)
class PrivateStep:
    """One level: the sibling's side, hash, commitments and range proofs, and the
    commitments of the parent both make. At an opened level of a hybrid round (§16.14) the
    sibling shows its sums and blindings instead (``commitments`` and ``range_proofs``
    empty: the verifier computes the commitments from the opening)."""

    side: Side
    hash: bytes
    commitments: tuple[bytes, ...]
    range_proofs: tuple[bytes, ...]
    parents: tuple[bytes, ...]
    sums: tuple[int, ...] = ()
    blindings: tuple[int, ...] = ()

    @property
    def opened(self) -> bool:
        """True at an opened level (plain sums, no range proofs)."""
        return not self.range_proofs


@dataclass(frozen=True)
class PrivateProof:
    """A user's private inclusion proof, parsed and validated in shape (spec §16.8)."""

    round_id: str
    assets: tuple[PrivateAsset, ...]
    user_id: str
    salt: bytes
    amounts: tuple[int, ...]
    blindings: tuple[int, ...]
    path: tuple[PrivateStep, ...]
    root: PrivateRoot

    FIELDS = frozenset({"scheme", "version", "round", "assets", "user_id", "salt", "amounts",
                        "blindings", "path", "root"})
    STEP_FIELDS = frozenset({"side", "hash", "commitments", "range_proofs", "parents"})
    OPENED_STEP_FIELDS = frozenset({"side", "hash", "sums", "blindings", "parents"})
    ROOT_FIELDS = frozenset({"hash", "leaf_count", "totals", "blindings"})

    @classmethod
    def from_json(cls, data: bytes, what: str = "proof") -> PrivateProof:
        """Parse a private proof strictly.

        Raises:
            FormatError: anything malformed or not canonical.
        """
        raw = sj.obj(_load_canonical(data, what), what, set(cls.FIELDS))
        version = _scheme(raw, what)
        assets = _assets(raw["assets"], f"{what}.assets")
        n = len(assets)
        round_id = check_round_id(sj.string(raw["round"], f"{what}.round"))
        user_id = sj.string(raw["user_id"], f"{what}.user_id")
        try:
            check_user_id(user_id)
        except FormatError as e:
            raise FormatError(f"{what}.user_id: {e}") from e
        root_raw = sj.obj(raw["root"], f"{what}.root", _fields(cls.ROOT_FIELDS, version))
        root_obj = {
            "scheme": SCHEME, "version": version, "round": round_id, "assets": raw["assets"],
            "leaf_count": root_raw["leaf_count"], "root_hash": root_raw["hash"],
            "totals": root_raw["totals"], "blindings": root_raw["blindings"]}
        if version == VERSION_HYBRID:
            root_obj["hidden_levels"] = root_raw["hidden_levels"]
        root = PrivateRoot.from_json(canonical_bytes(root_obj), f"{what}.root")
        levels = levels_for(root.leaf_count)
        steps = []
        path = sj.array(raw["path"], f"{what}.path")
        if len(path) != levels:
            raise FormatError(f"{what}.path: expected {levels} steps for {root.leaf_count}"
                              f" leaves, found {len(path)}")
        for i, item in enumerate(path):
            where = f"{what}.path[{i}]"
            opened = i >= root.hidden
            # A level below L must be hidden, a level at or above L opened: a proof that
            # opens a hidden level (or hides an opened one) has the wrong fields (§16.14).
            step = sj.obj(item, where, set(cls.OPENED_STEP_FIELDS if opened else cls.STEP_FIELDS))
            side = sj.string(step["side"], f"{where}.side")
            if side not in ("left", "right"):
                raise FormatError(f"{where}.side: expected 'left' or 'right', found {side!r}")
            if opened:
                steps.append(PrivateStep(
                    side="left" if side == "left" else "right",
                    hash=sj.hash_hex(step["hash"], f"{where}.hash"),
                    commitments=(), range_proofs=(),
                    parents=_commitment_list(step["parents"], f"{where}.parents", n),
                    sums=tuple(_u64(x, f"{where}.sums[{j}]") for j, x in
                               enumerate(_list(step["sums"], f"{where}.sums", n))),
                    blindings=_scalars(step["blindings"], f"{where}.blindings", n)))
                continue
            steps.append(PrivateStep(
                side="left" if side == "left" else "right",
                hash=sj.hash_hex(step["hash"], f"{where}.hash"),
                commitments=_commitment_list(step["commitments"], f"{where}.commitments", n),
                range_proofs=_range_proofs(step["range_proofs"], f"{where}.range_proofs", n),
                parents=_commitment_list(step["parents"], f"{where}.parents", n),
            ))
        return cls(
            round_id=round_id, assets=assets, user_id=user_id,
            salt=sj.hash_hex(raw["salt"], f"{what}.salt"),
            amounts=tuple(sj.amounts(raw["amounts"], f"{what}.amounts", n)),
            blindings=_scalars(raw["blindings"], f"{what}.blindings", n),
            path=tuple(steps), root=root,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object (spec §16.8)."""
        root: dict[str, Any] = {
            "hash": self.root.root_hash.hex(), "leaf_count": self.root.leaf_count,
            "totals": [str(t) for t in self.root.totals],
            "blindings": [pc.scalar_bytes(b).hex() for b in self.root.blindings]}
        if self.root.hidden_levels is not None:
            root["hidden_levels"] = self.root.hidden_levels
        return {
            "scheme": SCHEME, "version": self.root.version, "round": self.round_id,
            "assets": assets_json(self.assets), "user_id": self.user_id,
            "salt": self.salt.hex(), "amounts": [str(a) for a in self.amounts],
            "blindings": [pc.scalar_bytes(b).hex() for b in self.blindings],
            "path": [_step_dict(s) for s in self.path],
            "root": root,
        }

    def to_bytes(self) -> bytes:
        """The file's bytes (RFC 8785)."""
        return canonical_bytes(self.to_dict())


def _step_dict(s: PrivateStep) -> dict[str, Any]:
    if s.opened:
        return {"side": s.side, "hash": s.hash.hex(), "sums": [str(v) for v in s.sums],
                "blindings": [pc.scalar_bytes(b).hex() for b in s.blindings],
                "parents": [c.hex() for c in s.parents]}
    return {"side": s.side, "hash": s.hash.hex(),
            "commitments": [c.hex() for c in s.commitments],
            "range_proofs": [base64.b64encode(p).decode("ascii") for p in s.range_proofs],
            "parents": [c.hex() for c in s.parents]}


@dataclass(frozen=True)
class PrivateProofReport:
    """What a private proof established, and against what (``anchor`` None: UNANCHORED)."""

    round_id: str
    assets: tuple[PrivateAsset, ...]
    user_id: str
    amounts: tuple[int, ...]
    values: tuple[int, ...]
    leaf_index: int
    path_length: int
    root_hash: bytes
    totals: tuple[int, ...]
    leaf_count: int
    range_proofs_checked: int
    anchor: str | None
    hidden_levels: int | None = None
    reveals: str = ""
    opened: tuple[tuple[int, tuple[int, ...]], ...] = ()  # (level, sibling's sums) shown

    @property
    def anchored(self) -> bool:
        """True when the root was compared with a published one."""
        return self.anchor is not None

    def require_anchor(self) -> None:
        """Raise unless the root was compared with a published one.

        Raises:
            VerificationError: UNANCHORED.
        """
        if self.anchor is None:
            raise VerificationError("UNANCHORED: the proof was checked against its own root"
                                    " only; compare it with the published root (spec §16.9)")


def verify_private_proof(
    proof: PrivateProof, *, expected_root: bytes | None = None,
    summary: PrivateRoot | None = None,
) -> PrivateProofReport:
    """Recompute a private proof from the user's opening up to the published root (§16.9).

    Checks, in order: the user's commitment (§4) and committed values (unit rule); the
    leaf's Pedersen commitments from its opening; per level and asset the sibling's range
    proof at its position, and that the parent's commitment is the sum of both children;
    the node hashes; the root's opening (each top commitment is commit(total, blinding));
    the root hash; then the anchor.

    Raises:
        FormatError: a value out of range (an amount whose units exceed 64 bits).
        VerificationError: any check fails.
    """
    assets, n = proof.assets, len(proof.assets)
    gens = [pc.generator(generator_seed(a)) for a in assets]
    values = tuple(committed_value(a, asset, f"amounts[{j}]")
                   for j, (a, asset) in enumerate(zip(proof.amounts, assets, strict=True)))
    current = tuple(pc.commit(v, r, gens[j], f"leaf opening, asset {assets[j].symbol}")
                    for j, (v, r) in enumerate(zip(values, proof.blindings, strict=True)))
    user = user_commitment(proof.round_id, proof.user_id, proof.salt)
    current_hash = leaf_hash(user, encode_amounts(proof.amounts), current)
    leaf_index = sum(1 << i for i, s in enumerate(proof.path) if s.side == "left")
    checked = 0
    hidden = proof.root.hidden
    # Every range proof is checked first, on several threads (the library's calls release
    # the GIL; spec §16.13), and each outcome is raised below in the path's order, so the
    # verdict and the first error are those of checking one after the other.
    ranges = [(level, j, step) for level, step in enumerate(proof.path) if not step.opened
              for j in range(n)]

    def range_check(item: tuple[int, int, PrivateStep]) -> Exception | None:
        level, j, step = item
        try:
            pc.verify_range(step.commitments[j], step.range_proofs[j], gens[j],
                            range_position(proof.round_id, level, (leaf_index >> level) ^ 1, j),
                            f"path[{level}] asset {assets[j].symbol}")
        except (FormatError, VerificationError) as e:
            return e
        return None

    outcomes = dict(zip([(level, j) for level, j, _ in ranges],
                        pc.parallel_map(range_check, ranges), strict=True))
    for level, step in enumerate(proof.path):
        if step.opened != (level >= hidden):  # the parser enforces it; the check stays here
            raise FormatError(f"path[{level}]: an {'opened' if step.opened else 'hidden'} level"
                              f" where the root's L = {hidden} says otherwise (§16.14)")
        if step.opened:
            # An opened level (§16.14): the sibling's commitments from its sums (u64 each,
            # so no wrap: the range proof's job is done by the opening).
            sibling = tuple(pc.commit(step.sums[j], step.blindings[j], gens[j],
                                      f"path[{level}] opening, asset {assets[j].symbol}")
                            for j in range(n))
        else:
            sibling = step.commitments
        for j in range(n):
            where = f"path[{level}] asset {assets[j].symbol}"
            if not step.opened:
                failed = outcomes[(level, j)]
                if failed is not None:
                    raise failed
                checked += 1
            pc.check_sum(step.parents[j], current[j], sibling[j], where)
        if step.side == "left":
            current_hash = node_hash(step.hash, sibling, current_hash, current)
        else:
            current_hash = node_hash(current_hash, current, step.hash, sibling)
        current = step.parents
    root = proof.root
    opened = root.top_commitments()
    for j in range(n):
        if opened[j] != current[j]:
            raise VerificationError(
                f"root opening, asset {assets[j].symbol}: commit(total {root.totals[j]},"
                f" published blinding) is {opened[j].hex()[:16]}..., the path's top commitment"
                f" is {current[j].hex()[:16]}...")
    computed = root_hash(proof.round_id, assets, root.leaf_count, current_hash, current,
                         root.totals, root.blindings, root.hidden_levels)
    if computed != root.root_hash:
        raise VerificationError(f"root hash: recomputed {computed.hex()}, the proof says"
                                f" {root.root_hash.hex()}")
    anchor = None
    if summary is not None:
        mismatch = [name for name, mine, theirs in (
            ("round", proof.round_id, summary.round_id), ("assets", assets, summary.assets),
            ("leaf_count", root.leaf_count, summary.leaf_count),
            ("totals", root.totals, summary.totals),
            ("blindings", root.blindings, summary.blindings),
            ("hidden_levels", root.hidden_levels, summary.hidden_levels),
            ("root_hash", computed, summary.root_hash)) if mine != theirs]
        if mismatch:
            raise VerificationError(f"the proof does not match the published root: {mismatch}")
        anchor = "summary"
    if expected_root is not None:
        if len(expected_root) != HASH_SIZE or computed != expected_root:
            raise VerificationError(f"root hash {computed.hex()} is not the published"
                                    f" {expected_root.hex()}")
        anchor = "root" if anchor is None else anchor
    return PrivateProofReport(
        round_id=proof.round_id, assets=assets, user_id=proof.user_id, amounts=proof.amounts,
        values=values, leaf_index=leaf_index, path_length=len(proof.path),
        root_hash=computed, totals=root.totals, leaf_count=root.leaf_count,
        range_proofs_checked=checked, anchor=anchor, hidden_levels=root.hidden_levels,
        reveals=root.reveals(),
        opened=tuple((level, s.sums) for level, s in enumerate(proof.path) if s.opened))
