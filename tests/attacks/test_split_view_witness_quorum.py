"""Attack: users are shown different roots (split view, issue 10 item 7).

The exchange keeps two logs: the honest one, and a fork whose entries differ. Each bundle is
consistent with itself and signed by the exchange's key, so a user given the fork verifies
their proof against it and never learns that everyone else sees another history.
Defence (docs/spec.md §14): witnesses co-sign a tree head only when it extends the last head
they co-signed for that exchange; ``por-verify proof --bundle DIR --witness-key W
--witness-quorum N`` (and ``por-verify bundle``) accept only a head co-signed by N known
witnesses. A witness that signed the honest head refuses the fork; the fork cannot borrow
the honest co-signature (it binds the exact head payload), and co-signatures by witnesses
the user does not know are listed as unchecked and never counted.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from attest_helpers import PASSPHRASE, World, build_round, make_world, publish, sign_and_cosign
from click.testing import CliRunner

from por.cli import main as por_main
from por.keys import SigningKey
from por.store.db import open_store
from verifier.cli import main as verify_main

ENV = {"POR_KEY_PASSPHRASE": PASSPHRASE}


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, Path]:
    tmp = tmp_path_factory.mktemp("split")
    w = make_world(tmp)
    build_round(w, tmp, "r1")
    build_round(w, tmp, "r2")
    for db, prefix, shift in (("honest.db", "bundle", 0), ("forked.db", "forked", 3)):
        engine = open_store(f"sqlite:///{tmp / db}")
        for day, name in ((0, "r1"), (1, "r2")):
            sign_and_cosign(engine, w, name, day + shift)  # other times: other log entries
            publish(engine, w, name, tmp / f"{prefix}-{name}", day + shift)
        engine.dispose()
    for label, name in (("Witness One", "w1"), ("Mallory's Witness", "mallory")):
        key = SigningKey.generate(label)
        key.save(tmp / f"{name}.pem", PASSPHRASE)
        (tmp / f"{name}.pub.json").write_text(json.dumps(key.public.to_dict()))
    return w, tmp


def witness(tmp: Path, who: str, bundle: str, out: str, *extra: str,
            state: str = "") -> tuple[int, str]:
    args = ["log", "witness", str(tmp / bundle / "tree-head.json"), "--key",
            str(tmp / f"{who}.pem"), "--state", str(tmp / f"{state or who}-state.json"),
            "--keylist",
            str(tmp / "keylist.json"), "--out", str(tmp / out), "--now",
            "2026-12-01T00:00:00Z", *extra]
    res = CliRunner().invoke(verify_main, args, env=ENV)
    return res.exit_code, res.output


def user_check(w: World, tmp: Path, bundle: Path, *extra: str) -> tuple[int, dict[str, object]]:
    res = CliRunner().invoke(verify_main, [
        "proof", str(w.rounds["r2"]["proof"]), "--bundle", str(bundle), "--witness-key",
        str(tmp / "w1.pub.json"), "--witness-quorum", "1", "--json", *extra])
    return res.exit_code, json.loads(res.output)


def test_split_view_is_caught_by_a_witness_quorum(logs: tuple[World, Path]) -> None:
    w, tmp = logs
    # Without witnesses the fork is indistinguishable: the user's proof verifies against it.
    fooled = CliRunner().invoke(verify_main, ["proof", str(w.rounds["r2"]["proof"]),
                                              "--summary", str(tmp / "forked-r2/root.json")])
    assert fooled.exit_code == 0
    assert (json.loads((tmp / "bundle-r2/tree-head.json").read_text())["payload"]
            != json.loads((tmp / "forked-r2/tree-head.json").read_text())["payload"])

    # The witness follows the honest log: size 1, then size 2 through the consistency proof.
    assert witness(tmp, "w1", "bundle-r1", "c1.json")[0] == 0
    code, out = witness(tmp, "w1", "bundle-r2", "c2.json", "--proof",
                        str(tmp / "bundle-r2/consistency/from-1.json"))
    assert code == 0, out
    added = CliRunner().invoke(por_main, ["witness", "add", str(tmp / "bundle-r2"),
                                          str(tmp / "c2.json")])
    assert added.exit_code == 0, added.output
    assert (tmp / "bundle-r2/witnesses").is_dir()

    # Asked to co-sign the fork, the witness refuses: it does not extend what it signed.
    code, out = witness(tmp, "w1", "forked-r2", "fork.json", "--proof",
                        str(tmp / "forked-r2/consistency/from-1.json"))
    assert code == 1, out
    assert not (tmp / "fork.json").exists()

    # The honest bundle passes with the quorum; the fork fails it.
    code, report = user_check(w, tmp, tmp / "bundle-r2")
    assert code == 0 and report["verdict"] == "VERIFIED", report
    code, report = user_check(w, tmp, tmp / "forked-r2")
    assert code == 1 and report["verdict"] == "FAILED"
    assert "witness-quorum" in str(report["error"])


def test_the_fork_cannot_borrow_an_honest_cosignature(logs: tuple[World, Path]) -> None:
    w, tmp = logs
    # Witness One's co-signature of the honest head of size 2 (its own state for this test).
    assert witness(tmp, "w1", "bundle-r1", "b1.json", state="borrow")[0] == 0
    assert witness(tmp, "w1", "bundle-r2", "c2-borrowed.json", "--proof",
                   str(tmp / "bundle-r2/consistency/from-1.json"), state="borrow")[0] == 0
    fork = tmp / "forked-r2-borrowed"
    shutil.copytree(tmp / "forked-r2", fork)
    (fork / "witnesses").mkdir()
    cosig = json.loads((tmp / "c2-borrowed.json").read_text())
    shutil.copy(tmp / "c2-borrowed.json", fork / "witnesses" / f"{cosig['witness_key_id']}.json")
    code, report = user_check(w, tmp, fork)
    assert code == 1 and "witness-signature" in str(report["error"])
    assert "another" in str(report["error"]) or "not this one" in str(report["error"])
    # `por witness add` refuses it outright: it names another tree head.
    refused = CliRunner().invoke(por_main, ["witness", "add", str(tmp / "forked-r2"),
                                            str(tmp / "c2-borrowed.json")])
    assert refused.exit_code == 2 and "another tree head" in refused.output


def test_an_unknown_witness_is_listed_never_counted(logs: tuple[World, Path]) -> None:
    w, tmp = logs
    fork = tmp / "forked-r2-mallory"
    shutil.copytree(tmp / "forked-r2", fork)
    # Mallory's witness follows the fork and co-signs it honestly by its own rule.
    assert witness(tmp, "mallory", "forked-r1", "m1.json")[0] == 0
    code, out = witness(tmp, "mallory", "forked-r2", "m2.json", "--proof",
                        str(tmp / "forked-r2/consistency/from-1.json"))
    assert code == 0, out
    assert CliRunner().invoke(por_main, ["witness", "add", str(fork),
                                         str(tmp / "m2.json")]).exit_code == 0
    code, report = user_check(w, tmp, fork)
    assert code == 1 and "0 valid co-signature(s)" in str(report["error"])
    bundle = CliRunner().invoke(verify_main, [
        "bundle", str(fork), "--skip-chain", "--state", str(tmp / "user-state.json"),
        "--witness-key", str(tmp / "w1.pub.json"), "--json",
        "--pin", w.exchange_key.public.key_id, "--now", "2026-12-01T00:00:00Z"])
    assert bundle.exit_code == 1
    result = json.loads(bundle.output)
    assert any("not checked" in n and "not counted" in n for n in result["notes"])
    assert {f["code"] for f in result["findings"]} == {"witness-quorum"}
