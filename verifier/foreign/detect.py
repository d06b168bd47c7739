"""Recognising which exchange's proof format a file is in (``por-verify foreign auto``).

Recognition is structural (which fields are at the top), never by trying every verifier
until one passes, so a file that fails is reported under the format it claims to be.
Formats we know but cannot check (Bitso, zk batch proof tables) are named in the error so
a user knows what they have.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from verifier.errors import FormatError
from verifier.foreign.parsing import lines_of, load_json

OKX_V2_TREE = "okx-v2-tree"  # not a FORMAT on its own: the second file of okx-v2
_OKX_TREE_LINE = re.compile(r"[0-9a-fA-F]{64},[0-9]+,\{")


@dataclass(frozen=True)
class Detection:
    """The recognised format of one file, and what in the file gave it away."""

    format: str
    reason: str


def _unsupported(where: str, what: str) -> FormatError:
    return FormatError(f"{where}: unsupported format: {what}")


def _detect_text(data: bytes, where: str) -> Detection:
    try:
        lines = lines_of(data, where)
    except FormatError as e:
        raise _unsupported(where, "neither JSON nor UTF-8 text") from e
    first = lines[0] if lines else ""
    shown = first[:60]
    if first.startswith("block_height:"):
        raise _unsupported(
            where,
            "a BitMEX liabilities tree: it needs your account and nonce, so check it with "
            "por-verify foreign bitmex TREE --account N --nonce-file FILE",
        )
    if _OKX_TREE_LINE.match(first):
        return Detection(OKX_V2_TREE, "lines of 'hash,height,{balances}' (OKX v2 full tree file)")
    if first.split("\t") == ["Level", "Hash"]:
        raise _unsupported(
            where,
            "a Bitso proof-of-solvency tree file (tab-separated 'Level', 'Hash' columns of "
            "64-bit leaf hashes); por-verify cannot check Bitso proofs",
        )
    if "proof_info" in first and "batch_commitment" in first:
        raise _unsupported(
            where,
            "a zk-SNARK batch proof table (CSV with proof_info, batch_commitment: Binance / "
            "Gate.io style); por-verify cannot check Poseidon/Groth16 proofs",
        )
    raise _unsupported(where, f"not JSON, and the first line {shown!r} is no known layout")


def detect(data: bytes, where: str = "file") -> Detection:
    """Recognise the proof format of ``data``.

    Raises:
        FormatError: the file is in no format por-verify can check; the message names what
            was seen (a known but unsupported exchange, or the top-level fields found).
    """
    try:
        doc = load_json(data, where)
    except FormatError:
        return _detect_text(data, where)
    if not isinstance(doc, dict):
        raise _unsupported(where, f"JSON {type(doc).__name__} at the top, not an object")
    keys = set(doc)
    me = doc.get("self")
    me_keys = set(me) if isinstance(me, dict) else set()
    if keys == {"self", "path"}:
        if "merkelLeaf" in me_keys:
            return Detection("bitget", "'self' has 'merkelLeaf' (Bitget)")
        if "userHash" in me_keys or "balance" in me_keys:
            return Detection("bybit", "'self' has 'userHash' and 'balance' (Bybit)")
        if {"nonce", "balances", "hash"} <= me_keys:
            return Detection("okx-v1", "'self' has 'nonce', 'hash', 'balances' (OKX v1)")
    if keys == {"pathList", "self"}:
        return Detection("mexc", "top-level 'pathList' and 'self' (MEXC)")
    if keys == {"root", "self", "path"}:
        return Detection("coinex", "top-level 'root', 'self', 'path' (CoinEx)")
    if keys == {"hash", "nodes", "nonce", "totalBalances"}:
        return Detection("okx-v2", "'hash', 'nodes', 'nonce', 'totalBalances' (OKX v2 user info)")
    if {"AccountIdHash", "Proof", "Root"} <= keys:
        if "TotalCollateral" in keys:
            return Detection(
                "binance", "'AccountIdHash', 'Root', 'Proof', 'TotalCollateral' (Binance)"
            )
        return Detection(
            "binance-v1", "'AccountIdHash', 'Root', 'Proof', no 'TotalCollateral' (Binance, 2023)"
        )
    if {"TreeRootHash", "MerkleProofEncode"} <= keys:
        return Detection(
            "gateio", "'TreeRootHash', 'MerkleProofEncode' (Gate.io; 800-asset layout assumed)"
        )
    if {"ProofTable", "CexAssetsInfo"} <= keys:
        raise _unsupported(
            where, "a Binance zkmerkle batch-verifier config (ProofTable, CexAssetsInfo)"
        )
    shown = sorted(keys)[:12]
    extra = f" (self has {sorted(me_keys)[:12]})" if me_keys else ""
    raise _unsupported(where, f"top-level fields {shown}{extra} match no known exchange layout")
