"""RFC 9162 inclusion and consistency proof checks (RFC 9162 §2.1.3.2, §2.1.4.2).

Modelled on transparency-dev/merkle ``proof/verify.go``: it depends on nothing but the
hashing rules in :mod:`verifier.log.rfc6962`, takes bytes and sizes, and raises on failure
(it never returns a bare ``False``). Its policy matches that module's, so that every
published probe gets the same verdict here (tests/log/test_rfc6962_vectors.py):

* a leaf hash must be exactly 32 bytes; roots are compared byte for byte;
* a consistency proof from an empty tree (``size1 == 0``) is refused, even to size 0: it
  proves nothing, and an auditor holding no tree head has nothing to check against;
* sizes and indices are unsigned 64-bit integers, as in RFC 9162 (``uint64``).

The subtree variants (``verify_subtree_*``) check proofs about a range ``[start, end)`` of
the log as in transparency-dev/merkle's newer API; they generalise the two RFC checks
(``start == 0``) and are kept because the published probes exercise them.
"""

from __future__ import annotations

from collections.abc import Sequence

from verifier.errors import FormatError, VerificationError
from verifier.log.rfc6962 import EMPTY_ROOT, HASH_SIZE, hash_children

MAX_UINT64 = (1 << 64) - 1


def _uint64(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_UINT64:
        raise FormatError(f"{name} must be an integer in 0..2^64-1, found {value!r}")
    return value


def _match(calculated: bytes, expected: bytes, what: str) -> None:
    if calculated != expected:
        raise VerificationError(
            f"{what}: calculated root {calculated.hex()} does not match expected {expected.hex()}"
        )


def _ones(n: int) -> int:
    return bin(n).count("1")


def _trailing_zeros(n: int) -> int:
    return (n & -n).bit_length() - 1


def _decomp_inclusion(index: int, size: int) -> tuple[int, int]:
    """Split the path of leaf ``index`` in a tree of ``size`` leaves (RFC 9162 §2.1.3.2).

    Returns ``(inner, border)``: the levels below the point where the paths to ``index``
    and to ``size - 1`` diverge (siblings on either side), and the levels above it (left
    siblings only, one per set bit of ``index`` above that point).
    """
    inner = (index ^ (size - 1)).bit_length()
    return inner, _ones(index >> inner)


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, sibling in enumerate(proof):
        # Bit i of the index says whether the path is a right child at level i.
        is_right = (index >> i) & 1
        seed = hash_children(sibling, seed) if is_right else hash_children(seed, sibling)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    # Only the left siblings: the same subtree as it was before the right ones existed.
    for i, sibling in enumerate(proof):
        if (index >> i) & 1 == 1:
            seed = hash_children(sibling, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for sibling in proof:
        seed = hash_children(sibling, seed)
    return seed


def root_from_inclusion_proof(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]
) -> bytes:
    """The root that an inclusion proof leads to (RFC 9162 §2.1.3.2).

    Raises:
        FormatError: ``index`` or ``size`` is not a uint64.
        VerificationError: ``index >= size``, a leaf hash that is not 32 bytes, or a proof of
            the wrong length for that index and size.
    """
    _uint64(index, "leaf index")
    _uint64(size, "tree size")
    if index >= size:
        raise VerificationError(f"leaf index {index} is beyond the tree size {size}")
    if len(leaf_hash) != HASH_SIZE:
        raise VerificationError(f"leaf hash has {len(leaf_hash)} bytes, expected {HASH_SIZE}")
    inner, border = _decomp_inclusion(index, size)
    if len(proof) != inner + border:
        raise VerificationError(
            f"inclusion proof of leaf {index} in a tree of {size} must have"
            f" {inner + border} hashes, found {len(proof)}"
        )
    result = _chain_inner(leaf_hash, proof[:inner], index)
    return _chain_border_right(result, proof[inner:])


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that leaf ``index`` with ``leaf_hash`` is in the tree of ``size`` with ``root``.

    Raises:
        FormatError: ``index`` or ``size`` is not a uint64.
        VerificationError: the proof is malformed for these sizes or leads to another root.
    """
    _match(root_from_inclusion_proof(index, size, leaf_hash, proof), root, "inclusion proof")


def _check_subtree(start: int, end: int) -> None:
    """A range ``[start, end)`` is a subtree when ``start`` is aligned to bit_ceil(length).

    The empty range (``start == end``) passes here; each caller decides what it proves.
    """
    _uint64(start, "subtree start")
    _uint64(end, "subtree end")
    if start > end:
        raise VerificationError(f"subtree start {start} is above its end {end}")
    if start == 0 or start == end:
        return
    length = end - start
    if length > 1 << 63:
        raise VerificationError(f"subtree [{start}, {end}) of length {length} must start at 0")
    ceiling = 1 if length <= 1 else 1 << (length - 1).bit_length()
    if start & (ceiling - 1):
        raise VerificationError(
            f"subtree start {start} is not a multiple of {ceiling} (the power of two at or"
            f" above its length {length})"
        )


def verify_subtree_inclusion(
    index: int, start: int, end: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check leaf ``index`` is in the subtree ``[start, end)`` whose hash is ``root``.

    Raises:
        FormatError: a number is not a uint64.
        VerificationError: not a valid subtree, index outside it, or the proof fails.
    """
    _uint64(index, "leaf index")
    _check_subtree(start, end)
    if not start <= index < end:
        raise VerificationError(f"leaf index {index} is outside the subtree [{start}, {end})")
    calculated = root_from_inclusion_proof(index - start, end - start, leaf_hash, proof)
    _match(calculated, root, "subtree inclusion proof")


def root_from_consistency_proof(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes
) -> bytes:
    """The root of the tree of ``size2`` that a consistency proof from ``root1`` leads to.

    RFC 9162 §2.1.4.2. Checks on the way that the proof also rebuilds ``root1``.

    Raises:
        FormatError: a size is not a uint64.
        VerificationError: ``size2 < size1`` (the log shrank), ``size1 == 0``, a non-empty
            proof between equal sizes, a proof of the wrong length, or one that does not
            rebuild ``root1``.
    """
    _uint64(size1, "old tree size")
    _uint64(size2, "new tree size")
    if size2 < size1:
        raise VerificationError(f"new tree size {size2} is smaller than old size {size1}")
    if size1 == 0:
        raise VerificationError("a consistency proof from the empty tree proves nothing")
    if size1 == size2:
        if proof:
            raise VerificationError(
                f"tree sizes are equal ({size1}) but the proof has {len(proof)} hashes"
            )
        return root1
    if not proof:
        raise VerificationError(f"empty consistency proof from size {size1} to {size2}")
    return _root_from_subtree_consistency(0, size1, size2, proof, root1)


def consistency_proof_length(size1: int, size2: int) -> int:
    """How many hashes an RFC 9162 consistency proof from ``size1`` to ``size2`` holds.

    Raises:
        FormatError: a size is not a uint64.
        VerificationError: ``size1`` is 0 or above ``size2``.
    """
    _uint64(size1, "old tree size")
    _uint64(size2, "new tree size")
    if not 0 < size1 <= size2:
        raise VerificationError(f"no consistency proof from size {size1} to {size2}")
    if size1 == size2:
        return 0
    fork_level, border = _decomp_inclusion(size1 - 1, size2)
    shift = _trailing_zeros(size1)
    first = 0 if size1 == 1 << shift else 1
    return first + fork_level - shift + border


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree of ``size2`` with ``root2`` extends the one of ``size1``/``root1``.

    Raises:
        FormatError: a size is not a uint64.
        VerificationError: the proof does not show that the old tree is a prefix of the new.
    """
    _match(root_from_consistency_proof(size1, size2, proof, root1), root2, "consistency proof")


def root_from_subtree_consistency_proof(
    start: int, end: int, size: int, proof: Sequence[bytes], subtree_root: bytes
) -> bytes:
    """The root of the tree of ``size`` that contains subtree ``[start, end)``.

    Raises:
        FormatError: a number is not a uint64.
        VerificationError: an invalid subtree, ``size < end``, or a proof that fails.
    """
    _check_subtree(start, end)
    _uint64(size, "tree size")
    if size < end:
        raise VerificationError(f"tree size {size} is below the subtree end {end}")
    if start == end:
        raise VerificationError(f"the empty range [{start}, {end}) determines no tree root")
    if start == 0 and size == end:
        if proof:
            raise VerificationError("the subtree is the whole tree, but the proof is not empty")
        return subtree_root
    if not proof:
        raise VerificationError("empty subtree consistency proof")
    return _root_from_subtree_consistency(start, end, size, proof, subtree_root)


def verify_subtree_consistency(
    start: int,
    end: int,
    size: int,
    proof: Sequence[bytes],
    subtree_root: bytes,
    root: bytes,
) -> None:
    """Check that subtree ``[start, end)`` with ``subtree_root`` is part of ``root``.

    The empty range is part of every tree: with ``start == end`` the proof must be empty
    and ``subtree_root`` the empty tree's hash, and ``root`` is not looked at (the verdicts
    of transparency-dev/merkle's ``subtree-is-empty-*`` probes).

    Raises:
        FormatError: a number is not a uint64.
        VerificationError: the proof fails.
    """
    if start == end:
        _check_subtree(start, end)
        _uint64(size, "tree size")
        if size < end:
            raise VerificationError(f"tree size {size} is below the subtree end {end}")
        if proof:
            raise VerificationError("the subtree is empty, but the proof is not")
        _match(subtree_root, EMPTY_ROOT, "empty subtree")
        return
    calculated = root_from_subtree_consistency_proof(start, end, size, proof, subtree_root)
    _match(calculated, root, "subtree consistency proof")


def _root_from_subtree_consistency(
    start: int, end: int, size: int, proof: Sequence[bytes], subtree_root: bytes
) -> bytes:
    if end == size:
        # The subtree lies on the right border: its root joins one left sibling per level
        # at which one of its ancestors is a right child.
        level = ((end - 1) ^ start).bit_length()
        want = _ones(start >> level)
        if len(proof) != want:
            raise VerificationError(
                f"subtree consistency proof must have {want} hashes, found {len(proof)}"
            )
        return _chain_border_right(subtree_root, proof)

    # Split where the paths to leaves end-1 and size-1 diverge (RFC 9162 §2.1.4.2 step 1).
    fork_level, border = _decomp_inclusion(end - 1, size)
    # The proof starts at the root of the largest perfect subtree ending at end-1.
    shift = _trailing_zeros(end - start)
    inner = fork_level - shift
    if end - start == 1 << shift:
        # RFC 9162 §2.1.4.2 step 2: the old tree is itself perfect, so its root (known to
        # the verifier) is the seed and is not repeated in the proof.
        seed, first = subtree_root, 0
    else:
        if not proof:
            raise VerificationError("empty consistency proof")
        seed, first = proof[0], 1
    if len(proof) != first + inner + border:
        raise VerificationError(
            f"consistency proof from [{start}, {end}) to size {size} must have"
            f" {first + inner + border} hashes, found {len(proof)}"
        )
    rest = proof[first:]
    mask = (end - 1) >> shift

    if first == 1:
        # Rebuild the old root from the left siblings only (RFC 9162 §2.1.4.2 step 6).
        height = ((end - 1) ^ start).bit_length()
        sub_inner = min(height, fork_level) - shift
        sub_border = max(0, border - _ones((end - 1) >> height))
        old = _chain_inner_right(seed, rest[:sub_inner], mask)
        old = _chain_border_right(old, rest[inner : inner + sub_border])
        _match(old, subtree_root, "consistency proof (old root)")

    new = _chain_inner(seed, rest[:inner], mask)
    return _chain_border_right(new, rest[inner:])
