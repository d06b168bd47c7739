"""RFC 9162 inclusion and consistency proofs, produced from a log's leaf hashes.

The recursive definitions of RFC 9162 §2.1.3.1 (``PATH``) and §2.1.4.1 (``PROOF`` and
``SUBPROOF``), written as the RFC states them; ``verifier.log.proof`` checks what they make.
Each call reads every leaf hash it is given (O(n log n) hashing): the log holds one entry
per published round, so n stays small.
"""

from __future__ import annotations

from collections.abc import Sequence

from por.errors import UsageError
from verifier.log.rfc6962 import root_from_leaf_hashes, split_point


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """``PATH(m, D[n])`` of RFC 9162 §2.1.3.1: the audit path of leaf ``index``.

    Raises:
        UsageError: ``index`` is not a leaf of the tree.
    """
    n = len(leaf_hashes)
    if not 0 <= index < n:
        raise UsageError(f"leaf index {index} is not in a tree of {n} leaves")
    return _path(index, leaf_hashes)


def _path(m: int, d: Sequence[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = split_point(n)
    if m < k:
        return [*_path(m, d[:k]), root_from_leaf_hashes(d[k:])]
    return [*_path(m - k, d[k:]), root_from_leaf_hashes(d[:k])]


def consistency_proof(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """``PROOF(m, D[n])`` of RFC 9162 §2.1.4.1, from the tree of ``old_size`` to all leaves.

    Raises:
        UsageError: ``old_size`` is 0 (a proof from the empty tree proves nothing) or above
            the number of leaves.
    """
    n = len(leaf_hashes)
    if not 0 < old_size <= n:
        raise UsageError(f"no consistency proof from size {old_size} to size {n}")
    return _subproof(old_size, leaf_hashes, True)


def _subproof(m: int, d: Sequence[bytes], whole: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        # RFC 9162 §2.1.4.1: the old tree's own root is left out when the verifier has it.
        return [] if whole else [root_from_leaf_hashes(d)]
    k = split_point(n)
    if m <= k:
        return [*_subproof(m, d[:k], whole), root_from_leaf_hashes(d[k:])]
    return [*_subproof(m - k, d[k:], False), root_from_leaf_hashes(d[:k])]
