"""Attack (issue 10, lower): a node URL carrying an API key, on argv and echoed in errors.

Hosted node providers put the key in the path (``https://eth.example/v2/KEY``) or the
query. Before the fix ``--rpc NAME=URL`` took such a URL (visible in ``ps``, shell history
and CI logs) and error messages repeated the path. Now a URL with a path or query is
refused on the command line with a message saying where it goes (``$POR_RPC_<NAME>_URL``,
then ``--rpc NAME``), and every message shows scheme, host and port only.
"""

from __future__ import annotations

import json
from pathlib import Path

from reserves_helpers import por, por_verify, write_root
from reserves_nodes import free_port
from reserves_world import EXCHANGE, craft_reserves, make_evm_world

from verifier.liabilities.mst import Asset

SECRET = "k3y-d0-n0t-l3ak-9f8e7d"


def test_url_with_a_path_secret_is_refused_on_argv_and_never_echoed(tmp_path: Path) -> None:
    world = make_evm_world()
    data = craft_reserves(world, [("ethereum", [("ETH", None)])],
                          [(world.fund(1), "ethereum", ["ETH"])], assets=[("ETH", 18)])
    path = tmp_path / "reserves.json"
    path.write_text(json.dumps(data))
    port = free_port()
    for url in (f"http://127.0.0.1:{port}/v2/{SECRET}", f"http://127.0.0.1:{port}/?key={SECRET}"):
        result = por_verify("reserves", str(path), "--rpc", f"ethereum={url}")
        assert result.exit_code == 2, result.output
        assert SECRET not in result.output
        assert "set POR_RPC_ETHEREUM_URL=URL in the environment and give --rpc ethereum" in (
            result.output)
    # From the environment it is used, and a failure names the node without the key.
    env = {"POR_RPC_ETHEREUM_URL": f"http://127.0.0.1:{port}/v2/{SECRET}"}
    result = por_verify("reserves", str(path), "--rpc", "ethereum", "--timeout", "1", env=env)
    assert result.exit_code == 2, result.output
    assert SECRET not in result.output
    assert f"ethereum node http://127.0.0.1:{port}/…, call eth_chainId: no answer" in (
        result.output)
    missing = por_verify("reserves", str(path), "--rpc", "ethereum")
    assert missing.exit_code == 2 and "POR_RPC_ETHEREUM_URL is not set" in missing.output
    # The operator's commands follow the same rule.
    write_root(tmp_path / "root.json", "r1", [Asset("ETH", 18)])
    (tmp_path / "wallets.json").write_text(json.dumps({
        "scheme": "por-wallets", "version": 1, "exchange": EXCHANGE,
        "assets": [{"symbol": "ETH", "decimals": 18}],
        "chains": [{"name": "ethereum", "kind": "evm", "network": "131277",
                    "assets": [{"symbol": "ETH", "token": None}]}], "wallets": []}))
    init = por("reserves", "init", str(tmp_path / "wallets.json"), "--summary",
               str(tmp_path / "root.json"), "--out", str(tmp_path / "work"), "--rpc",
               f"ethereum=http://127.0.0.1:{port}/v2/{SECRET}")
    assert init.exit_code == 2 and SECRET not in init.output
    assert "POR_RPC_ETHEREUM_URL" in init.output
