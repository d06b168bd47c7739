"""EIP-55 checksummed EVM addresses, with no EVM library: Keccak-256 from pycryptodome.

Owns :func:`checksum_address`, which parsing a reserves file needs (EVM token contracts)
even in the verifier-only install (issue 12); the signature checks stay in
:mod:`verifier.signatures.evm` (the [reserves] extra). tests/signatures/test_eip55.py checks
it against eth-utils' ``to_checksum_address``.
"""

from __future__ import annotations

import re

from Crypto.Hash import keccak

from verifier.errors import FormatError

_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}")


def _eip55(body: str) -> str:
    """EIP-55: hex digit i is upper case when nibble i of keccak256(lowercase hex) >= 8."""
    lower = body.lower()
    digest = keccak.new(digest_bits=256, data=lower.encode("ascii")).hexdigest()
    return "0x" + "".join(c.upper() if int(d, 16) >= 8 else c for c, d in zip(lower, digest,
                                                                              strict=False))


def checksum_address(address: str) -> str:
    """Validate an EVM address and return its EIP-55 checksummed form.

    An all-lowercase or all-uppercase address carries no checksum and is accepted as is;
    a mixed-case address must carry a correct EIP-55 checksum (a wrong one is a typo that
    would otherwise name a different account).

    Raises:
        FormatError: Not ``0x`` + 40 hex digits, or mixed case with a wrong checksum.
    """
    if not _ADDRESS_RE.fullmatch(address):
        raise FormatError(f"EVM address {address!r}: expected 0x followed by 40 hex digits")
    checksummed = _eip55(address[2:])
    body = address[2:]
    if body not in (body.lower(), body.upper()) and address != checksummed:
        raise FormatError(
            f"EVM address {address}: mixed case with a wrong EIP-55 checksum "
            f"(expected {checksummed})"
        )
    return checksummed
