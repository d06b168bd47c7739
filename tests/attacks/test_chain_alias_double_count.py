"""Attack (issue 10, 1): one EVM network listed as two chains counts its wallets twice.

The file lists ``ethereum`` and ``ethereum-l1``, both chain id N at the same block, and one
wallet under each: its ETH would count twice and make an under-reserved exchange look
covered. Users owe 150 ETH; the wallets hold 60 + 45 = 105 ETH, 165 with the double count.
Before the fix ``por-verify reserves`` said VERIFIED, ``por attest sign`` signed it and
``por-verify bundle --require-full-reserves`` passed it. Now a chain is (kind, network): the
file is refused as malformed (exit 2) by every one of them. The bundle is made by an exchange
running a patched toolkit (the parse rule switched off while signing), as an attacker would.
Real components: eth-tester's EVM behind JSON-RPC, SQLite store, the real commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from attest_helpers import EXCHANGE, PASSPHRASE, T0, make_world
from reserves_helpers import por, por_verify
from reserves_world import EvmWorld, craft_reserves

from por.attest.publish import publish_round
from por.attest.rounds import cosign_round, new_round, sign_round
from por.demo.reserves import serve_chain
from por.liabilities.build import build_tree
from verifier.attestation.model import reserves_figures
from verifier.errors import FormatError
from verifier.liabilities.mst import Asset
from verifier.liabilities.summary import RootSummary
from verifier.reserves import model


@pytest.fixture(scope="module")
def attack(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("chain-alias")
    world = make_world(tmp)
    snap = tmp / "snapshot.csv"
    snap.write_text("user_id,asset,amount\n" + "".join(f"u{i},ETH,15\n" for i in range(10)))
    built = build_tree(snap, (Asset("ETH", 18),), "r1", bytes(range(32)), tmp / "tree",
                       workers=1)
    summary: RootSummary = built.summary
    evm = EvmWorld(world.chain, world.reader(), world.chain.get_accounts()[0], "")
    a, b = world.wallets
    data = craft_reserves(
        evm, [("ethereum", [("ETH", None)]), ("ethereum-l1", [("ETH", None)])],
        [(a, "ethereum", ["ETH"]), (b, "ethereum", ["ETH"]), (a, "ethereum-l1", ["ETH"])],
        assets=[("ETH", 18)], round_id="r1", root=summary.root_hash)
    reserves = tmp / "reserves.json"
    reserves.write_text(json.dumps(data))
    return {"tmp": tmp, "world": world, "root": built.root_path, "reserves": reserves,
            "data": data}


def test_reserves_verifier_refuses_two_entries_for_one_chain(attack: dict[str, Any]) -> None:
    assert attack["data"]["totals"] == [str(165 * 10**18)]  # what the attacker claims
    with serve_chain(attack["world"].chain) as url:
        result = por_verify("reserves", str(attack["reserves"]), "--rpc", f"ethereum={url}",
                            "--rpc", f"ethereum-l1={url}")
    assert result.exit_code == 2, result.output
    assert "'ethereum' and 'ethereum-l1' are the same chain (evm network 131277)" in (
        result.output)
    assert "VERIFIED" not in result.output


def test_attest_sign_refuses_it(attack: dict[str, Any]) -> None:
    tmp, world = attack["tmp"], attack["world"]
    env = {"POR_DATABASE_URL": f"sqlite:///{tmp / 'sign.db'}", "POR_KEY_PASSPHRASE": PASSPHRASE}
    made = por("round", "new", "r1", "--exchange", EXCHANGE, "--snapshot-time",
               "2026-11-25T12:00:00Z", env=env)
    assert made.exit_code == 0, made.output
    with serve_chain(world.chain) as url:
        signed = por("attest", "sign", "r1", "--summary", str(attack["root"]), "--reserves",
                     str(attack["reserves"]), "--key", str(tmp / "exchange.pem"), "--rpc",
                     f"ethereum={url}", "--rpc", f"ethereum-l1={url}", env=env)
    assert signed.exit_code == 2, signed.output
    assert "are the same chain" in signed.output


def test_bundle_with_it_fails_even_when_signed_by_a_patched_toolkit(
    attack: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
) -> None:
    tmp, world = attack["tmp"], attack["world"]
    engine_url = f"sqlite:///{tmp / 'patched.db'}"
    from por.store.db import open_store

    engine = open_store(engine_url)
    # The attacker's toolkit: the rule "one entry per chain identity" switched off.
    monkeypatch.setattr(model, "check_chains", lambda *args, **kwargs: None, raising=False)
    new_round(engine, "r1", EXCHANGE, T0)
    sign_round(engine, "r1", attack["root"].read_bytes(), attack["reserves"].read_bytes(),
               world.exchange_key, readers=None, now=T0)
    cosign_round(engine, "r1", world.auditor_key, world.keys())
    bundle = tmp / "bundle"
    publish_round(engine, "r1", world.exchange_key, world.keylist, bundle, now=T0)
    engine.dispose()
    monkeypatch.undo()
    with serve_chain(world.chain) as url:
        result = por_verify("bundle", str(bundle), "--rpc", f"ethereum={url}", "--rpc",
                            f"ethereum-l1={url}", "--require-full-reserves", "--pin",
                            world.exchange_key.public.key_id, "--state",
                            str(tmp / "state.json"), "--auditor-key",
                            str(tmp / "auditor.pub.json"))
    assert result.exit_code == 2, result.output
    assert "are the same chain" in result.output
    assert "VERIFIED" not in result.output


def test_attestation_figures_count_a_wallet_identity_once() -> None:
    """Even parsed with the rule off, the attestation's counted figure takes each wallet
    (kind, network, canonical address) once: listing it again adds nothing."""
    world = make_world_for_figures()
    data, expected = world
    with pytest.raises(FormatError, match="same chain"):
        model.ReservesFile.from_json(json.dumps(data))
    data["chains"] = data["chains"][:1]
    data["wallets"][2]["chain"] = "ethereum"
    data["wallets"][2]["address"] = data["wallets"][2]["address"].lower()
    figures = reserves_figures(model.ReservesFile.from_json(json.dumps(data)))
    assert figures.assets[0].counted == expected
    assert figures.assets[0].claimed == 165 * 10**18


def make_world_for_figures() -> tuple[dict[str, Any], int]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        world = make_world(Path(tmp))
    evm = EvmWorld(world.chain, world.reader(), world.chain.get_accounts()[0], "")
    a, b = world.wallets
    data = craft_reserves(
        evm, [("ethereum", [("ETH", None)]), ("ethereum-l1", [("ETH", None)])],
        [(a, "ethereum", ["ETH"]), (b, "ethereum", ["ETH"]), (a, "ethereum-l1", ["ETH"])],
        assets=[("ETH", 18)])
    return data, 105 * 10**18
