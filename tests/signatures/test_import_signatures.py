"""`por reserves import-signatures` verifies every signature before it writes (spec §11.5).

The draft is built with the library (``init`` needs nodes to fix snapshots; the snapshot
block hashes here are made up, which the signature check never reads). Signatures come from
the libraries custody tools use: eth-account, coincurve (BIP-137 compact, Electrum's header),
pyca/cryptography (Ed25519 over the Anza v0 layout).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import base58
import coincurve
import pytest
from btclib.b32 import address_from_witness
from btclib.hashes import hash160
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account import Account
from eth_account.messages import encode_defunct
from reserves_helpers import por, por_verify

from por.errors import InputError
from por.reserves.round import DRAFT_FILE, new_draft, save_draft, write_challenges
from verifier.liabilities.mst import Asset
from verifier.liabilities.summary import RootSummary
from verifier.reserves.model import Chain, ChainAsset, Custody, Wallet, WalletList
from verifier.signatures.bitcoin import message_hash
from verifier.signatures.evm import checksum_address
from verifier.signatures.solana import serialize_anza_v0

EVM_KEY = Account.from_key(bytes([1]) * 32)
OTHER_EVM_KEY = Account.from_key(bytes([2]) * 32)
BTC_KEY = coincurve.PrivateKey(bytes([3]) * 32)
SOL_KEY = Ed25519PrivateKey.from_private_bytes(bytes([4]) * 32)
SOL_PUBLIC = SOL_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
SOL_ADDRESS = base58.b58encode(SOL_PUBLIC).decode()
BTC_ADDRESS = address_from_witness(0, hash160(BTC_KEY.public_key.format()), "mainnet")
CONTRACT = checksum_address("0x" + "c0" * 20)  # canonical, as `init` writes it


@pytest.fixture
def draft_dir(tmp_path: Path) -> Path:
    assets = (Asset("ETH", 18), Asset("BTC", 8), Asset("SOL", 9))
    chains = (
        Chain("bitcoin", "bitcoin", "bitcoin", (ChainAsset("BTC", None),), 900000, "aa" * 32),
        Chain("ethereum", "evm", "1", (ChainAsset("ETH", None),), 21000000, "bb" * 32),
        Chain("solana", "solana", "mainnet", (ChainAsset("SOL", None),), 300000000, "cc" * 32),
    )
    wallets = WalletList("Example Exchange", assets, chains, (
        Wallet("ethereum", EVM_KEY.address, Custody("single"), ("ETH",)),
        Wallet("ethereum", OTHER_EVM_KEY.address, Custody("single"), ("ETH",)),
        Wallet("ethereum", CONTRACT, Custody("contract"), ("ETH",)),
        Wallet("bitcoin", str(BTC_ADDRESS), Custody("single"), ("BTC",)),
        Wallet("solana", SOL_ADDRESS, Custody("single"), ("SOL",)),
    ))
    summary = RootSummary("2026-11-28", assets, 2, bytes([9]) * 32, (0, 0, 0))
    out = tmp_path / "round"
    draft = new_draft(wallets, summary, chains)
    save_draft(out, draft)
    write_challenges(out, draft)
    return out


def _message(directory: Path, index: int) -> bytes:
    return next((directory / "challenges").glob(f"{index:03d}-*.txt")).read_bytes()


def _good_signatures(directory: Path) -> list[dict[str, Any]]:
    typed = json.loads(next((directory / "challenges").glob("001-*.eip712.json")).read_text())
    btc = BTC_KEY.sign_recoverable(message_hash(_message(directory, 3)), hasher=None)
    electrum = bytes([31 + btc[64]]) + btc[:64]  # Electrum: key header for a P2WPKH address
    anza = serialize_anza_v0(_message(directory, 4), SOL_PUBLIC, 1)
    return [
        {"chain": "ethereum", "address": EVM_KEY.address, "scheme": "eip191",
         "value": Account.sign_message(encode_defunct(_message(directory, 0)),
                                       EVM_KEY.key).signature.hex()},
        {"chain": "ethereum", "address": OTHER_EVM_KEY.address, "scheme": "eip712",
         "value": Account.sign_typed_data(OTHER_EVM_KEY.key,
                                          full_message=typed).signature.hex()},
        {"chain": "ethereum", "address": CONTRACT, "scheme": "eip1271", "value": "0x" + "11" * 65},
        {"chain": "bitcoin", "address": str(BTC_ADDRESS), "scheme": "bip137",
         "value": base64.b64encode(electrum).decode()},
        {"chain": "solana", "address": SOL_ADDRESS, "scheme": "solana-offchain",
         "value": base58.b58encode(SOL_KEY.sign(anza)).decode()},
    ]


def _import(directory: Path, signatures: list[dict[str, Any]], *extra: str) -> Any:
    path = directory.parent / "sigs.json"
    path.write_text(json.dumps(signatures))
    return por("reserves", "import-signatures", str(directory), str(path), *extra)


def test_good_signatures_are_verified_and_written(draft_dir: Path) -> None:
    result = _import(draft_dir, _good_signatures(draft_dir))
    assert result.exit_code == 0, result.output
    assert result.output.count("verified: wallet") == 4
    assert "[electrum-segwit]" in result.output and "[anza-v0]" in result.output
    assert "not checked: wallet 2" in result.output and "--rpc ethereum=URL" in result.output
    draft = json.loads((draft_dir / DRAFT_FILE).read_text())
    assert all(w["signature"] for w in draft["wallets"])


def test_ethers_ready_typed_data_is_written(draft_dir: Path) -> None:
    full = json.loads(next((draft_dir / "challenges").glob("000-*.eip712.json")).read_text())
    ethers = json.loads(next((draft_dir / "challenges").glob("000-*.eip712-ethers.json"))
                        .read_text())
    assert "EIP712Domain" in full["types"] and "EIP712Domain" not in ethers["types"]
    assert ethers["domain"] == full["domain"] and ethers["message"] == full["message"]


def _forged(directory: Path, index: int) -> str:
    """A well-formed signature of wallet ``index``'s challenge by a key that is not its own
    (Solana: its own key over another message)."""
    message = _message(directory, index)
    if index == 0:
        return str(Account.sign_message(encode_defunct(message),
                                        OTHER_EVM_KEY.key).signature.hex())
    if index == 1:
        typed = json.loads(next((directory / "challenges").glob("001-*.eip712.json")).read_text())
        return str(Account.sign_typed_data(EVM_KEY.key, full_message=typed).signature.hex())
    if index == 3:
        thief = coincurve.PrivateKey(bytes([5]) * 32)
        sig = thief.sign_recoverable(message_hash(message), hasher=None)
        return base64.b64encode(bytes([31 + sig[64]]) + sig[:64]).decode()
    return base58.b58encode(SOL_KEY.sign(b"another message")).decode()


@pytest.mark.parametrize("broken", [0, 1, 3, 4], ids=["eip191", "eip712", "bip137", "solana"])
def test_a_bad_signature_writes_nothing_and_names_the_wallet(draft_dir: Path,
                                                             broken: int) -> None:
    before = (draft_dir / DRAFT_FILE).read_bytes()
    signatures = _good_signatures(draft_dir)
    signatures[broken]["value"] = _forged(draft_dir, broken)
    result = _import(draft_dir, signatures)
    assert result.exit_code == 1, result.output
    assert f"FAILED: wallet {broken} " in result.output
    assert "1 of 5 signature(s) did not verify; nothing was written" in result.output
    assert (draft_dir / DRAFT_FILE).read_bytes() == before


def test_solana_failure_names_the_expected_layouts(draft_dir: Path) -> None:
    signatures = _good_signatures(draft_dir)
    signatures[4]["value"] = base58.b58encode(SOL_KEY.sign(b"x")).decode()
    result = _import(draft_dir, signatures)
    assert result.exit_code == 1
    assert "cli-v0" in result.output and "anza-v0" in result.output


def test_a_malformed_signature_exits_2_and_writes_nothing(draft_dir: Path) -> None:
    before = (draft_dir / DRAFT_FILE).read_bytes()
    signatures = _good_signatures(draft_dir)
    signatures[3]["value"] = "not base64!"
    result = _import(draft_dir, signatures)
    assert result.exit_code == 2, result.output
    assert "MALFORMED: wallet 3 " in result.output
    assert (draft_dir / DRAFT_FILE).read_bytes() == before


def test_allow_failed_keeps_them_and_says_so(draft_dir: Path) -> None:
    signatures = _good_signatures(draft_dir)
    signatures[0]["value"] = signatures[1]["value"]
    result = _import(draft_dir, signatures, "--allow-failed")
    assert result.exit_code == 0, result.output
    assert "FAILED: wallet 0 " in result.output and "1 failed but kept" in result.output
    draft = json.loads((draft_dir / DRAFT_FILE).read_text())
    assert draft["wallets"][0]["signature"]["value"] == signatures[1]["value"]


def test_only_the_imported_wallets_are_checked(draft_dir: Path) -> None:
    result = _import(draft_dir, _good_signatures(draft_dir)[3:4])
    assert result.exit_code == 0, result.output
    assert result.output.count("wallet ") == 1 and "4 wallet(s) still unsigned" in result.output


def test_por_verify_agrees_with_the_import(draft_dir: Path) -> None:
    """What import-signatures verified (Electrum-style BIP-137, anza-v0, EIP-191/712),
    por-verify's signature checks accept too: no signature finding, offline."""
    from por.reserves.round import finish, load_draft, read_balances
    from verifier.reserves.model import ReservesFile
    from verifier.reserves.verify import verify_reserves

    assert _import(draft_dir, _good_signatures(draft_dir)).exit_code == 0
    draft = load_draft(draft_dir)
    reported = {(w.chain, w.address.lower(), a): 1 for w in draft.wallets for a in w.assets}
    reserves = ReservesFile.from_json(finish(read_balances(draft, {}, reported)), "test")
    findings = verify_reserves(reserves, {}).findings
    signature_findings = [(f.wallet, f.code) for f in findings
                          if "signature" in f.code or f.code == "stale-message"]
    assert signature_findings == [(2, "bad-signature")]  # EIP-1271: no node, cannot check


def _compact(signature_hex: str) -> str:
    """EIP-2098: r ‖ (yParity << 255 | s), from a 65-byte r ‖ s ‖ v."""
    raw = bytes.fromhex(signature_hex.removeprefix("0x"))
    s = int.from_bytes(raw[32:64], "big") | ((raw[64] - 27) << 255)
    return "0x" + (raw[:32] + s.to_bytes(32, "big")).hex()


def _finished(directory: Path, signatures: list[dict[str, Any]]) -> Path:
    """Import ``signatures``, take every balance as reported, write the reserves file."""
    from por.reserves.round import load_draft, read_balances, save_draft

    assert _import(directory, signatures).exit_code == 0
    draft = load_draft(directory)
    reported = {(w.chain, w.address.lower(), a): 1 for w in draft.wallets for a in w.assets}
    save_draft(directory, read_balances(draft, {}, reported))
    out = directory.parent / "reserves.json"
    result = por("reserves", "write", str(directory), "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


def test_por_verify_reports_the_form_that_verified(draft_dir: Path) -> None:
    """One dispatch (verifier.signatures.wallet) for import and por-verify, and the report
    names the encoding that verified (spec §11.6), in text and in --json."""
    signatures = _good_signatures(draft_dir)
    signatures[1]["value"] = _compact(signatures[1]["value"])  # EIP-2098 from a wallet
    path = _finished(draft_dir, signatures)
    result = por_verify("reserves", str(path), "--json")
    assert result.exit_code == 1  # reported balances: never confirmed
    report = json.loads(result.output)
    forms = {s["wallet"]: (s["scheme"], s["rule"], s["form"]) for s in report["signatures"]}
    assert forms == {
        0: ("eip191", "eip191", "65-byte"),
        1: ("eip712", "eip712", "eip2098-compact"),
        3: ("bip137", "bip137", "electrum-segwit"),
        4: ("solana-offchain", "solana-offchain-v0", "anza-v0"),
    }  # wallet 2 (EIP-1271) has no node: a bad-signature finding, not a line here
    text = por_verify("reserves", str(path)).output
    assert f"signature: wallet 3 (bitcoin {BTC_ADDRESS}): bip137 verified as bip137, " \
           "form electrum-segwit" in text
    assert "form eip2098-compact" in text and "form anza-v0" in text


def test_por_verify_caps_base58_values(draft_dir: Path) -> None:
    """A base58 value is decoded only up to wallet.py's bound (base58 decoding is
    quadratic): a longer one is a malformed-signature finding, as at import."""
    from verifier.signatures.wallet import MAX_BASE58_VALUE

    path = _finished(draft_dir, _good_signatures(draft_dir))
    data = json.loads(path.read_text())
    data["wallets"][4]["signature"]["value"] = "2" * (MAX_BASE58_VALUE + 1)
    path.write_text(json.dumps(data))
    report = json.loads(por_verify("reserves", str(path), "--json").output)
    found = [f for f in report["findings"] if f["wallet"] == 4]
    assert [f["code"] for f in found] == ["malformed-signature"]
    assert f"at most {MAX_BASE58_VALUE} characters" in found[0]["message"]


def test_write_verifies_every_signature_and_writes_nothing_if_one_fails(
        draft_dir: Path) -> None:
    from por.reserves.round import load_draft, read_balances, save_draft

    signatures = _good_signatures(draft_dir)
    signatures[3]["value"] = _forged(draft_dir, 3)
    assert _import(draft_dir, signatures, "--allow-failed").exit_code == 0
    draft = load_draft(draft_dir)
    reported = {(w.chain, w.address.lower(), a): 1 for w in draft.wallets for a in w.assets}
    save_draft(draft_dir, read_balances(draft, {}, reported))
    out = draft_dir.parent / "reserves.json"
    result = por("reserves", "write", str(draft_dir), "--out", str(out))
    assert result.exit_code == 1, result.output
    assert "FAILED: wallet 3 " in result.output
    assert "1 of 5 signature(s) did not verify; nothing was written" in result.output
    assert "not checked: wallet 2" in result.output  # EIP-1271 without a node
    assert not out.exists()
    result = por("reserves", "write", str(draft_dir), "--out", str(out), "--allow-failed")
    assert result.exit_code == 0, result.output
    assert "1 signature(s) that failed, kept by --allow-failed" in result.output
    assert json.loads(out.read_text())["wallets"][3]["signature"]["value"] == \
        signatures[3]["value"]


def test_write_refuses_a_draft_whose_snapshot_moved_after_signing(draft_dir: Path) -> None:
    """Signatures over the challenges of another snapshot are stale: por-verify would refuse
    them, so write does (exit 1, nothing written)."""
    from por.reserves.round import load_draft, read_balances, save_draft

    assert _import(draft_dir, _good_signatures(draft_dir)).exit_code == 0
    draft = load_draft(draft_dir)
    reported = {(w.chain, w.address.lower(), a): 1 for w in draft.wallets for a in w.assets}
    save_draft(draft_dir, read_balances(draft, {}, reported))
    data = json.loads((draft_dir / DRAFT_FILE).read_text())
    data["chains"][0]["height"] += 1  # bitcoin re-snapshotted after the signatures
    (draft_dir / DRAFT_FILE).write_text(json.dumps(data))
    out = draft_dir.parent / "reserves.json"
    result = por("reserves", "write", str(draft_dir), "--out", str(out))
    assert result.exit_code == 1, result.output
    # Every challenge names every chain's snapshot: all five are stale, listed twice.
    assert "5 of 5 signature(s) did not verify; nothing was written" in result.output
    assert result.output.count("(stale)") == 10
    assert not out.exists()


def test_write_refuses_a_malformed_signature_with_exit_2(draft_dir: Path) -> None:
    from por.reserves.round import load_draft, read_balances, save_draft

    assert _import(draft_dir, _good_signatures(draft_dir)).exit_code == 0
    draft = load_draft(draft_dir)
    reported = {(w.chain, w.address.lower(), a): 1 for w in draft.wallets for a in w.assets}
    save_draft(draft_dir, read_balances(draft, {}, reported))
    data = json.loads((draft_dir / DRAFT_FILE).read_text())
    data["wallets"][0]["signature"]["value"] = "0x1234"
    (draft_dir / DRAFT_FILE).write_text(json.dumps(data))
    out = draft_dir.parent / "reserves.json"
    result = por("reserves", "write", str(draft_dir), "--out", str(out))
    assert result.exit_code == 2, result.output
    assert "MALFORMED: wallet 0 " in result.output and not out.exists()


def test_new_draft_puts_addresses_in_canonical_form(tmp_path: Path) -> None:
    """A caller of new_draft passing a lowercase EVM address (not through
    load_wallet_list) gets the EIP-55 address in the draft and in its challenge, which
    por-verify accepts: no stale-message."""
    from por.reserves.round import finish, load_draft, read_balances
    from verifier.reserves.model import ReservesFile
    from verifier.reserves.verify import verify_reserves

    assets = (Asset("ETH", 18),)
    chain = Chain("ethereum", "evm", "1", (ChainAsset("ETH", None),), 21000000, "bb" * 32)
    lower = EVM_KEY.address.lower()
    wallets = WalletList("Example Exchange", assets, (chain,), (
        Wallet("ethereum", lower, Custody("single"), ("ETH",)),))
    draft = new_draft(wallets, RootSummary("2026-11-28", assets, 2, bytes(32), (0,)), (chain,))
    assert draft.wallets[0].address == EVM_KEY.address != lower
    assert draft.wallets[0].signed_message is not None
    assert draft.wallets[0].signed_message.endswith(f"wallet: ethereum {EVM_KEY.address}")
    directory = tmp_path / "round"
    save_draft(directory, draft)
    write_challenges(directory, draft)
    message = _message(directory, 0)
    result = _import(directory, [{
        "chain": "ethereum", "address": lower, "scheme": "eip191",
        "value": Account.sign_message(encode_defunct(message), EVM_KEY.key).signature.hex()}])
    assert result.exit_code == 0, result.output
    draft = read_balances(load_draft(directory), {}, {("ethereum", lower, "ETH"): 1})
    report = verify_reserves(ReservesFile.from_json(finish(draft), "test"), {})
    # No stale-message: only the chain without a node (offline here).
    assert [f.code for f in report.findings] == ["not-confirmed"]
    assert [s.wallet for s in report.signatures] == [0]


def test_new_draft_refuses_one_wallet_listed_in_two_cases(tmp_path: Path) -> None:
    assets = (Asset("ETH", 18),)
    chain = Chain("ethereum", "evm", "1", (ChainAsset("ETH", None),), 21000000, "bb" * 32)
    wallets = WalletList("Example Exchange", assets, (chain,), (
        Wallet("ethereum", EVM_KEY.address, Custody("single"), ("ETH",)),
        Wallet("ethereum", EVM_KEY.address.lower(), Custody("single"), ("ETH",))))
    with pytest.raises(InputError, match="already listed"):
        new_draft(wallets, RootSummary("2026-11-28", assets, 2, bytes(32), (0,)), (chain,))


@pytest.mark.parametrize("change, message", [
    ({"address": 5}, "address"),
    ({"chain": ["ethereum"]}, "chain"),
    ({"scheme": None}, "scheme"),
    ({"address": "0x" + "zz" * 20}, "address"),
    ({"chain": "polygon"}, "not a wallet of this round"),
])
def test_import_refuses_malformed_entries_with_exit_2(draft_dir: Path, change: dict[str, Any],
                                                      message: str) -> None:
    """Mistyped fields are input errors naming the field, never a traceback."""
    before = (draft_dir / DRAFT_FILE).read_bytes()
    signatures = _good_signatures(draft_dir)
    signatures[0].update(change)
    result = _import(draft_dir, signatures)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert (draft_dir / DRAFT_FILE).read_bytes() == before


def test_import_finds_a_wallet_by_identity_and_refuses_two_signatures_for_it(
        draft_dir: Path) -> None:
    signatures = _good_signatures(draft_dir)
    signatures[0]["address"] = signatures[0]["address"].lower()
    signatures[3]["address"] = signatures[3]["address"].upper()  # bech32 in upper case
    result = _import(draft_dir, signatures)
    assert result.exit_code == 0, result.output
    assert result.output.count("verified: wallet") == 4
    signatures.append(dict(signatures[0], address=EVM_KEY.address))
    result = _import(draft_dir, signatures)
    assert result.exit_code == 2 and "a second signature for ethereum" in result.output
