"""The log's hashing rules, RFC 6962 §2.1 (= RFC 9162 §2.1.1), in one place.

The appender (``por.log``) and the verifier (``verifier.log.proof``) both call these; no
other module hashes log leaves or nodes. Spec: docs/spec.md §12.1.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

# RFC 6962 §2.1: "MTH({d(0)}) = SHA-256(0x00 || d(0))" and
# "MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))". The one-byte prefixes keep a
# leaf from ever hashing like an inner node (second-preimage resistance, RFC 6962 §2.1).
RFC6962_LEAF_HASH_PREFIX = b"\x00"
RFC6962_NODE_HASH_PREFIX = b"\x01"
# RFC 6962 §2.1: the hash algorithm is SHA-256, 32 bytes.
HASH_SIZE = 32
# RFC 6962 §2.1: "the hash of an empty list is the hash of an empty string".
EMPTY_ROOT = hashlib.sha256(b"").digest()


def hash_leaf(leaf_input: bytes) -> bytes:
    """Hash one log entry: ``SHA-256(0x00 || leaf_input)`` (RFC 6962 §2.1)."""
    return hashlib.sha256(RFC6962_LEAF_HASH_PREFIX + leaf_input).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    """Hash an inner node: ``SHA-256(0x01 || left || right)`` (RFC 6962 §2.1)."""
    return hashlib.sha256(RFC6962_NODE_HASH_PREFIX + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly below ``n`` (``k`` in RFC 6962 §2.1), for n >= 2."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle tree hash MTH of a list of leaf hashes (RFC 6962 §2.1).

    Iterative, so a large log does not hit the recursion limit: perfect subtrees of the
    largest sizes are folded left to right, then the right border from the right.
    """
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    # Roots of the perfect subtrees that make up the tree, largest (leftmost) first.
    peaks: list[bytes] = []
    start = 0
    remaining = n
    while remaining:
        size = 1 << (remaining.bit_length() - 1)
        level = list(leaf_hashes[start : start + size])
        while len(level) > 1:
            level = [hash_children(level[i], level[i + 1]) for i in range(0, len(level), 2)]
        peaks.append(level[0])
        start += size
        remaining -= size
    # RFC 6962 §2.1 splits at the largest power of two below n, so the tree is the leftmost
    # perfect subtree joined with the tree of the rest: fold the peaks from the right.
    root = peaks[-1]
    for peak in reversed(peaks[:-1]):
        root = hash_children(peak, root)
    return root
