"""Attack (issue 10, 5): a static signature, proof of *past* control, counted as confirmed.

A wallet signs a fixed sentence once (OKX-style "static" message); anyone who saw that
signature can list the wallet in any later round. Before the fix ``por-verify reserves``
printed VERIFIED with the balance confirmed. Now such balances are never confirmed: exit 1
unless the user passes ``--accept-past-control``, and the report counts them apart.
Real EVM: eth-tester on py-evm behind JSON-RPC; the real command line.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from reserves_helpers import por_verify
from reserves_world import ETHER, craft_reserves, make_evm_world

from por.demo.reserves import serve_chain


@pytest.fixture(scope="module")
def attack(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("static")
    world = make_evm_world()
    someone = world.fund(9)  # anyone's wallet, with a public static signature
    data = craft_reserves(world, [("ethereum", [("ETH", None)])],
                          [(someone, "ethereum", ["ETH"])], assets=[("ETH", 18)],
                          static="I am an exchange address")
    path = tmp / "reserves.json"
    path.write_text(json.dumps(data))
    return {"world": world, "reserves": path}


def test_past_control_only_is_never_confirmed(attack: dict[str, Any]) -> None:
    with serve_chain(attack["world"].chain) as url:
        result = por_verify("reserves", str(attack["reserves"]), "--rpc", f"ethereum={url}")
        as_json = por_verify("reserves", str(attack["reserves"]), "--rpc", f"ethereum={url}",
                             "--json")
    assert result.exit_code == 1, result.output
    assert "VERIFIED" not in result.output
    assert "proves control at some past time only: NOT confirmed" in result.output
    report = json.loads(as_json.output)
    assert as_json.exit_code == 1 and report["verdict"] == "FAILED"
    assert report["assets"][0]["confirmed"] == "0"
    assert report["assets"][0]["past_control_only"] == str(9 * ETHER)


def test_accepted_only_with_the_flag_and_still_counted_apart(attack: dict[str, Any]) -> None:
    with serve_chain(attack["world"].chain) as url:
        result = por_verify("reserves", str(attack["reserves"]), "--rpc", f"ethereum={url}",
                            "--accept-past-control", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["accept_past_control"] is True
    assert report["assets"][0]["confirmed"] == "0"
    assert report["assets"][0]["past_control_only"] == str(9 * ETHER)
