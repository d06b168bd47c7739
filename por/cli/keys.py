"""``por keys``: create Ed25519 keys, list the published key list, rotate to a new key.

Passphrases come from an environment variable or a hidden prompt, never from an option:
a command line is visible to every user of the machine (``ps``) and kept in shell history.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import click

from por.errors import InputError
from por.keys import PASSPHRASE_ENV, SigningKey, new_key_list, passphrase_from, rotate
from verifier.cli.options import FILE, parse_pin, pin_option
from verifier.signed.keylist import KeyList

NEW_PASSPHRASE_ENV = "POR_NEW_KEY_PASSPHRASE"  # noqa: S105 (a variable's name)


def _prompt(text: str, confirm: bool) -> str:
    return str(click.prompt(text, hide_input=True, confirmation_prompt=confirm))


def _interactive() -> Callable[[str, bool], str] | None:
    return _prompt if sys.stdin.isatty() else None


def _read_key_list(path: Path) -> KeyList:
    try:
        return KeyList.from_json(path.read_bytes())
    except OSError as e:
        raise InputError(f"{path}: cannot read the key list: {e.strerror}") from e


@click.group("keys")
def keys_group() -> None:
    """Ed25519 signing keys, the published key list, and rotation."""


@keys_group.command("new")
@click.argument("key_file", type=FILE)
@click.option("--label", required=True, help="Who the key belongs to, e.g. the exchange's name.")
@click.option(
    "--keylist",
    "keylist_file",
    type=FILE,
    help="Start a new key list (to publish) with this key as its first key.",
)
@click.option("--exchange", help="The exchange's name in the new key list.")
def new_cmd(key_file: Path, label: str, keylist_file: Path | None, exchange: str | None) -> None:
    """Create KEY_FILE (encrypted PEM, mode 0600) and KEY_FILE.pub.json.

    The passphrase is read from $POR_KEY_PASSPHRASE, else prompted for.
    """
    if keylist_file is not None and keylist_file.exists():
        raise InputError(f"{keylist_file}: exists; add keys to it with `por keys rotate`")
    passphrase = passphrase_from(PASSPHRASE_ENV, _interactive(), "the new key", confirm=True)
    key = SigningKey.generate(label)
    key.save(key_file, passphrase)
    pub = key_file.with_name(key_file.name + ".pub.json")
    pub.write_text(json.dumps(key.public.to_dict(), indent=2) + "\n")
    click.echo(f"key id {key.public.key_id}")
    click.echo(f"  private  {key_file}   (encrypted; keep it offline)")
    click.echo(f"  public   {pub}")
    if keylist_file is not None:
        keylist_file.write_text(new_key_list(exchange or label, key.public).to_json())
        click.echo(f"  key list {keylist_file}   (publish this)")


@keys_group.command("list")
@click.argument("keylist_file", type=FILE)
@pin_option("A key id you trust; the list's chain must contain it.")
def list_cmd(keylist_file: Path, pinned: str | None) -> None:
    """Verify KEYLIST_FILE's rotation chain and print its keys, oldest first."""
    text = keylist_file.read_bytes() if keylist_file.exists() else b""
    key_list = KeyList.from_json(text, pinned_key_id=parse_pin(pinned))
    click.echo(f"key list of {key_list.exchange}: {len(key_list.entries)} key(s), chain verified")
    for entry in key_list.entries:
        start = entry.valid_from.isoformat() if entry.valid_from else "the start"
        end = entry.valid_until.isoformat() if entry.valid_until else "now (current)"
        click.echo(f"  {entry.key.key_id}  {entry.key.label}  valid from {start} to {end}")


@keys_group.command("rotate")
@click.argument("keylist_file", type=FILE)
@click.option("--old", "old_file", required=True, type=FILE)
@click.option("--new", "new_file", required=True, type=FILE)
def rotate_cmd(keylist_file: Path, old_file: Path, new_file: Path) -> None:
    """Admit the key in NEW into KEYLIST_FILE with a statement signed by OLD and NEW.

    Passphrases: $POR_KEY_PASSPHRASE (old key), $POR_NEW_KEY_PASSPHRASE (new key), else
    prompts.
    """
    key_list = _read_key_list(keylist_file)
    old = SigningKey.load(old_file, passphrase_from(PASSPHRASE_ENV, _interactive(), "the old key"))
    new = SigningKey.load(
        new_file, passphrase_from(NEW_PASSPHRASE_ENV, _interactive(), "the new key")
    )
    rotated = rotate(key_list, old, new, datetime.now(UTC).replace(microsecond=0))
    keylist_file.write_text(rotated.to_json())
    click.echo(f"rotated {old.public.key_id} -> {new.public.key_id}; publish {keylist_file}")
