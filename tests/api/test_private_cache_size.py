"""The private proof cache's size is the operator's (spec §16.16): ``por serve
--private-cache N`` (through ``$POR_SERVE_PRIVATE_CACHE``, the settings the server reads),
default 64, 0 keeps none. Counted by how often a proof is made from tree.bin for a real
private round (wallycore) served in process."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import Settings, create_app
from por.cli import main as por_main
from por.errors import InputError
from por.liabilities import tokens as tokens_module
from por.liabilities.private import build_private_tree, write_private_round
from por.liabilities.tokens import issue_tokens
from verifier.liabilities.mst import Asset

SECRET = bytes(range(160, 192))  # a public test secret: never a real round's
USERS = [(f"user-{i}", [(i + 1) * 10**8, i * 10**17]) for i in range(3)]


@pytest.fixture(scope="module")
def rounds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    base = tmp_path_factory.mktemp("cache")
    directory = base / "pc1"
    write_private_round(build_private_tree("pc1", (Asset("BTC", 8), Asset("ETH", 18)),
                                           SECRET, USERS, workers=1), directory)
    pairs = issue_tokens(directory, SECRET, [u for u, _ in USERS])
    return base, dict(pairs)


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The user of every private proof made from tree.bin (the real prover, counted)."""
    users: list[str] = []
    real = tokens_module.TokenIndex._private_proof_text

    def counting(self: Any, record: Any) -> bytes:
        users.append(record.user_id)
        return real(self, record)

    monkeypatch.setattr(tokens_module.TokenIndex, "_private_proof_text", counting)
    yield users


def _ask(base: Path, tokens: dict[str, str], order: list[str], **settings: Any
         ) -> list[bytes]:
    app = create_app(Settings(rounds_dir=base, proof_rate_per_minute=0, **settings))
    with TestClient(app) as client:
        answers = [client.get(f"/api/v1/proofs/{tokens[u]}") for u in order]
    assert [a.status_code for a in answers] == [200] * len(order)
    return [a.content for a in answers]


def test_the_default_keeps_64_answers(rounds: tuple[Path, dict[str, str]],
                                      made: list[str]) -> None:
    assert Settings().private_proof_cache == 64
    base, tokens = rounds
    answers = _ask(base, tokens, ["user-0", "user-1", "user-0", "user-1"])
    assert made == ["user-0", "user-1"]
    assert answers[0] == answers[2] and answers[1] == answers[3]


def test_zero_keeps_none(rounds: tuple[Path, dict[str, str]], made: list[str]) -> None:
    base, tokens = rounds
    answers = _ask(base, tokens, ["user-0", "user-0"], private_proof_cache=0)
    assert made == ["user-0", "user-0"]
    assert answers[0] == answers[1]  # S's nonces: the same bytes, made twice


def test_one_keeps_the_last(rounds: tuple[Path, dict[str, str]], made: list[str]) -> None:
    base, tokens = rounds
    _ask(base, tokens, ["user-0", "user-0", "user-1", "user-0", "user-2", "user-2"],
         private_proof_cache=1)
    assert made == ["user-0", "user-1", "user-0", "user-2"]


def test_a_negative_size_is_refused() -> None:
    with pytest.raises(InputError, match="--private-cache -1"):
        create_app(Settings(private_proof_cache=-1))


def test_the_environment_sets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POR_SERVE_PRIVATE_CACHE", "7")
    assert Settings.from_env().private_proof_cache == 7
    monkeypatch.setenv("POR_SERVE_PRIVATE_CACHE", "")
    assert Settings.from_env().private_proof_cache == 64


def test_por_serve_passes_the_option_to_the_server(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    """uvicorn.run replaced by a recorder (no server is started: only what it would be
    given is checked; tests/api/test_private_tokens_served.py runs the real one)."""
    import uvicorn

    seen: list[str] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: seen.append(
        os.environ["POR_SERVE_PRIVATE_CACHE"]))
    for name in ("POR_SERVE_PRIVATE_CACHE", "POR_DATABASE_URL", "POR_SERVE_ROUNDS",
                 "POR_SERVE_KEYLIST", "POR_SERVE_AUDITOR_KEYS", "POR_SERVE_WITNESS_KEYS",
                 "POR_SERVE_WITNESS_QUORUM", "POR_SERVE_PROOF_RATE", "POR_SERVE_PROOF_BURST"):
        monkeypatch.setenv(name, os.environ.get(name, ""))  # restored after the test
    db = ["--db", f"sqlite:///{tmp_path / 'por.db'}"]
    runner = CliRunner()
    assert runner.invoke(por_main, ["serve", *db]).exit_code == 0
    assert runner.invoke(por_main, ["serve", *db, "--private-cache", "0"]).exit_code == 0
    assert seen == ["64", "0"]
    refused = runner.invoke(por_main, ["serve", *db, "--private-cache", "-1"])
    assert refused.exit_code == 2 and seen == ["64", "0"]
