"""``por-verify log`` end to end: tree heads from a real store (SQLite), the remembered head,
and the named attacks: rewritten history, a smaller tree, another root at the same size."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from por.keys import SigningKey, new_key_list
from por.log import appender
from por.store.db import open_store
from verifier.cli import main

T0 = datetime(2026, 11, 25, tzinfo=UTC)


def _log(tmp: Path, name: str, entries: list[bytes], key: SigningKey,
         log: str = "example") -> Path:
    engine = open_store(f"sqlite:///{tmp / (name + '.db')}")
    out = tmp / name
    out.mkdir()
    for i, e in enumerate(entries):
        done = appender.append(engine, log, e, key, T0 + timedelta(days=i),
                               keylist=new_key_list("Example", key.public).to_json().encode())
        (out / f"sth-{i + 1}.json").write_text(done.tree_head.signed.to_json())
    n = len(entries)
    for old in range(1, n):
        (out / f"cons-{old}-{n}.json").write_text(
            appender.prove_consistency(engine, old, n).to_json()
        )
    engine.dispose()
    return out


def _run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["log", *map(str, args)])
    return result.exit_code, result.output


def test_log_cli_accepts_extensions_and_refuses_rewrites(tmp_path: Path) -> None:
    key = SigningKey.generate("Example log")
    keyfile = tmp_path / "key.json"
    keyfile.write_text(json.dumps(key.public.to_dict()))
    state = tmp_path / "state.json"
    honest = _log(tmp_path, "honest", [b"r1", b"r2", b"r3", b"r4"], key)
    forked = _log(tmp_path, "forked", [b"r1", b"FORGED", b"r3", b"r4", b"r5"], key)
    common = ("--key", keyfile, "--state", state)

    code, out = _run(
        "--old",
        honest / "sth-2.json",
        "--new",
        honest / "sth-4.json",
        "--proof",
        honest / "cons-2-4.json",
        *common,
    )
    assert code == 0, out
    # The memory is keyed by the exchange's identity (here the key given), never by the
    # log's name; versioned, private to its user.
    saved = json.loads(state.read_text())
    assert (saved["scheme"], saved["version"]) == ("por-verify-state", 2)
    assert saved["exchanges"][key.public.key_id]["log"] == "example"
    assert saved["exchanges"][key.public.key_id]["tree_head"]
    assert state.stat().st_mode & 0o777 == 0o600

    # rewritten-history: entry 2 replaced, the fork's own proof from its own size 1
    code, out = _run("--new", forked / "sth-5.json", "--proof", forked / "cons-4-5.json", *common)
    assert code == 1, out
    # smaller-tree: a head of size 2 after size 4 was seen
    code, out = _run("--new", honest / "sth-2.json", *common)
    assert code == 1 and "smaller" in out, out
    # different-root-same-size: the fork's size-4 head against the remembered size 4
    code, out = _run("--new", forked / "sth-4.json", *common)
    assert code == 1 and "rewritten" in out, out
    # unsigned-or-wrong-key: a head checked against another key
    other = tmp_path / "other.json"
    other.write_text(json.dumps(SigningKey.generate("other").public.to_dict()))
    code, out = _run("--new", honest / "sth-4.json", "--key", other, "--state", state)
    assert code == 1, out
    # the same head again is fine (nothing new, nothing rewritten)
    code, out = _run("--new", honest / "sth-4.json", *common)
    assert code == 0, out
    # malformed input
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    code, out = _run("--new", bad, *common)
    assert code == 2, out
    code, out = _run("--new", honest / "sth-4.json", "--state", state)
    assert code == 2, out


def test_a_second_log_of_a_known_key_needs_explicit_acceptance(tmp_path: Path) -> None:
    key = SigningKey.generate("Example log")
    keyfile = tmp_path / "key.json"
    keyfile.write_text(json.dumps(key.public.to_dict()))
    state = tmp_path / "state.json"
    first = _log(tmp_path, "first", [b"r1", b"r2"], key)
    second = _log(tmp_path, "second", [b"X1", b"X2"], key, log="example log2")
    code, out = _run("--old", first / "sth-1.json", "--new", first / "sth-2.json", "--proof",
                     first / "cons-1-2.json", "--key", keyfile, "--state", state)
    assert code == 0, out
    code, out = _run("--old", second / "sth-1.json", "--new", second / "sth-2.json", "--proof",
                     second / "cons-1-2.json", "--key", keyfile, "--state", state)
    assert code == 1 and "example log2" in out and "another log" in out, out
    code, out = _run("--old", second / "sth-1.json", "--new", second / "sth-2.json", "--proof",
                     second / "cons-1-2.json", "--key", keyfile, "--state", state,
                     "--accept-new-log")
    assert code == 0, out


def test_a_version_1_memory_is_still_read(tmp_path: Path) -> None:
    """A state file of version 1 (heads keyed by log name) is read: its head, signed by the
    key given, becomes that key's memory, so a rewrite is still caught."""
    key = SigningKey.generate("Example log")
    keyfile = tmp_path / "key.json"
    keyfile.write_text(json.dumps(key.public.to_dict()))
    honest = _log(tmp_path, "honest", [b"r1", b"r2"], key)
    forked = _log(tmp_path, "forked", [b"r1", b"FORGED", b"r3"], key)
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"scheme": "por-verify-log-state", "version": 1, "logs": {
        "example": (honest / "sth-2.json").read_text()}}))
    code, out = _run("--new", forked / "sth-3.json", "--proof", forked / "cons-2-3.json",
                     "--key", keyfile, "--state", state)
    assert code == 1, out
    code, out = _run("--new", honest / "sth-2.json", "--key", keyfile, "--state", state)
    assert code == 0, out
    assert json.loads(state.read_text())["version"] == 2
