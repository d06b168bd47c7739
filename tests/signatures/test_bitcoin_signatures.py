"""BIP-137 vectors (strict header matrix included) and m-of-n multisig ownership."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import coincurve
import pytest
from btclib.b32 import p2wsh
from btclib.b58 import p2sh
from btclib.hashes import hash160

from verifier.errors import FormatError, VerificationError
from verifier.signatures.bitcoin import (
    BITCOIN,
    DOGECOIN,
    LITECOIN,
    BitcoinNetwork,
    decode_address,
    message_hash,
    verify_bip137,
    verify_multisig_bip137,
)

DATA = Path(__file__).parents[1] / "data" / "signatures"
BIP137 = json.loads((DATA / "bip137_legacy_vectors.json").read_text())
NETWORKS = {"bitcoin": BITCOIN, "dogecoin": DOGECOIN}


def _message(vector: dict[str, Any]) -> bytes:
    if "message_hex" in vector:
        return bytes.fromhex(vector["message_hex"])
    return str(vector["message"]).encode()


def _vector_id(vector: dict[str, Any]) -> str:
    label = vector.get("description") or vector.get("expected_result") or "valid"
    return f"{vector['repo']}:{vector['address'][:10]}:{label}".replace(" ", "-")


VERIFY = [v for v in BIP137["verify"] if v.get("kind") != "sign"]
SIGN = [v for v in BIP137["verify"] if v.get("kind") == "sign"]


@pytest.mark.parametrize("vector", VERIFY, ids=[_vector_id(v) for v in VERIFY])
def test_bip137_published_vector(vector: dict[str, Any]) -> None:
    network = NETWORKS[vector["network"]]
    if vector["expected_valid"]:
        proof = verify_bip137(vector["address"], _message(vector), vector["signature"], network)
        assert proof.scheme == "bip137"
        assert proof.address == vector["address"]
        assert len(proof.signer_keys) == 1
    else:
        with pytest.raises((FormatError, VerificationError)):
            verify_bip137(vector["address"], _message(vector), vector["signature"], network)


def test_bip137_vector_count() -> None:
    assert len(VERIFY) == 23 and len(SIGN) == 1
    assert sum(v["expected_valid"] for v in VERIFY) == 10


@pytest.mark.parametrize("vector", SIGN, ids=["bitcoin-core-message_sign"])
def test_bip137_sign_vector_generate_then_verify(vector: dict[str, Any]) -> None:
    # RFC 6979 signing by libsecp256k1 must reproduce Core's signature byte for byte.
    key = coincurve.PrivateKey(bytes.fromhex(vector["private_key_hex"]))
    digest = message_hash(_message(vector), BITCOIN)
    recoverable = key.sign_recoverable(digest, hasher=None)
    header = 31 + recoverable[64]
    signature = base64.b64encode(bytes([header]) + recoverable[:64]).decode()
    assert signature == vector["signature"]
    verify_bip137(vector["address"], _message(vector), signature)


@pytest.mark.parametrize("vector", BIP137["magic_hash"], ids=lambda v: f"{v['network']}")
def test_message_hash_vectors(vector: dict[str, Any]) -> None:
    digest = message_hash(vector["message"].encode(), NETWORKS[vector["network"]])
    assert digest.hex() == vector["expected_magic_hash"]


MATRIX = BIP137["strict_header_matrix"]
_BASE = base64.b64decode(MATRIX["base_signature"])
_HEADER_TYPES = {28: "p2pkh-uncompressed", 32: "p2pkh-compressed", 36: "p2sh-p2wpkh",
                 40: "p2wpkh"}
MATRIX_CASES = [
    (header, kind, address)
    for header in _HEADER_TYPES
    for kind, address in MATRIX["addresses"].items()
]


@pytest.mark.parametrize(
    ("header", "kind", "address"), MATRIX_CASES, ids=[f"h{h}-{k}" for h, k, _ in MATRIX_CASES]
)
def test_strict_header_matrix(header: int, kind: str, address: str) -> None:
    """Only the address type named by the header range verifies, and the compressed-key
    header for the segwit addresses of that key (Electrum, spec §11.6); P2TR never does."""
    signature = base64.b64encode(bytes([header]) + _BASE[1:]).decode()
    electrum = header == 32 and kind in ("p2sh-p2wpkh", "p2wpkh")
    if _HEADER_TYPES[header] == kind or electrum:
        assert verify_bip137(address, MATRIX["message"], signature).variant == (
            "electrum-segwit" if electrum else "strict")
    else:
        with pytest.raises(VerificationError):
            verify_bip137(address, MATRIX["message"], signature)


def test_strict_header_matrix_count() -> None:
    assert len(MATRIX_CASES) == 20


# --- malformed input never leaks a library exception -----------------------------------

GOOD = VERIFY[0]


@pytest.mark.parametrize(
    ("address", "signature"),
    [
        ("16UwLL9Risc3QfPqBUvKofHmBQ7wMtjvM ", GOOD["signature"]),  # trailing space
        ("16UwLL9Risc3QfPqBUvKofHmBQ7wMtjvN", GOOD["signature"]),  # bad checksum
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", GOOD["signature"]),  # bad bech32
        ("ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9", GOOD["signature"]),  # other chain
        ("", GOOD["signature"]),
        (GOOD["address"], GOOD["signature"][:-4]),  # truncated signature
        (GOOD["address"], GOOD["signature"] + "AAAA"),  # 68 bytes
        (GOOD["address"], "é" * 88),  # non-ASCII
        (GOOD["address"], "!!!!"),
    ],
    ids=["whitespace", "base58-checksum", "bech32-checksum", "wrong-hrp", "empty",
         "truncated", "too-long", "non-ascii", "not-base64"],
)
def test_malformed_is_format_error(address: str, signature: str) -> None:
    with pytest.raises(FormatError):
        verify_bip137(address, "vires is numeris", signature)


def test_undecodable_address_fails_even_with_a_valid_signature() -> None:
    """OKX's verifier passed an address it could not decode; we refuse it."""
    with pytest.raises(FormatError):
        verify_bip137("1PMycacnJaSqwwJqjawXBErnLsZ7RkXUA", "vires is numeris", GOOD["signature"])


def test_decode_address_kinds() -> None:
    assert decode_address("16UwLL9Risc3QfPqBUvKofHmBQ7wMtjvM").kind == "p2pkh"
    assert decode_address("3JvL6Ymt8MVWiCNHC7oWU6nLeHNJKLZGLN").kind == "p2sh"
    assert decode_address("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4").kind == "p2wpkh"
    assert decode_address(MATRIX["addresses"]["p2tr"]).kind == "p2tr"


# --- Litecoin: generate-then-verify (no published Litecoin signmessage vector) ----------

def _sign(key: coincurve.PrivateKey, message: bytes, network: BitcoinNetwork, offset: int) -> str:
    recoverable = key.sign_recoverable(message_hash(message, network), hasher=None)
    return base64.b64encode(bytes([offset + recoverable[64]]) + recoverable[:64]).decode()


def test_litecoin_bip137_p2pkh_and_p2wpkh() -> None:
    import base58
    from btclib.b32 import power_of_2_base_conversion
    from btclib.bech32 import encode as bech32_encode

    key = coincurve.PrivateKey(bytes(31) + b"\x07")
    h160 = hash160(key.public_key.format(compressed=True))
    p2pkh = base58.b58encode_check(bytes([0x30]) + h160).decode()
    p2wpkh = bech32_encode("ltc", [0, *power_of_2_base_conversion(h160, 8, 5)]).decode()
    verify_bip137(p2pkh, b"ltc", _sign(key, b"ltc", LITECOIN, 31), LITECOIN)
    verify_bip137(p2wpkh, b"ltc", _sign(key, b"ltc", LITECOIN, 39), LITECOIN)
    # A Bitcoin-magic signature does not verify on Litecoin.
    with pytest.raises(VerificationError):
        verify_bip137(p2pkh, b"ltc", _sign(key, b"ltc", BITCOIN, 31), LITECOIN)


# --- multisig ---------------------------------------------------------------------------

KEYS = [coincurve.PrivateKey(bytes(31) + bytes([i])) for i in (1, 2, 3, 4)]
PUBS = [k.public_key.format(compressed=True) for k in KEYS]
SCRIPT = bytes([0x52]) + b"".join(b"\x21" + p for p in PUBS[:3]) + bytes([0x53, 0xAE])
MESSAGE = b"I am an OKX address"


def _key_sig(index: int) -> str:
    return _sign(KEYS[index], MESSAGE, BITCOIN, 31)


@pytest.mark.parametrize("address", [p2sh(SCRIPT), p2wsh(SCRIPT)], ids=["p2sh", "p2wsh"])
def test_multisig_two_distinct_keys_verify(address: str) -> None:
    proof = verify_multisig_bip137(address, MESSAGE, [_key_sig(0), _key_sig(2)], SCRIPT)
    assert proof.signer_keys == (PUBS[0], PUBS[2])


def test_multisig_one_key_signing_twice_fails() -> None:
    """OKX's checker counted one key twice; m distinct keys must sign."""
    with pytest.raises(VerificationError, match="again"):
        verify_multisig_bip137(p2wsh(SCRIPT), MESSAGE, [_key_sig(0), _key_sig(0)], SCRIPT)


def test_multisig_key_outside_script_fails() -> None:
    with pytest.raises(VerificationError, match="not one of the script"):
        verify_multisig_bip137(p2wsh(SCRIPT), MESSAGE, [_key_sig(0), _key_sig(3)], SCRIPT)


def test_multisig_too_few_signatures_fails() -> None:
    with pytest.raises(VerificationError, match="only 1 distinct"):
        verify_multisig_bip137(p2wsh(SCRIPT), MESSAGE, [_key_sig(1)], SCRIPT)


def test_multisig_address_of_another_script_fails() -> None:
    other = bytes([0x52]) + b"".join(b"\x21" + p for p in PUBS[1:4]) + bytes([0x53, 0xAE])
    with pytest.raises(VerificationError, match="not the hash"):
        verify_multisig_bip137(p2wsh(other), MESSAGE, [_key_sig(0), _key_sig(1)], SCRIPT)


def test_multisig_address_header_type_refused() -> None:
    signature = _sign(KEYS[0], MESSAGE, BITCOIN, 39)  # declares "p2wpkh", not a key
    with pytest.raises(VerificationError, match="key header"):
        verify_multisig_bip137(p2wsh(SCRIPT), MESSAGE, [signature, _key_sig(1)], SCRIPT)


def test_multisig_not_a_multisig_script_is_format_error() -> None:
    with pytest.raises(FormatError):
        verify_multisig_bip137(p2wsh(b"\x51"), MESSAGE, [_key_sig(0), _key_sig(1)], b"\x51")


def test_multisig_wrong_message_fails() -> None:
    with pytest.raises(VerificationError):
        verify_multisig_bip137(p2wsh(SCRIPT), b"other", [_key_sig(0), _key_sig(1)], SCRIPT)
