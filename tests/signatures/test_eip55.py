"""The verifier's own EIP-55 (pycryptodome's Keccak, no EVM library: issue 12) against
eth-utils' ``to_checksum_address``, the reference, on random addresses in every case."""

from __future__ import annotations

import pytest
from eth_utils import to_checksum_address
from hypothesis import given
from hypothesis import strategies as st

from verifier.errors import FormatError
from verifier.signatures.eip55 import checksum_address


@given(st.binary(min_size=20, max_size=20))
def test_matches_eth_utils(raw: bytes) -> None:
    expected = to_checksum_address("0x" + raw.hex())
    assert checksum_address("0x" + raw.hex()) == expected
    assert checksum_address("0x" + raw.hex().upper()) == expected
    assert checksum_address(expected) == expected


@given(st.binary(min_size=20, max_size=20), st.integers(min_value=0, max_value=39))
def test_a_wrong_mixed_case_checksum_is_refused(raw: bytes, flip: int) -> None:
    good = to_checksum_address("0x" + raw.hex())
    body = good[2:]
    if not body[flip].isalpha() or body.lower() == body or body.upper() == body:
        return
    bad = "0x" + body[:flip] + body[flip].swapcase() + body[flip + 1:]
    if bad[2:] in (bad[2:].lower(), bad[2:].upper()):
        return  # flipping made it single-case: no checksum to check
    with pytest.raises(FormatError, match="EIP-55"):
        checksum_address(bad)


@pytest.mark.parametrize("text", ["", "0x", "0x" + "0" * 39, "0x" + "g" * 40, "00" * 21,
                                  " 0x" + "0" * 40])
def test_malformed(text: str) -> None:
    with pytest.raises(FormatError, match="40 hex digits"):
        checksum_address(text)
