"""Reserves on a real EVM node: Hardhat 2 on loopback, an ERC-20 and an EIP-1271 wallet.

The whole operator flow runs through ``por reserves`` against the node, then
``por-verify reserves`` re-reads every balance at the recorded block, after the chain has
moved on (funds moved, the contract wallet's owner changed), and catches named attacks.
Signing keys are generated per test run; Hardhat's unlocked dev accounts only pay for gas.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_defunct
from reserves_helpers import deploy, erc20_transfer, por, por_verify, send, write_root
from reserves_nodes import Node, start_hardhat

from verifier.liabilities.mst import Asset
from verifier.reserves.challenge import eip712_challenge
from verifier.signatures.evm import personal_sign_digest

ETHER = 10**18


@pytest.fixture(scope="module")
def hardhat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    node = start_hardhat(tmp_path_factory.mktemp("hardhat"))
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="module")
def evm_round(hardhat: Node, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One round: three wallets (personal_sign, EIP-712, contract) signed and read."""
    tmp = tmp_path_factory.mktemp("evm-round")
    funder = hardhat.call("eth_accounts")[0]
    token = deploy(hardhat, funder, "TestToken", ["string", "string", "uint8", "uint256"],
                   ["Tether USD", "USDT", 6, 10**15])
    eoa, typed_signer, owner = Account.create(), Account.create(), Account.create()
    contract = deploy(hardhat, funder, "OwnedWallet", ["address"], [owner.address])
    send(hardhat, funder, eoa.address, 5 * ETHER + 123)
    send(hardhat, funder, typed_signer.address, 7 * ETHER)
    send(hardhat, funder, contract, 2 * ETHER)
    send(hardhat, funder, token, data=erc20_transfer(eoa.address, 1_000_000_001))
    send(hardhat, funder, token, data=erc20_transfer(contract, 500_000_000))
    root = tmp / "root.json"
    write_root(root, "2026-11-25", [Asset("ETH", 18), Asset("USDT", 6)])
    wallets = {
        "scheme": "por-wallets", "version": 1, "exchange": "Example Exchange",
        "assets": [{"symbol": "ETH", "decimals": 18}, {"symbol": "USDT", "decimals": 6}],
        "chains": [{"name": "ethereum", "kind": "evm", "network": "31337", "assets": [
            {"symbol": "ETH", "token": None}, {"symbol": "USDT", "token": token}]}],
        "wallets": [
            {"chain": "ethereum", "address": eoa.address.lower(), "custody": {"kind": "single"},
             "assets": ["ETH", "USDT"]},
            {"chain": "ethereum", "address": typed_signer.address,
             "custody": {"kind": "single"}, "assets": ["ETH"]},
            {"chain": "ethereum", "address": contract, "custody": {"kind": "contract"},
             "assets": ["ETH", "USDT"]},
        ],
    }
    (tmp / "wallets.json").write_text(json.dumps(wallets))
    work = tmp / "work"
    result = por("reserves", "init", str(tmp / "wallets.json"), "--summary", str(root),
                 "--rpc", f"ethereum={hardhat.url}", "--out", str(work))
    assert result.exit_code == 0, result.output
    challenges = sorted((work / "challenges").glob("*.txt"))
    assert len(challenges) == 3
    messages = [p.read_bytes() for p in challenges]
    typed = json.loads(next((work / "challenges").glob("001-*.eip712.json")).read_text())
    assert typed == eip712_challenge(messages[1], 31337)
    owner_sig = Account.unsafe_sign_hash(personal_sign_digest(messages[2]), owner.key)
    signatures = [
        {"chain": "ethereum", "address": eoa.address, "scheme": "eip191",
         "value": Account.sign_message(encode_defunct(messages[0]), eoa.key).signature.hex()},
        {"chain": "ethereum", "address": typed_signer.address, "scheme": "eip712",
         "value": Account.sign_typed_data(typed_signer.key, full_message=typed).signature.hex()},
        {"chain": "ethereum", "address": contract, "scheme": "eip1271",
         "value": "0x" + bytes(owner_sig.signature).hex()},
    ]
    (tmp / "sigs.json").write_text(json.dumps(signatures))
    assert por("reserves", "import-signatures", str(work), str(tmp / "sigs.json")).exit_code == 0
    result = por("reserves", "read-balances", str(work), "--rpc", f"ethereum={hardhat.url}")
    assert result.exit_code == 0, result.output
    reserves = tmp / "reserves.json"
    assert por("reserves", "write", str(work), "--out", str(reserves)).exit_code == 0
    # The chain moves on after the snapshot: funds leave, the contract gets a new owner.
    # The verifier must still confirm everything *at the snapshot block*.
    send(hardhat, funder, eoa.address, 1 * ETHER)
    new_owner = Account.create()
    set_owner = bytes.fromhex("13af4035") + encode(["address"], [new_owner.address])
    hardhat.call("hardhat_impersonateAccount", owner.address)
    send(hardhat, funder, owner.address, ETHER)
    send(hardhat, owner.address, contract, data=set_owner)
    return {"reserves": reserves, "root": root, "url": hardhat.url, "tmp": tmp,
            "token": token, "eoa": eoa, "contract": contract}


def test_reserves_file_records_exact_balances(evm_round: dict[str, Any]) -> None:
    data = json.loads(evm_round["reserves"].read_text())
    assert data["totals"] == [str(14 * ETHER + 123), "1500000001"]
    eoa = data["wallets"][0]
    assert eoa["address"] == evm_round["eoa"].address  # normalised to EIP-55
    assert eoa["balances"] == [
        {"asset": "ETH", "amount": str(5 * ETHER + 123), "source": "node"},
        {"asset": "USDT", "amount": "1000000001", "source": "node"},
    ]


def test_verifier_confirms_every_balance_at_the_snapshot_block(evm_round: dict[str, Any]) -> None:
    result = por_verify("reserves", str(evm_round["reserves"]), "--rpc",
                        f"ethereum={evm_round['url']}", "--summary", str(evm_round["root"]),
                        "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["verdict"] == "VERIFIED"
    assert [a["confirmed"] for a in report["assets"]] == [str(14 * ETHER + 123), "1500000001"]


def _mutate(evm_round: dict[str, Any], name: str, change: Any) -> Path:
    data = json.loads(evm_round["reserves"].read_text())
    change(data)
    path = evm_round["tmp"] / f"{name}.json"
    path.write_text(json.dumps(data))
    return path


def _verify_fails(evm_round: dict[str, Any], path: Path) -> dict[str, Any]:
    result = por_verify("reserves", str(path), "--rpc", f"ethereum={evm_round['url']}", "--json")
    assert result.exit_code == 1, result.output
    report: dict[str, Any] = json.loads(result.output)
    assert report["verdict"] == "FAILED"
    return report


def test_tampered_balance_fails_with_balance_mismatch(evm_round: dict[str, Any]) -> None:
    def inflate(data: dict[str, Any]) -> None:
        data["wallets"][0]["balances"][1]["amount"] = "2000000001"
        data["totals"][1] = "2500000001"

    report = _verify_fails(evm_round, _mutate(evm_round, "tampered-balance", inflate))
    codes = [f["code"] for f in report["findings"]]
    assert codes == ["balance-mismatch"]
    assert "the node says 1000000001" in report["findings"][0]["message"]


def test_signature_from_another_round_fails_as_stale(evm_round: dict[str, Any]) -> None:
    def other_round(data: dict[str, Any]) -> None:
        data["round"] = "2026-11-26"

    report = _verify_fails(evm_round, _mutate(evm_round, "other-round", other_round))
    assert {f["code"] for f in report["findings"]} == {"stale-message"}
    assert "for round '2026-11-25', not '2026-11-26'" in report["findings"][0]["message"]


def test_snapshot_on_another_fork_fails(evm_round: dict[str, Any]) -> None:
    def other_block(data: dict[str, Any]) -> None:
        data["chains"][0]["block_hash"] = "ab" * 32

    report = _verify_fails(evm_round, _mutate(evm_round, "other-fork", other_block))
    assert "block-hash-mismatch" in {f["code"] for f in report["findings"]}


def test_contract_wallet_signature_by_a_stranger_fails(evm_round: dict[str, Any]) -> None:
    stranger = Account.create()

    def forge(data: dict[str, Any]) -> None:
        digest = personal_sign_digest(data["wallets"][2]["signed_message"].encode())
        sig = Account.unsafe_sign_hash(digest, stranger.key).signature
        data["wallets"][2]["signature"]["value"] = "0x" + bytes(sig).hex()

    report = _verify_fails(evm_round, _mutate(evm_round, "eip1271-stranger", forge))
    assert [f["code"] for f in report["findings"]] == ["bad-signature"]
    assert "isValidSignature returned ffffffff" in report["findings"][0]["message"]


def test_offline_reported_balance_is_never_counted_as_confirmed(
    evm_round: dict[str, Any],
) -> None:
    def reported(data: dict[str, Any]) -> None:
        data["wallets"][1]["balances"][0]["source"] = "reported"

    path = _mutate(evm_round, "reported", reported)
    result = por_verify("reserves", str(path), "--rpc", f"ethereum={evm_round['url']}")
    assert result.exit_code == 1
    assert "reported by the exchange, not read from a node" in result.output


def test_no_node_given_confirms_nothing(evm_round: dict[str, Any]) -> None:
    result = por_verify("reserves", str(evm_round["reserves"]))
    assert result.exit_code == 1
    assert "no node given (--rpc ethereum=URL)" in result.output


def test_node_down_is_an_error_naming_node_and_call(evm_round: dict[str, Any]) -> None:
    from reserves_nodes import free_port

    url = f"http://127.0.0.1:{free_port()}"
    result = por_verify("reserves", str(evm_round["reserves"]), "--rpc", f"ethereum={url}",
                        "--timeout", "1")
    assert result.exit_code == 2
    assert f"ethereum node {url}, call eth_chainId: no answer after 3" in result.output


# --- A Safe-style contract wallet: owners sign Safe's SafeMessage hash (EIP-1271) ---------

@pytest.fixture(scope="module")
def safe_round(hardhat: Node, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A 2-of-3 SafeLikeWallet (Safe v1.4.1's isValidSignature) holding 3 ETH, one round."""
    tmp = tmp_path_factory.mktemp("safe-round")
    funder = hardhat.call("eth_accounts")[0]
    owners = sorted((Account.create() for _ in range(3)), key=lambda a: int(a.address, 16))
    safe = deploy(hardhat, funder, "SafeLikeWallet", ["address[]", "uint256"],
                  [[o.address for o in owners], 2])
    send(hardhat, funder, safe, 3 * ETHER)
    root = tmp / "root.json"
    write_root(root, "2026-11-25", [Asset("ETH", 18)], seed=3)
    wallets = {
        "scheme": "por-wallets", "version": 1, "exchange": "Example Exchange",
        "assets": [{"symbol": "ETH", "decimals": 18}],
        "chains": [{"name": "ethereum", "kind": "evm", "network": "31337",
                    "assets": [{"symbol": "ETH", "token": None}]}],
        "wallets": [{"chain": "ethereum", "address": safe, "custody": {"kind": "contract"},
                     "assets": ["ETH"]}],
    }
    (tmp / "wallets.json").write_text(json.dumps(wallets))
    work = tmp / "work"
    result = por("reserves", "init", str(tmp / "wallets.json"), "--summary", str(root),
                 "--rpc", f"ethereum={hardhat.url}", "--out", str(work))
    assert result.exit_code == 0, result.output
    message = next((work / "challenges").glob("000-*.txt")).read_bytes()
    guide = json.loads(next((work / "challenges").glob("000-*.eip1271.json")).read_text())
    # Owners 0 and 2 sign the SafeMessage typed data from the guide (eth_signTypedData_v4),
    # in increasing address order, as Safe requires.
    typed = guide["safe_message_typed_data"]
    value = "0x" + "".join(
        bytes(Account.sign_typed_data(o.key, full_message=typed).signature).hex()
        for o in (owners[0], owners[2]))
    (tmp / "sigs.json").write_text(json.dumps([
        {"chain": "ethereum", "address": safe, "scheme": "eip1271", "value": value}]))
    assert por("reserves", "import-signatures", str(work), str(tmp / "sigs.json")).exit_code == 0
    result = por("reserves", "read-balances", str(work), "--rpc", f"ethereum={hardhat.url}")
    assert result.exit_code == 0, result.output
    reserves = tmp / "reserves.json"
    assert por("reserves", "write", str(work), "--out", str(reserves)).exit_code == 0
    return {"reserves": reserves, "url": hardhat.url, "tmp": tmp, "safe": safe,
            "owners": owners, "message": message, "guide": guide, "node": hardhat}


def test_safe_message_hash_matches_eip712_and_the_contract(safe_round: dict[str, Any]) -> None:
    """Three independent computations of Safe's message hash agree: ours (byte by byte),
    eth-account's EIP-712 encoder over the typed data, and the contract's own view."""
    from eth_account.messages import encode_typed_data

    from verifier.signatures.evm import safe_message_hash, signable_digest

    digest = personal_sign_digest(safe_round["message"])
    ours = safe_message_hash(safe_round["safe"], 31337, digest)
    typed = signable_digest(encode_typed_data(
        full_message=safe_round["guide"]["safe_message_typed_data"]))
    get_message_hash = bytes.fromhex("0a1028c4") + encode(["bytes"], [encode(["bytes32"],
                                                                         [digest])])
    on_chain = safe_round["node"].call("eth_call", {"to": safe_round["safe"],
                                                    "data": "0x" + get_message_hash.hex()},
                                       "latest")
    assert ours == typed == bytes.fromhex(on_chain[2:])
    assert safe_round["guide"]["safe_message_hash"] == "0x" + ours.hex()
    assert safe_round["guide"]["isValidSignature_hash"] == "0x" + digest.hex()


def test_safe_two_of_three_verifies_at_the_snapshot_block(safe_round: dict[str, Any]) -> None:
    result = por_verify("reserves", str(safe_round["reserves"]), "--rpc",
                        f"ethereum={safe_round['url']}", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["assets"][0]["confirmed"] == str(3 * ETHER)


def _safe_signature(safe_round: dict[str, Any], name: str, value: str) -> dict[str, Any]:
    data = json.loads(safe_round["reserves"].read_text())
    data["wallets"][0]["signature"]["value"] = value
    path = safe_round["tmp"] / f"{name}.json"
    path.write_text(json.dumps(data))
    return _verify_fails(safe_round, path)


def test_safe_one_owner_signing_twice_fails(safe_round: dict[str, Any]) -> None:
    one = bytes(Account.sign_typed_data(
        safe_round["owners"][0].key,
        full_message=safe_round["guide"]["safe_message_typed_data"]).signature).hex()
    report = _safe_signature(safe_round, "safe-one-owner-twice", "0x" + one * 2)
    assert [f["code"] for f in report["findings"]] == ["bad-signature"]
    assert "GS026" in report["findings"][0]["message"]


def test_safe_owners_signing_the_plain_digest_fails(safe_round: dict[str, Any]) -> None:
    """A Safe judges owner signatures of its SafeMessage hash: signatures of the bare
    personal_sign digest (what a single-owner wallet takes) must not pass."""
    digest = personal_sign_digest(safe_round["message"])
    owners = safe_round["owners"]
    value = "0x" + "".join(bytes(Account.unsafe_sign_hash(digest, o.key).signature).hex()
                           for o in (owners[0], owners[1]))
    report = _safe_signature(safe_round, "safe-plain-digest", value)
    assert [f["code"] for f in report["findings"]] == ["bad-signature"]
