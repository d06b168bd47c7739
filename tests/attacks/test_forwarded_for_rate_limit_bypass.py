"""Attack: a client changes ``X-Forwarded-For`` on every request to get a fresh rate-limit
bucket each time (uvicorn trusts the header from 127.0.0.1 by default).

Defence: ``por serve`` trusts forwarded headers only from the proxies named by
``--forwarded-allow-ips`` (none by default). Tested through a real ``por serve`` (uvicorn)
subprocess on loopback.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

POR = str(Path(sys.executable).with_name("por"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(tmp: Path, *extra: str) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [POR, "serve", "--db", f"sqlite:///{tmp / 'por.db'}", "--port", str(port),
         "--proof-rate", "1", "--proof-burst", "2", *extra],
        env=dict(os.environ, FORWARDED_ALLOW_IPS="*"),  # would widen uvicorn's own default
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/v1/rounds", timeout=5)
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline, "por serve did not start"
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _status(base: str, forwarded_for: str) -> int:
    req = urllib.request.Request(f"{base}/api/v1/proofs/{'0' * 32}",
                                 headers={"X-Forwarded-For": forwarded_for})
    try:
        return int(urllib.request.urlopen(req, timeout=10).status)
    except urllib.error.HTTPError as e:
        return int(e.code)


@pytest.fixture()
def default_server(tmp_path: Path) -> Iterator[str]:
    yield from _serve(tmp_path)


@pytest.fixture()
def proxied_server(tmp_path: Path) -> Iterator[str]:
    yield from _serve(tmp_path, "--forwarded-allow-ips", "127.0.0.1")


def test_changing_x_forwarded_for_does_not_escape_the_limit(default_server: str) -> None:
    codes = [_status(default_server, f"198.51.100.{i}") for i in range(1, 6)]
    # Burst 2, then refused: every request is the same client (the TCP peer).
    assert codes[:2] == [404, 404] and codes[2:] == [429, 429, 429], codes


def test_a_configured_proxy_gets_one_bucket_per_forwarded_client(proxied_server: str) -> None:
    # Behind a proxy that sets the header, each real client has its own bucket...
    assert [_status(proxied_server, "203.0.113.7") for _ in range(3)] == [404, 404, 429]
    assert _status(proxied_server, "203.0.113.8") == 404
