"""The reserves verifier's choices in `por attest sign` and `por-verify bundle` (spec §11.4,
§13.3, §13.5): a bundle with static-message wallets is not failed by them (their balances
are outside `confirmed` and outside `counted` alike), and `--accept-noncanonical-token` /
`--accept-past-control` pass through, stated in the report (the attestation has no field
for them, so it does not record them).

The chain is eth-tester's EVM (a real EVM, in process); for the token registry it is seen
through a reader that reports chain id 1 (no mainnet node here: the one double).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from reserves_world import EXCHANGE, ROOT, ROUND, EvmWorld, craft_reserves, make_evm_world

from por.attest.publish import publish_round
from por.attest.rounds import new_round, sign_round
from por.demo.reserves import EthTesterReader
from por.keys import SigningKey, new_key_list
from por.store.db import open_store
from verifier.attestation.bundle import BundleOptions, read_bundle, verify_bundle
from verifier.cli import main as verify_main
from verifier.errors import VerificationError
from verifier.liabilities.mst import Asset
from verifier.liabilities.summary import RootSummary

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 1, tzinfo=UTC)
STATIC = "Example Exchange controls this address"


class MainnetView(EthTesterReader):
    """eth-tester's chain presented as chain id 1 (a double: no mainnet node here)."""

    def chain_id(self) -> int:
        return 1


def _reserves(world: EvmWorld, network: str) -> bytes:
    """Wallet 1 signs this round's challenge (ETH and the world's token as USDC), wallet 2
    the static message (ETH): one file, one snapshot."""
    chains = [("ethereum", [("ETH", None), ("USDC", world.token)])]
    assets = [("ETH", 18), ("USDC", 6)]
    fresh, static = world.fund(3, usdt=2_000_000), world.fund(2)
    data = craft_reserves(world, chains, [(fresh, "ethereum", ["ETH", "USDC"])],
                          assets=assets, network=network)
    past = craft_reserves(world, chains, [(static, "ethereum", ["ETH"])], assets=assets,
                          network=network, static=STATIC)
    data["static_message"] = STATIC
    data["wallets"] += past["wallets"]
    data["totals"] = [str(int(a) + int(b)) for a, b in zip(data["totals"], past["totals"],
                                                             strict=True)]
    return json.dumps(data).encode()


def _publish(tmp: Path, reserves: bytes, readers: dict[str, Any],
             **accept: Any) -> tuple[Path, SigningKey]:
    tmp.mkdir(exist_ok=True)
    key = SigningKey.generate(f"{EXCHANGE} key")
    keylist = new_key_list(EXCHANGE, key.public).to_json().encode()
    summary = RootSummary(ROUND, (Asset("ETH", 18), Asset("USDC", 6)), 2, ROOT, (10**18, 10))
    engine = open_store(f"sqlite:///{tmp / 'por.db'}")
    new_round(engine, ROUND, EXCHANGE, T0)
    sign_round(engine, ROUND, summary.to_json().encode(), reserves, key, readers=readers,
               now=T0 + timedelta(hours=1), **accept)
    publish_round(engine, ROUND, key, keylist, tmp / "bundle", now=T0 + timedelta(hours=2))
    engine.dispose()
    return tmp / "bundle", key


def _check(bundle: Path, key: SigningKey, readers: dict[str, Any], **options: Any) -> Any:
    return verify_bundle(read_bundle(bundle), BundleOptions(
        readers=lambda _r: readers, pinned_key_id=key.public.key_id, now=NOW, **options))


def test_bundle_static_wallet_not_reserves_unconfirmed(tmp_path: Path) -> None:
    """`confirmed` already leaves out past-control-only balances: the bundle check subtracted
    them a second time and failed `reserves-unconfirmed` for an honest file."""
    world = make_evm_world()
    readers = {"ethereum": world.reader}
    bundle, key = _publish(tmp_path, _reserves(world, str(world.reader.chain_id())), readers)
    report = _check(bundle, key, readers)
    assert [f.code for f in report.findings] == [], report.findings
    assert report.reserves is not None
    eth = report.reserves.assets[0]
    assert eth.past_control_only == 2 * 10**18 and eth.confirmed == 3 * 10**18
    assert not report.accepted_past_control
    accepted = _check(bundle, key, readers, accept_past_control=True)
    assert accepted.ok and accepted.to_dict()["accepted"]["past_control"] is True
    assert any("you ACCEPTED past-control-only balances (--accept-past-control): "
               "2.000000000000000000 ETH" in n for n in accepted.notes)


def test_noncanonical_token_passes_sign_and_bundle_only_when_accepted(tmp_path: Path) -> None:
    world = make_evm_world()
    readers = {"ethereum": MainnetView(world.chain)}
    reserves = _reserves(world, "1")  # the world's own token labelled USDC on Ethereum
    with pytest.raises(VerificationError, match="token-not-canonical"):
        _publish(tmp_path / "refused", reserves, readers)
    bundle, key = _publish(tmp_path / "accepted", reserves, readers,
                           accept_noncanonical=frozenset({"USDC@1"}))
    refused = _check(bundle, key, readers)
    assert "reserves:token-not-canonical" in [f.code for f in refused.findings]
    report = _check(bundle, key, readers, accept_noncanonical=("USDC@1",))
    assert report.ok, report.findings
    assert report.to_dict()["accepted"]["noncanonical_tokens"] == ["USDC@1"]
    assert any(n.startswith("you ACCEPTED a non-canonical token: chain ethereum")
               for n in report.notes)
    text = "\n".join(report.lines())
    assert "--accept-noncanonical-token USDC@1" in text


def test_bundle_cli_takes_the_flags_and_refuses_a_pair_the_file_lacks(tmp_path: Path) -> None:
    world = make_evm_world()
    readers = {"ethereum": world.reader}
    bundle, key = _publish(tmp_path, _reserves(world, str(world.reader.chain_id())), readers)
    base = ["bundle", str(bundle), "--skip-chain", "--pin", key.public.key_id,
            "--state", str(tmp_path / "state.json"), "--now", "2026-12-01T00:00:00Z"]
    result = CliRunner().invoke(verify_main, [*base, "--accept-noncanonical-token", "USDT@1"])
    assert result.exit_code == 2, result.output
    assert "--accept-noncanonical-token 'USDT@1'" in result.output
    network = world.reader.chain_id()
    result = CliRunner().invoke(verify_main, [
        *base, "--accept-noncanonical-token", f"USDC@{network}", "--accept-past-control"])
    assert result.exit_code == 0, result.output
    assert "nothing was accepted" in result.output


def test_attest_sign_cli_takes_the_flags(tmp_path: Path) -> None:
    """Only with --rpc (they choose what that check accepts); a pair the file lacks is a
    usage error before any node is asked (the URL here answers nothing)."""
    from por.cli import main as por_main

    world = make_evm_world()
    (tmp_path / "reserves.json").write_bytes(_reserves(world, "1"))
    base = ["attest", "sign", ROUND, "--summary", str(tmp_path / "root.json"), "--reserves",
            str(tmp_path / "reserves.json"), "--key", str(tmp_path / "key.pem"),
            "--db", f"sqlite:///{tmp_path / 'por.db'}"]
    result = CliRunner().invoke(por_main, [*base, "--skip-chain", "--accept-past-control"])
    assert result.exit_code == 2 and "with --skip-chain there is no check" in result.output
    result = CliRunner().invoke(por_main, [*base, "--rpc", "ethereum=http://127.0.0.1:9",
                                           "--accept-noncanonical-token", "USDT@1"])
    assert result.exit_code == 2, result.output
    assert "--accept-noncanonical-token 'USDT@1'" in result.output
