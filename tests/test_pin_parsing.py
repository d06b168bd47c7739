"""``--pin`` is read by one parser (verifier.cli.options.parse_pin) on every command that
takes it: ``por keys list``, ``por-verify bundle`` and ``por-verify proof --bundle``.

Before, ``bundle`` and ``keys list`` read it with Python's ``str.strip`` and ``str.lower``
while ``proof --bundle`` read it as a typed root (64 hex digits in either case, surrounding
space, tab, CR or LF ignored). ``str.strip`` also drops every other Unicode whitespace, so
``bundle`` and ``keys list`` accepted a key id wrapped in a no-break space, a vertical tab, a
form feed, an information separator (U+001C..U+001F), NEL (U+0085) or a wide space
(U+2003, U+3000) that ``proof --bundle`` refused. The stricter reading wins on every command
(fail closed: one key id, one spelling rule): none of those is what a person types or a
key id carries, so each is now refused as malformed input (exit 2), the same everywhere.
Everything the two readings both accepted is accepted as before.

The bundle is a real published round (tests/support/attest_helpers.py: a real tree,
reserves signed on an in-process EVM), checked with --skip-chain.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from attest_helpers import build_round, make_world, publish, sign_and_cosign
from click.testing import CliRunner

from por.cli import main as por_main
from por.store.db import open_store
from verifier.cli import main as verify_main
from verifier.cli.options import parse_pin
from verifier.errors import FormatError

# Refused since the readings were made one: each was accepted by ``bundle`` and ``keys
# list`` (str.strip removes it), and refused by ``proof --bundle``.
NOW_REFUSED = {
    "vertical tab": "\v{k}",
    "form feed": "\f{k}",
    "file separator U+001C": "{k}\x1c",
    "unit separator U+001F": "\x1f{k}",
    "next line U+0085": "\x85{k}",
    "no-break space U+00A0": "\xa0{k}",
    "em space U+2003": "\u2003{k}",
    "ideographic space U+3000": "{k}\u3000",
    "line separator U+2028": "{k}\u2028",
}
# Accepted by both readings, and still.
ACCEPTED = {
    "as published": "{k}",
    "upper case": "{K}",
    "spaces": "  {k} ",
    "tab and newline": "\t{k}\n",
    "carriage return": "\r\n{k}\r\n",
}


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A published round's directory (its bundle, key list and a user's proof) and the
    exchange's key id."""
    tmp = tmp_path_factory.mktemp("pin")
    world = make_world(tmp)
    build_round(world, tmp, "r1")
    engine = open_store(f"sqlite:///{tmp / 'por.db'}")
    sign_and_cosign(engine, world, "r1", 0)
    publish(engine, world, "r1", tmp / "bundle-r1", 0)
    engine.dispose()
    return tmp, world.exchange_key.public.key_id


def _commands(tmp: Path, pin: str) -> dict[str, tuple[object, list[str]]]:
    return {
        "por keys list": (por_main, ["keys", "list", str(tmp / "keylist.json"), "--pin", pin]),
        "por-verify bundle": (verify_main, [
            "bundle", str(tmp / "bundle-r1"), "--skip-chain", "--now", "2026-11-26T00:00:00Z",
            "--state", str(tmp / "state.json"), "--pin", pin]),
        "por-verify proof --bundle": (verify_main, [
            "proof", str(tmp / "r1" / "proof-u3.json"), "--bundle", str(tmp / "bundle-r1"),
            "--pin", pin]),
    }


@pytest.mark.parametrize("name", sorted(NOW_REFUSED))
def test_a_pin_wrapped_in_other_whitespace_is_refused_by_every_command(
        published: tuple[Path, str], name: str) -> None:
    tmp, key_id = published
    pin = NOW_REFUSED[name].format(k=key_id)
    with pytest.raises(FormatError, match="--pin: expected 64 hex digits, found 65 characters"):
        parse_pin(pin)
    for command, (main, args) in _commands(tmp, pin).items():
        (tmp / "state.json").unlink(missing_ok=True)
        result = CliRunner().invoke(main, args)  # type: ignore[arg-type]
        assert result.exit_code == 2, (command, result.output)
        assert "--pin: expected 64 hex digits, found 65 characters" in result.stderr, (
            command, result.stderr)
        assert "VERIFIED" not in result.stdout and "chain verified" not in result.stdout


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_a_pin_both_readings_accepted_is_accepted_by_every_command(
        published: tuple[Path, str], name: str) -> None:
    tmp, key_id = published
    pin = ACCEPTED[name].format(k=key_id, K=key_id.upper())
    assert parse_pin(pin) == key_id
    for command, (main, args) in _commands(tmp, pin).items():
        (tmp / "state.json").unlink(missing_ok=True)
        result = CliRunner().invoke(main, args)  # type: ignore[arg-type]
        assert result.exit_code == 0, (command, result.output)
        assert "VERIFIED" in result.stdout or "chain verified" in result.stdout, command


def test_no_pin_and_an_empty_pin_are_the_same() -> None:
    assert parse_pin(None) is None
    assert parse_pin("") is None
    with pytest.raises(FormatError, match="found 0 characters"):
        parse_pin("   ")
