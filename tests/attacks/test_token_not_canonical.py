"""Attack (issue 10, 1): a symbol that maps to another contract than the canonical one.

On a network the committed token registry covers (verifier/reserves/tokens.json), ``USDC``
must be Circle's USDC contract: the USDT contract, or a look-alike token anyone can deploy,
listed as ``USDC`` is the finding ``token-not-canonical`` (exit 1), unless the auditor
accepts that pair with ``--accept-noncanonical-token USDC@1`` (the report says so). A
network the registry does not cover (a test chain) is reported as "no registry entry".

No Ethereum mainnet node runs here: the chain is eth-tester's EVM (a real EVM) seen through
a reader that reports chain id 1, the one double in this file.
"""

from __future__ import annotations

import json
from typing import Any

from reserves_world import craft_reserves, make_evm_world

from por.demo.reserves import EthTesterReader
from verifier.reserves.model import ReservesFile
from verifier.reserves.tokens import CANONICAL, NO_ENTRY, NOT_CANONICAL, judge, registry
from verifier.reserves.verify import verify_reserves
from verifier.signatures import checksum_address

USDT_MAINNET = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
USDC_MAINNET = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"


class MainnetView(EthTesterReader):
    """eth-tester's chain presented as chain id 1 (a double: no mainnet node here)."""

    def chain_id(self) -> int:
        return 1


def test_registry_judgements() -> None:
    assert judge("evm", "1", "USDT", USDT_MAINNET).status == CANONICAL
    wrong = judge("evm", "1", "USDC", USDT_MAINNET)
    assert wrong.status == NOT_CANONICAL
    assert f"{USDT_MAINNET} is USDT on Ethereum mainnet" in wrong.detail
    assert judge("evm", "1", "BTC", None).status == NOT_CANONICAL  # ETH relabelled
    assert judge("evm", "56", "BNB", None).status == CANONICAL
    assert judge("evm", "31337", "USDC", USDT_MAINNET).status == NO_ENTRY
    assert judge("evm", "1", "FOO", "0x" + "12" * 20).status == NO_ENTRY
    sol = registry()["solana:mainnet"]
    assert sol.tokens["USDC"] == "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
    for entry in registry().values():  # every EVM contract in EIP-55 form, none repeated
        for contract in entry.tokens.values():
            if contract.startswith("0x"):
                assert checksum_address(contract) == contract
        assert len(set(entry.tokens.values())) == len(entry.tokens)


def _file(world: Any, token: str) -> ReservesFile:
    holder = world.fund(1, usdt=2_000_000)
    data = craft_reserves(world, [("ethereum", [("ETH", None), ("USDC", token)])],
                          [(holder, "ethereum", ["ETH", "USDC"])],
                          assets=[("ETH", 18), ("USDC", 6)], network="1")
    return ReservesFile.from_json(json.dumps(data))


def test_lookalike_usdc_fails_unless_accepted() -> None:
    world = make_evm_world()
    reserves = _file(world, world.token)  # a token anyone deployed, labelled USDC
    readers = {"ethereum": MainnetView(world.chain)}
    report = verify_reserves(reserves, readers)
    assert [f.code for f in report.findings] == ["token-not-canonical"]
    assert f"USDC on Ethereum mainnet is {USDC_MAINNET}" in report.findings[0].message
    assert "--accept-noncanonical-token USDC@1" in report.findings[0].message
    assert report.assets[1].confirmed == 0
    accepted = verify_reserves(reserves, readers,
                               accept_noncanonical=frozenset({"USDC@1"}))
    accepted.raise_for_failures()
    assert accepted.chains[0].assets[1].accepted
    assert "token-not-canonical-accepted" in [c.code for c in accepted.caveats]
    assert accepted.to_dict()["accepted_noncanonical_tokens"] == ["USDC@1"]
