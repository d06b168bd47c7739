"""Attack (issue 10, 1): one token contract listed under two symbols counts its balance twice.

An asset ``USDC`` whose ``token`` is the USDT contract counts the same USDT balance again as
USDC. Before the fix ``por-verify reserves`` said VERIFIED and ``por attest sign`` signed it.
Now a token is (network, contract): a contract under two symbols is refused as malformed
(exit 2), by the verifier, the signer and the operator's own import. Real EVM: eth-tester
on py-evm behind JSON-RPC; the commands themselves.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from attest_helpers import EXCHANGE, PASSPHRASE, make_world
from reserves_helpers import por, por_verify, write_root
from reserves_world import craft_reserves, make_evm_world

from por.demo.reserves import serve_chain
from verifier.liabilities.mst import Asset

ASSETS = [("ETH", 18), ("USDT", 6), ("USDC", 6)]


@pytest.fixture(scope="module")
def attack(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("token-alias")
    world = make_evm_world()
    holder = world.fund(2, usdt=7_000_000)
    root = write_root(tmp / "root.json", "r1", [Asset(s, d) for s, d in ASSETS])
    data = craft_reserves(
        world, [("ethereum", [("ETH", None), ("USDT", world.token), ("USDC", world.token)])],
        [(holder, "ethereum", ["ETH", "USDT", "USDC"])], assets=ASSETS, round_id="r1",
        root=root.root_hash)
    reserves = tmp / "reserves.json"
    reserves.write_text(json.dumps(data))
    return {"tmp": tmp, "world": world, "reserves": reserves, "data": data,
            "root": tmp / "root.json"}


def test_reserves_verifier_refuses_one_contract_under_two_symbols(
    attack: dict[str, Any],
) -> None:
    assert attack["data"]["totals"][1:] == ["7000000", "7000000"]  # one balance, twice
    with serve_chain(attack["world"].chain) as url:
        result = por_verify("reserves", str(attack["reserves"]), "--rpc", f"ethereum={url}")
    assert result.exit_code == 2, result.output
    assert f"token {attack['world'].token} is listed as both USDT and USDC" in result.output
    assert "VERIFIED" not in result.output


def test_attest_sign_refuses_it(attack: dict[str, Any]) -> None:
    tmp = attack["tmp"]
    make_world(tmp)  # writes exchange.pem
    env = {"POR_DATABASE_URL": f"sqlite:///{tmp / 'sign.db'}", "POR_KEY_PASSPHRASE": PASSPHRASE}
    assert por("round", "new", "r1", "--exchange", EXCHANGE, "--snapshot-time",
               "2026-11-25T12:00:00Z", env=env).exit_code == 0
    with serve_chain(attack["world"].chain) as url:
        signed = por("attest", "sign", "r1", "--summary", str(attack["root"]), "--reserves",
                     str(attack["reserves"]), "--key", str(tmp / "exchange.pem"), "--rpc",
                     f"ethereum={url}", env=env)
    assert signed.exit_code == 2, signed.output
    assert "listed as both USDT and USDC" in signed.output


def test_native_coin_under_two_symbols_is_refused_too(attack: dict[str, Any]) -> None:
    data = json.loads(attack["reserves"].read_text())
    data["chains"][0]["assets"] = [{"symbol": "ETH", "token": None},
                                   {"symbol": "USDT", "token": None},
                                   {"symbol": "USDC", "token": attack["world"].token}]
    path = attack["tmp"] / "native-alias.json"
    path.write_text(json.dumps(data))
    result = por_verify("reserves", str(path))
    assert result.exit_code == 2
    assert "the native coin is listed under 2 symbols ['ETH', 'USDT']" in result.output


def test_operator_import_refuses_it(attack: dict[str, Any]) -> None:
    wallets = {
        "scheme": "por-wallets", "version": 1, "exchange": EXCHANGE,
        "assets": [{"symbol": s, "decimals": d} for s, d in ASSETS],
        "chains": [{"name": "ethereum", "kind": "evm", "network": "131277", "assets": [
            {"symbol": "ETH", "token": None}, {"symbol": "USDT", "token": attack["world"].token},
            {"symbol": "USDC", "token": attack["world"].token.lower()}]}],
        "wallets": [],
    }
    path = attack["tmp"] / "wallets.json"
    path.write_text(json.dumps(wallets))
    result = por("reserves", "init", str(path), "--summary", str(attack["root"]), "--out",
                 str(attack["tmp"] / "work"))
    assert result.exit_code == 2, result.output
    assert "listed as both USDT and USDC" in result.output
