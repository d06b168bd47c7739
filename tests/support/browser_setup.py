"""What the browser tests share: ``por serve`` on a free loopback port, Debian's Chromium
(never one Playwright downloads), and a page that may reach only the served origin.

Used by the browser tests in tests/web/ and by tests/api/test_private_tokens_served.py.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def por_serve(
    database_url: str,
    rounds_dir: Path | None,
    keys: tuple[Path, Path | None] | None = None,
    tokens: Callable[[], Iterable[str]] = tuple,
    extra: tuple[str, ...] = (),
    *,
    env: Mapping[str, str] | None = None,
    log: list[str] | None = None,
) -> Iterator[str]:
    """``por serve`` on a free loopback port; yields its origin, stops it at the end and
    checks its whole log for proof tokens.

    Args:
        database_url: the store.
        rounds_dir: the rounds directory (None: no ``--rounds``).
        keys: the exchange's key list and the auditor's key file (None: neither option).
        tokens: the proof tokens none of which may reach the log (read at the end).
        extra: more ``por serve`` options.
        env: variables added to this process's environment for the server.
        log: given, the server's whole output is appended to it once it has stopped.
    """
    port = free_port()
    por = Path(sys.executable).parent / "por"
    key_options = [] if keys is None else ["--keylist", str(keys[0]), "--auditor-key",
                                           str(keys[1])]
    rounds_options = [] if rounds_dir is None else ["--rounds", str(rounds_dir)]
    server = subprocess.Popen(
        [str(por), "serve", "--db", database_url, *rounds_options, *key_options,
         "--port", str(port), "--proof-rate", "600", "--proof-burst", "100", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    origin = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{origin}/api/v1/ping", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    out = server.stdout.read().decode() if server.stdout else ""
                    raise RuntimeError(f"por serve did not start: {out}") from None
                time.sleep(0.2)
        yield origin
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        output = server.stdout.read().decode() if server.stdout else ""
        if log is not None:
            log.append(output)
        for token in tokens():
            assert token not in output, "a proof token reached the server's log"


def require_chromium() -> None:
    """Skip (fail on CI) unless Debian's Chromium is installed."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: scripts/services.d/chromium.sh installs it")
        pytest.skip("chromium is not installed (run scripts/setup-services.sh)")


def playwright_driver() -> Iterator[Any]:
    """Playwright's sync driver, Chromium required; a module makes it its fixture with
    ``playwright = pytest.fixture(scope="module")(playwright_driver)`` (once per module: the
    sync API cannot run twice at once)."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


def chromium_browser() -> Iterator[Any]:
    """Debian's Chromium launched headless by Playwright, closed at the end; a module makes
    it its fixture with ``browser = pytest.fixture(scope="module")(chromium_browser)``."""
    for p in playwright_driver():
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def origin_only_page(context: Any, origin: str, fetched: list[str] | None = None
                     ) -> tuple[Any, list[str], list[str]]:
    """A new page of ``context`` whose requests outside ``origin`` are refused.

    Args:
        context: a Playwright browser context.
        origin: the one origin the page may reach.
        fetched: given, the path (after the origin) of every request let through is
            appended to it.

    Returns:
        the page, the refused URLs, and the console and page errors (both filled as the
        page runs, for the test to assert on).
    """
    outside: list[str] = []
    errors: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith(origin + "/"):
            if fetched is not None:
                fetched.append(r.request.url[len(origin):])
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, outside, errors
