"""A private round's proofs served by token (spec §16.16): ``por tokens issue`` on a real
private round (wallycore), ``por serve`` on loopback, and the proof fetched by token checked
by ``por-verify proof --summary``. The served proof differs from ``prove-private``'s only in
its range-proof bytes; the serving key S is in no answer, log line or other file of the
round; a wrong token gets the unknown path's answer; a server that cannot import the
library answers 503 saying so (that server runs with a stand-in ``wallycore`` package that
refuses to import: the one way to run without the extra in this environment)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser_setup import por_serve

from por.liabilities.private import build_private_tree, write_private_round
from por.liabilities.secret import create_secret
from por.liabilities.tokens import TOKEN_FILE, serving_key
from verifier.liabilities.mst import Asset

SECRET = bytes(range(64, 96))  # a public test secret: never a real round's
ROUND = "pt1"
ASSETS = (Asset("BTC", 8), Asset("ETH", 18))
USERS = [f"user-{i}" for i in range(6)]
BIN = Path(sys.executable).parent


@dataclass
class Served:
    origin: str
    round_dir: Path
    secret_file: Path
    tokens: dict[str, str]
    log: list[str]  # the server's whole output, filled when it stops


def _serve(tmp: Path, rounds: Path, log: list[str],
           env: dict[str, str]) -> contextlib.AbstractContextManager[str]:
    return por_serve(f"sqlite:///{tmp / 'por.db'}", rounds, env=env, log=log)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("private-tokens")
    balances = [(u, [(i + 1) * 10_000_000, (3 * i + 1) * 10**17]) for i, u in enumerate(USERS)]
    rounds = tmp / "rounds"
    write_private_round(build_private_tree(ROUND, ASSETS, SECRET, balances), rounds / ROUND)
    secret_file = tmp / "secrets" / f"{ROUND}.key"
    create_secret(secret_file, SECRET)
    (tmp / "users.txt").write_text("\n".join(USERS) + "\n")
    out = subprocess.run(
        [str(BIN / "por"), "tokens", "issue", str(rounds / ROUND), "--users",
         str(tmp / "users.txt"), "--out", str(tmp / "tokens.csv"), "--secret-file",
         str(secret_file)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    lines = (tmp / "tokens.csv").read_text().splitlines()[1:]
    tokens = dict(line.split(",") for line in lines)
    log: list[str] = []
    with _serve(tmp, rounds, log, {}) as origin:
        yield Served(origin, rounds / ROUND, secret_file, tokens, log)


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=120) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _verify(proof: Path, summary: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "por-verify"), "proof", str(proof), "--summary",
                           str(summary)], capture_output=True, text=True, check=False)


def test_a_private_proof_fetched_by_token_verifies(served: Served, tmp_path: Path) -> None:
    user = USERS[3]
    status, body = _get(f"{served.origin}/api/v1/proofs/{served.tokens[user]}")
    assert status == 200, body[:300]
    (tmp_path / "served.json").write_bytes(body)
    checked = _verify(tmp_path / "served.json", served.round_dir / "root.json")
    assert checked.returncode == 0 and "VERIFIED" in checked.stdout, checked.stdout
    # The same proof as prove-private's (with K's nonces) but for its range-proof bytes.
    made = subprocess.run(
        [str(BIN / "por"), "liabilities", "prove-private", str(served.round_dir), user,
         "--secret-file", str(served.secret_file), "--out", str(tmp_path / "k.json")],
        capture_output=True, text=True, check=False)
    assert made.returncode == 0, made.stderr
    mine, theirs = json.loads(body), json.loads((tmp_path / "k.json").read_bytes())
    assert mine["user_id"] == user
    ranges = [(a["range_proofs"], b["range_proofs"])
              for a, b in zip(mine["path"], theirs["path"], strict=True)]
    assert all(a != b for pair in ranges for a, b in zip(*pair, strict=True))
    for doc in (mine, theirs):
        for step in doc["path"]:
            step["range_proofs"] = []
    assert mine == theirs
    # Asked again: the same bytes (made deterministically, or from the cache).
    assert _get(f"{served.origin}/api/v1/proofs/{served.tokens[user]}") == (200, body)


def test_every_user_gets_their_own_proof(served: Served) -> None:
    for user in USERS[:2]:
        status, body = _get(f"{served.origin}/api/v1/proofs/{served.tokens[user]}")
        assert status == 200 and json.loads(body)["user_id"] == user


def test_a_wrong_token_gets_the_unknown_paths_answer(served: Served) -> None:
    good = served.tokens[USERS[0]]
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    missing = _get(f"{served.origin}/api/v1/nothing-here")
    assert missing[0] == 404
    assert _get(f"{served.origin}/api/v1/proofs/{wrong}") == missing
    assert _get(f"{served.origin}/api/v1/proofs/{'0' * 32}") == missing


def test_the_serving_key_is_in_no_answer_log_or_other_file(served: Served) -> None:
    key = serving_key(SECRET, ROUND)
    answers = [_get(f"{served.origin}/api/v1/proofs/{t}")[1] for t in served.tokens.values()]
    answers += [_get(f"{served.origin}{p}")[1] for p in (
        "/", "/api/v1/rounds", f"/api/v1/rounds/{ROUND}",
        f"/api/v1/rounds/{ROUND}/liabilities-root")]
    files = {p.name: p.read_bytes() for p in served.round_dir.iterdir()
             if p.name != TOKEN_FILE}
    index = served.round_dir / TOKEN_FILE
    assert stat.S_IMODE(index.stat().st_mode) == 0o600
    assert key in index.read_bytes()  # stored there, and only there
    spellings = [key, key.hex().encode(), key.hex().upper().encode(),
                 base64.b64encode(key), base64.urlsafe_b64encode(key)]
    for name, data in [*(("answer", a) for a in answers), *files.items()]:
        for s in spellings:
            assert s not in data, f"the serving key in {name}"
            assert SECRET.hex().encode() not in data and SECRET not in data


def test_the_serving_key_is_in_no_log_line(served: Served, tmp_path: Path) -> None:
    # The server's log is complete once it stops: a second server over the same round, its
    # log read at the end (the module's server is still serving the other tests).
    log: list[str] = []
    with _serve(tmp_path, served.round_dir.parent, log, {}) as origin:
        for token in served.tokens.values():
            assert _get(f"{origin}/api/v1/proofs/{token}")[0] == 200
        assert _get(f"{origin}/api/v1/proofs/{'f' * 32}")[0] == 404
    key = serving_key(SECRET, ROUND)
    assert log and "GET" in log[0]  # the access log ran
    for s in (key.hex(), key.hex().upper(), base64.b64encode(key).decode(), SECRET.hex()):
        assert s not in log[0]
    for token in served.tokens.values():
        assert token not in log[0]


def test_without_the_library_the_server_says_so(served: Served, tmp_path: Path) -> None:
    shadow = tmp_path / "shadow" / "wallycore"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'wallycore'\", name='wallycore')\n")
    env = {"PYTHONPATH": os.pathsep.join([str(shadow.parent), os.environ.get("PYTHONPATH", "")])}
    log: list[str] = []
    with _serve(tmp_path, served.round_dir.parent, log, env) as origin:
        status, body = _get(f"{origin}/api/v1/proofs/{served.tokens[USERS[0]]}")
        assert status == 503, body[:300]
        assert "[private] extra" in json.loads(body)["detail"]
        assert b"range_proofs" not in body
        assert _get(f"{origin}/api/v1/proofs/{'0' * 32}")[0] == 404
