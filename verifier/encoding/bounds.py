"""Bounds that every format's byte encoding shares (docs/spec.md §2).

Here, below both the JSON reader (:mod:`verifier.encoding.strictjson`) and the hashing
core (:mod:`verifier.liabilities.mst`), so that the encodings depend on no format.
"""

from __future__ import annotations

HASH_SIZE = 32  # spec §2: SHA-256, full width, never truncated
MAX_AMOUNT = (1 << 128) - 1  # spec §2: an amount is an unsigned 128-bit integer
