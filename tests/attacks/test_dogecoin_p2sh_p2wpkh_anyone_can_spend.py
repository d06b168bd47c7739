"""Attack: on a chain without segwit (Dogecoin), claim a P2SH address whose redeem script is
the P2SH-P2WPKH script ``0x0014 || HASH160(key)`` of a key one holds, signing with header
35..38 or (Electrum-style) 31..34. Without segwit that script leaves a non-empty push on the
stack: anyone can spend the output, so the key's signature proves no control of the coins.

Defence (spec §11.6): P2SH-P2WPKH is accepted only on networks with segwit.
"""

from __future__ import annotations

import base64

import base58
import coincurve
import pytest
from btclib.hashes import hash160

from verifier.errors import VerificationError
from verifier.signatures import DOGECOIN, LITECOIN, verify_bip137
from verifier.signatures.bitcoin import message_hash

KEY = coincurve.PrivateKey(bytes([7]) * 32)
MESSAGE = b"POR-TOOLKIT RESERVES CHALLENGE V1\nwallet: dogecoin ..."


def _p2sh_p2wpkh(version: int) -> str:
    script_hash = hash160(b"\x00\x14" + hash160(KEY.public_key.format()))
    return str(base58.b58encode_check(bytes([version]) + script_hash).decode())


def _sign(network: object, header_base: int) -> str:
    signed = KEY.sign_recoverable(message_hash(MESSAGE, network), hasher=None)  # type: ignore[arg-type]
    return base64.b64encode(bytes([header_base + signed[64]]) + signed[:64]).decode()


@pytest.mark.parametrize("header_base", [35, 31], ids=["bip137-p2sh-p2wpkh", "electrum"])
def test_dogecoin_p2sh_p2wpkh_anyone_can_spend(header_base: int) -> None:
    address = _p2sh_p2wpkh(DOGECOIN.p2sh_versions[0])
    with pytest.raises(VerificationError, match="no segwit"):
        verify_bip137(address, MESSAGE, _sign(DOGECOIN, header_base), DOGECOIN)


@pytest.mark.parametrize("header_base", [35, 31], ids=["bip137-p2sh-p2wpkh", "electrum"])
def test_litecoin_p2sh_p2wpkh_still_verifies(header_base: int) -> None:
    address = _p2sh_p2wpkh(LITECOIN.p2sh_versions[0])
    assert verify_bip137(address, MESSAGE, _sign(LITECOIN, header_base), LITECOIN).address \
        == address


def test_dogecoin_p2sh_p2wsh_multisig_anyone_can_spend() -> None:
    """The same hole for m-of-n: P2SH of ``0x0020 || sha256(script)`` on Dogecoin."""
    import hashlib

    from verifier.signatures import verify_multisig_bip137

    keys = [coincurve.PrivateKey(bytes([i]) * 32) for i in (8, 9)]
    script = b"\x51" + b"".join(b"\x21" + k.public_key.format() for k in keys) + b"\x52\xae"
    wrapped = hash160(b"\x00\x20" + hashlib.sha256(script).digest())
    address = base58.b58encode_check(bytes([DOGECOIN.p2sh_versions[0]]) + wrapped).decode()
    signed = keys[0].sign_recoverable(message_hash(MESSAGE, DOGECOIN), hasher=None)
    signature = base64.b64encode(bytes([31 + signed[64]]) + signed[:64]).decode()
    with pytest.raises(VerificationError, match="no segwit"):
        verify_multisig_bip137(address, MESSAGE, [signature], script, DOGECOIN)
