"""Shared test setup: the tests folder's helper modules are importable by name, and every
test that needs a real service or takes long is marked, so a quick selection runs alone:

    .venv/bin/pytest -n 2 -m "not services and not slow"

`services`: a real chain node (Hardhat, litecoind), PostgreSQL, Chromium, or a server
started as a subprocess. `slow`: builds big rounds or logs, or kills processes on purpose.
The marks are given here from what a test uses, so a new test is marked without anyone
remembering to; `make test` runs everything.
"""

from __future__ import annotations

import inspect
import logging
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS / "support"))

# Fixtures that start a real service.
_SERVICE_FIXTURES = frozenset({"postgres_server", "postgres_url", "browser_page", "served"})
# A test (or its module's fixtures) calling one of these starts a chain node, a browser or
# a long-running server subprocess itself (``por_serve``: tests/support/browser_setup.py).
_SERVICE_CALLS = ("start_hardhat(", "start_litecoind(", "/usr/bin/chromium", "Popen(",
                  "por_serve(")
# Folders whose every test needs a service, and modules known to be slow (measured with
# --durations: each takes seconds of CPU, far above the quick selection's budget).
_SERVICE_DIRS = ("web",)
_SLOW_MODULES = frozenset({
    "attest/test_publish_kill.py",
    "operator",
    "scale/test_cluster.py",
    "scale/test_prove_all.py",
    "scale/test_streaming.py",
    "attacks/test_split_view_witness_quorum.py",
    "api/test_api_schema.py",
    "reserves/test_contracts_compile.py",
    "api/test_demo_page.py",
    "foreign/test_foreign_mutations.py",
    "foreign/test_binance_gateio.py",
    "attacks/test_page_verdict_disagrees_with_bundle.py",
    "scale/test_native.py::test_builds_are_byte_identical_on_both_paths",
    "test_reference.py::test_parallel_build_matches_single_process",
})


@cache
def _module_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""


def _function_text(item: pytest.Item) -> str:
    function = getattr(item, "function", None)
    try:
        return inspect.getsource(function) if function is not None else ""
    except (OSError, TypeError):
        return ""


def _is_slow(rel: str, nodeid: str) -> bool:
    return any(rel == m or rel.startswith(m + "/") or nodeid.startswith(m)
               for m in _SLOW_MODULES)


@pytest.fixture(autouse=True)
def _private_data_home(tmp_path_factory: pytest.TempPathFactory,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own $XDG_DATA_HOME, where round secrets default to
    (por/liabilities/secret.py):
    tests never write into the real home, and two tests of the same round id never meet."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data-home")))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "services: needs a real chain node, database, browser or server")
    config.addinivalue_line("markers", "slow: takes seconds (big builds, kill tests, clusters)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        try:
            rel = path.relative_to(TESTS).as_posix()
        except ValueError:
            continue
        callspec = getattr(item, "callspec", None)
        params = set(map(str, callspec.params.values())) if callspec is not None else set()
        if (rel.split("/", 1)[0] in _SERVICE_DIRS
                or _SERVICE_FIXTURES & set(getattr(item, "fixturenames", ()))
                or "postgresql" in params
                or any(call in _function_text(item) for call in _SERVICE_CALLS)
                or any(call in _module_text(str(path)) for call in _SERVICE_CALLS[:2])):
            item.add_marker(pytest.mark.services)
        if _is_slow(rel, item.nodeid.removeprefix("tests/")):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def access_log() -> Iterator[list[str]]:
    """Every line written to ``por.access`` (at INFO, as ``por serve`` configures it)."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    logger = logging.getLogger("por.access")
    handler, level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
