"""Real chain nodes on loopback for the reserves tests: Hardhat 2 and litecoind -regtest.

Each starter picks a free port, waits for the node to answer (with a timeout) and returns
a handle whose ``stop()`` always ends the process it started (by its process id). Installed
by scripts/services.d/hardhat.sh and scripts/services.d/litecoind.sh; outside CI a missing
service skips the tests that need it, in CI (``CI=true``) it fails them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HARDHAT_DIR = Path(__file__).resolve().parents[1] / "chains" / "hardhat"
READY_TIMEOUT = 90.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not installed (scripts/setup-services.sh installs it)")
    pytest.skip(f"{what} is not installed; run scripts/setup-services.sh")


def rpc(url: str, method: str, params: list[Any], auth: str | None = None) -> Any:
    """A bare JSON-RPC call for test setup (the code under test has its own client)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    headers = {"Content-Type": "application/json"}
    if auth:
        import base64

        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    request = urllib.request.Request(url, data=body.encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as e:
        answer = json.loads(e.read())
    if answer.get("error"):
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


@dataclass
class Node:
    process: subprocess.Popen[bytes]
    url: str
    log: Path
    auth: str | None = None

    def call(self, method: str, *params: Any) -> Any:
        return rpc(self.url, method, list(params), self.auth)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def _wait(node: Node, method: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    last: Exception | None = None
    while time.monotonic() < deadline:
        if node.process.poll() is not None:
            raise RuntimeError(f"node exited ({node.process.returncode}): "
                               f"{node.log.read_text()[-2000:]}")
        try:
            node.call(method)
            return
        except Exception as e:  # noqa: BLE001 - not ready yet: connection refused, warming up
            last = e
            time.sleep(0.3)
    node.stop()
    raise RuntimeError(f"node not ready after {READY_TIMEOUT} s: {last}")


def start_hardhat(tmp: Path) -> Node:
    """``npx hardhat node`` on 127.0.0.1 and a free port (Hardhat 2, chain id 31337)."""
    if shutil.which("npx") is None or not (HARDHAT_DIR / "node_modules" / "hardhat").exists():
        missing("Hardhat (tests/chains/hardhat/node_modules)")
    port = free_port()
    log = tmp / "hardhat.log"
    env = {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["npx", "--no-install", "hardhat", "node", "--hostname", "127.0.0.1",
             "--port", str(port)],
            cwd=HARDHAT_DIR, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, start_new_session=True,
        )
    node = Node(process, f"http://127.0.0.1:{port}", log)
    _wait(node, "eth_blockNumber")
    return node


def start_litecoind(tmp: Path) -> Node:
    """``litecoind -regtest`` on loopback, free ports, credentials in its config file only."""
    binary = shutil.which("litecoind")
    if binary is None:
        missing("litecoind (Debian package litecoind)")
        raise AssertionError("unreachable")
    datadir = tmp / "litecoin"
    datadir.mkdir()
    port, p2p = free_port(), free_port()
    user, password = "test", secrets.token_hex(16)  # per-run, never in argv or a log
    (datadir / "litecoin.conf").write_text(
        # txindex: por reserves reads balances at a past snapshot height with it (§11.5).
        f"regtest=1\nserver=1\nlisten=0\ndnsseed=0\nfallbackfee=0.0001\ntxindex=1\n"
        f"[regtest]\nrpcuser={user}\nrpcpassword={password}\nrpcbind=127.0.0.1\n"
        f"rpcallowip=127.0.0.1\nrpcport={port}\nport={p2p}\n"
    )
    log = tmp / "litecoind.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, f"-datadir={datadir}", "-printtoconsole=1"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    node = Node(process, f"http://127.0.0.1:{port}", log, auth=f"{user}:{password}")
    _wait(node, "getblockchaininfo")
    return node
