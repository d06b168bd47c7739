"""``por keys`` commands; passphrases never travel on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from por.cli import main
from por.cli.keys import keys_group

PASS = "a long enough passphrase"


def test_no_command_takes_a_passphrase_option() -> None:
    for command in keys_group.commands.values():
        for param in command.params:
            for opt in getattr(param, "opts", []):
                assert "pass" not in opt.lower(), f"{command.name} {opt}"


def test_new_list_rotate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    monkeypatch.setenv("POR_KEY_PASSPHRASE", PASS)
    kl = tmp_path / "keylist.json"
    r = runner.invoke(
        main,
        [
            "keys",
            "new",
            str(tmp_path / "k1.pem"),
            "--label",
            "Ex",
            "--keylist",
            str(kl),
            "--exchange",
            "Example",
        ],
    )
    assert r.exit_code == 0, r.output
    assert PASS not in r.output
    r = runner.invoke(main, ["keys", "new", str(tmp_path / "k2.pem"), "--label", "Ex 2"])
    assert r.exit_code == 0, r.output
    monkeypatch.setenv("POR_NEW_KEY_PASSPHRASE", PASS)
    r = runner.invoke(
        main,
        [
            "keys",
            "rotate",
            str(kl),
            "--old",
            str(tmp_path / "k1.pem"),
            "--new",
            str(tmp_path / "k2.pem"),
        ],
    )
    assert r.exit_code == 0, r.output
    first = json.loads((tmp_path / "k1.pem.pub.json").read_text())["key_id"]
    r = runner.invoke(main, ["keys", "list", str(kl), "--pin", first])
    assert r.exit_code == 0, r.output
    assert "2 key(s), chain verified" in r.output
    # wrong passphrase: exit 2, and the passphrase is not echoed
    monkeypatch.setenv("POR_KEY_PASSPHRASE", "wrong passphrase here")
    r = runner.invoke(
        main,
        [
            "keys",
            "rotate",
            str(kl),
            "--old",
            str(tmp_path / "k2.pem"),
            "--new",
            str(tmp_path / "k1.pem"),
        ],
    )
    assert r.exit_code == 2 and "wrong passphrase here" not in r.output


def test_no_passphrase_and_no_terminal_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POR_KEY_PASSPHRASE", raising=False)
    r = CliRunner().invoke(main, ["keys", "new", str(tmp_path / "k.pem"), "--label", "Ex"])
    assert r.exit_code == 2
    assert not (tmp_path / "k.pem").exists()


def test_exit_codes_follow_the_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Spec §9: a wrong key or a broken chain in a well-formed list exits 1; a malformed
    list or pin exits 2."""
    runner = CliRunner()
    monkeypatch.setenv("POR_KEY_PASSPHRASE", PASS)
    monkeypatch.setenv("POR_NEW_KEY_PASSPHRASE", PASS)
    kl = tmp_path / "keylist.json"
    for name, extra in (("k1", ["--keylist", str(kl)]), ("k2", []), ("k3", [])):
        r = runner.invoke(main, ["keys", "new", str(tmp_path / f"{name}.pem"), "--label",
                                 name, *extra])
        assert r.exit_code == 0, r.output
    # rotate with a key that is not the current one: a wrong key
    r = runner.invoke(main, ["keys", "rotate", str(kl), "--old", str(tmp_path / "k2.pem"),
                             "--new", str(tmp_path / "k3.pem")])
    assert r.exit_code == 1, r.output
    # a pin that is not in the chain: 1; a pin that is not a key id: 2; upper case is fine
    first = json.loads((tmp_path / "k1.pem.pub.json").read_text())["key_id"]
    assert runner.invoke(main, ["keys", "list", str(kl), "--pin", "ab" * 32]).exit_code == 1
    assert runner.invoke(main, ["keys", "list", str(kl), "--pin", "xyz"]).exit_code == 2
    assert runner.invoke(main, ["keys", "list", str(kl), "--pin", first.upper()]).exit_code == 0
    # a key injected without its rotation: a broken chain, 1
    data = json.loads(kl.read_text())
    data["keys"].append(json.loads((tmp_path / "k3.pem.pub.json").read_text()))
    kl.write_text(json.dumps(data))
    r = runner.invoke(main, ["keys", "list", str(kl)])
    assert r.exit_code == 1, r.output
    # a key whose stated id is not its hash: the file contradicts itself, 2
    data["keys"] = data["keys"][:1]
    data["keys"][0]["key_id"] = "00" * 32
    kl.write_text(json.dumps(data))
    assert runner.invoke(main, ["keys", "list", str(kl)]).exit_code == 2
