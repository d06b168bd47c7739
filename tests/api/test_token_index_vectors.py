"""The committed token index version 2 vectors (``tests/vectors/token-index-v2.json``, spec
§16.16), each through the server's reader (:class:`por.liabilities.tokens.TokenIndex`) and
through the API: a valid index opens each user's token to a proof that ``por-verify proof``
verifies against root.json; a missing or short serving key, or an index of the other
version, is malformed (exit 2; the server skips it, so every token is the unknown path's
404); a record naming another leaf opens but serves nothing (exit 1; 503)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from token_index_vectorgen import OUT, render

from api.app import Settings, create_app
from por.liabilities.tokens import TOKEN_FILE, TokenIndex
from verifier.cli import main as verify_main
from verifier.errors import PorError, exit_code

DATA = json.loads(OUT.read_text())
VECTORS = {v["name"]: v for v in DATA["vectors"]}


def test_the_committed_vectors_are_current() -> None:
    assert OUT.read_text() == render(), "run python tests/api/token_index_vectorgen.py"


def test_the_spec_names_every_vector() -> None:
    spec = (Path(__file__).parents[2] / "docs" / "spec.md").read_text()
    assert [n for n in VECTORS if f"`{n}`" not in spec] == []


def _round(base: Path, vector: dict[str, Any]) -> Path:
    directory = base / DATA["round"]
    directory.mkdir(parents=True)
    (directory / "root.json").write_text(DATA["root_json"])
    (directory / "tree.bin").write_bytes(bytes.fromhex(DATA["tree_bin"]))
    (directory / TOKEN_FILE).write_bytes(bytes.fromhex(vector["index"]))
    return directory


def _verdict(directory: Path, vector: dict[str, Any]) -> tuple[str, int]:
    """What the server's reader makes of the index: its verdict and exit code."""
    try:
        index = TokenIndex(directory)
    except PorError as e:
        return "malformed", exit_code(e)
    try:
        assert index.private
        assert index.lookup(secrets.token_hex(16)) is None
        verdict, code = "opens", 0
        for token, user in vector["opens"].items():
            record = index.lookup(token)
            assert record is not None and record.user_id == user, vector["name"]
            try:
                text = index.proof_text(record)
            except PorError as e:
                assert token in vector.get("refused", []), vector["name"]
                verdict, code = "refused", exit_code(e)
                continue
            proof = directory.parent / f"{user}.json"
            proof.write_bytes(text)
            checked = CliRunner().invoke(verify_main, [
                "proof", str(proof), "--summary", str(directory / "root.json")])
            assert checked.exit_code == 0, checked.output
        return verdict, code
    finally:
        index.close()


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_every_vector_gets_its_verdict_from_the_reader(name: str, tmp_path: Path) -> None:
    vector = VECTORS[name]
    directory = _round(tmp_path, vector)
    assert _verdict(directory, vector) == (vector["verdict"], vector["exit_code"])


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_every_vector_gets_its_answer_from_the_server(name: str, tmp_path: Path) -> None:
    vector = VECTORS[name]
    directory = _round(tmp_path, vector)
    tokens = vector.get("opens") or VECTORS["valid-private-token-index-v2"]["opens"]
    refused = set(vector.get("refused", []))
    with TestClient(create_app(Settings(rounds_dir=directory.parent,
                                        proof_rate_per_minute=0))) as client:
        for token in tokens:
            got = client.get(f"/api/v1/proofs/{token}")
            want = 503 if token in refused else 404 if vector["verdict"] == "malformed" else 200
            assert got.status_code == want, (name, token, got.text)
            if want == 200:
                assert json.loads(got.content)["scheme"] == "por-mst-private"
            assert bytes.fromhex(vector["index"])[16:48].hex() not in got.text  # never S
