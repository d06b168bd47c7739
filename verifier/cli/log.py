"""``por-verify log``: check that a log's new signed tree head extends the history seen.

The verifier remembers, per exchange identity (the first key of its key list, or the
``--key`` given), its log and the last tree head it accepted (``--state``, default in the
user's configuration directory), and refuses a head that does not extend it, a key list
that does not continue the chain remembered, and another log of a known exchange unless
``--accept-new-log`` (docs/spec.md §12.2).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click

from verifier.cli.options import FILE, json_option, read_input, state_option
from verifier.encoding.strictjson import loads
from verifier.errors import FormatError, VerificationError
from verifier.log.state import ANCHOR_FIRST_USE, STATE_FILE_NAME, ExchangeMemory, StateFile
from verifier.log.sth import ConsistencyProof, SignedTreeHead, check_extends
from verifier.log.trust import anchor_key_list, check_log_name
from verifier.signed.keylist import KeyList, keylist_sha256
from verifier.signed.keys import PublicKey


def default_state_path() -> Path:
    """``<user config dir>/por-verify/log-state.json`` (XDG on Linux, ~/Library on macOS)."""
    return Path(click.get_app_dir("por-verify")) / STATE_FILE_NAME


def _keys(key_file: Path | None, keylist_file: Path | None) -> KeyList | PublicKey:
    if keylist_file is not None:
        return KeyList.from_json(read_input(keylist_file, "key list"))  # chain checked here
    if key_file is not None:
        return PublicKey.from_dict(
            loads(read_input(key_file, "public key"), str(key_file)), str(key_file)
        )
    raise FormatError(
        "give the log's key list (--keylist) or public key (--key): an unsigned"
        " tree head proves nothing"
    )


@dataclass(frozen=True)
class LogVerdict:
    """What ``por-verify log`` accepted."""

    log: str
    old_size: int
    new_size: int
    new_root: str
    remembered_size: int | None


def check_log(
    old_file: Path | None,
    new_file: Path,
    proof_file: Path | None,
    key_file: Path | None,
    keylist_file: Path | None,
    memory: StateFile,
    accept_new_log: bool = False,
) -> LogVerdict:
    """Verify the new head's signature (and, for a version 2 head and a key list, its
    binding to that list), its consistency with ``--old`` and with the last head remembered
    for the exchange's identity, then remember it.

    Raises:
        FormatError: an unreadable or malformed input.
        VerificationError: a signature fails, the head binds another key list or exchange,
            the key list does not continue the remembered chain, another log of a known
            exchange, or the new head does not extend a head seen.
    """
    keys = _keys(key_file, keylist_file)
    new = SignedTreeHead.from_json(read_input(new_file, "new tree head"), f"{new_file}")
    new.verify_signature(keys, f"{new_file}")
    if isinstance(keys, KeyList) and new.head.keylist_sha256 is not None:
        assert keylist_file is not None
        if new.head.keylist_sha256 != keylist_sha256(read_input(keylist_file, "key list")) or (
                new.head.exchange != keys.exchange):
            raise VerificationError(f"{new_file}: the tree head binds another key list or "
                                    "exchange than the one given")
    proof = (
        ConsistencyProof.from_json(read_input(proof_file, "consistency proof"), f"{proof_file}")
        if proof_file is not None
        else None
    )
    state = memory.read()
    key_ids = keys.key_ids if isinstance(keys, KeyList) else (keys.key_id,)
    if isinstance(keys, KeyList):
        known = anchor_key_list(keys, state, None).memory  # a forked or cut chain fails
    else:
        known = state.exchanges.get(keys.key_id)
    if known is None:
        legacy = state.claim_legacy(new.head.log, key_ids)
        if legacy is not None:
            known = ExchangeMemory(key_ids[0], _name(keys), ANCHOR_FIRST_USE,
                                   datetime.now(UTC).replace(microsecond=0), key_ids,
                                   legacy.head.log, legacy)
    new_log = check_log_name(known, new, accept_new_log)
    remembered = known.head if known is not None and not new_log else None
    if old_file is not None:
        old: SignedTreeHead | None = SignedTreeHead.from_json(
            read_input(old_file, "old tree head"), f"{old_file}"
        )
    else:
        old = remembered
    if old is None:
        raise FormatError(f"no --old tree head given, and none remembered for log {new.head.log!r}")
    old.verify_signature(keys, "old tree head")
    check_extends(old.head, new.head, proof)
    if remembered is not None and remembered.head != old.head:
        # The remembered head must be linked to the new one too: it is the same as --old,
        # or it equals the new head, or it is older than --old... which this proof does not
        # cover, so that case is refused rather than passed unchecked.
        r, n = remembered.head, new.head
        if r.log == n.log and r.tree_size == n.tree_size:
            check_extends(r, n, None)
        else:
            if r.tree_size > n.tree_size:
                check_extends(r, n, None)  # raises: the log shrank
            if r.tree_size == old.head.tree_size:
                check_extends(r, old.head, None)  # raises: two roots at one size
            raise VerificationError(
                f"the last tree head seen for {n.log!r} has size {r.tree_size}; this proof"
                f" starts at size {old.head.tree_size}. Check from the remembered head"
                " (omit --old) so the whole history seen is linked"
            )
    state.exchanges[key_ids[0]] = ExchangeMemory(
        key_ids[0], known.exchange if known else _name(keys),
        known.anchored_by if known else ANCHOR_FIRST_USE,
        known.first_seen if known else datetime.now(UTC).replace(microsecond=0),
        key_ids, new.head.log,
        new if remembered is None or remembered.head.tree_size <= new.head.tree_size
        else remembered)
    memory.write(state)
    return LogVerdict(
        new.head.log,
        old.head.tree_size,
        new.head.tree_size,
        new.head.root_hash.hex(),
        remembered.head.tree_size if remembered else None,
    )


def _name(keys: KeyList | PublicKey) -> str:
    return keys.exchange if isinstance(keys, KeyList) else keys.label


@click.command("log")
@click.option(
    "--old",
    "old_file",
    type=FILE,
    help="An older signed tree head (default: the last one remembered).",
)
@click.option(
    "--new",
    "new_file",
    required=True,
    type=FILE,
    help="The new signed tree head.",
)
@click.option(
    "--proof",
    "proof_file",
    type=FILE,
    help="RFC 9162 consistency proof from the old size to the new one.",
)
@click.option(
    "--key",
    "key_file",
    type=FILE,
    help="The log's public key (por-public-key JSON).",
)
@click.option(
    "--keylist",
    "keylist_file",
    type=FILE,
    help="The exchange's key list (por-keylist JSON).",
)
@state_option("File remembering each exchange (by its first key): its log and last tree head"
              " (default: in your configuration directory; $POR_VERIFY_LOG_STATE).")
@click.option("--accept-new-log", is_flag=True,
              help="Accept that this known exchange now publishes another log.")
@json_option()
def log_cmd(
    old_file: Path | None,
    new_file: Path,
    proof_file: Path | None,
    key_file: Path | None,
    keylist_file: Path | None,
    state_file: Path | None,
    accept_new_log: bool,
    as_json: bool,
) -> None:
    """Check that a signed tree head only extends the log's history (RFC 9162).

    Exit codes: 0 the new head extends every head seen (and is now remembered), 1 it does
    not (rewritten history, smaller size, different root at the same size, bad signature),
    2 unusable input.
    """
    memory = StateFile(state_file or default_state_path())
    verdict = check_log(old_file, new_file, proof_file, key_file, keylist_file, memory,
                        accept_new_log)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "verdict": "VERIFIED",
                    "ok": True,
                    "log": verdict.log,
                    "old_size": verdict.old_size,
                    "new_size": verdict.new_size,
                    "new_root": verdict.new_root,
                    "remembered_size": verdict.remembered_size,
                    "state_file": str(memory.path),
                },
                indent=2,
            )
        )
    else:
        click.echo(
            f"VERIFIED: log {verdict.log!r} at size {verdict.new_size} (root {verdict.new_root})"
            f" extends size {verdict.old_size}; remembered in {memory.path}"
        )


@click.command("witness")
@click.argument("head_file", type=FILE)
@click.option("--key", "witness_key_file", required=True,
              type=FILE,
              help="The witness's private key (encrypted PEM from `por keys new`);"
              " passphrase from $POR_KEY_PASSPHRASE or a prompt.")
@click.option("--state", "witness_state_file", required=True,
              type=FILE,
              help="The witness's own memory: the last head it co-signed per exchange.")
@click.option("--keylist", "keylist_file", required=True,
              type=FILE,
              help="The exchange's key list: its first key is the log's identity.")
@click.option("--proof", "proof_file", type=FILE,
              help="Consistency proof from the last co-signed size to this head's size.")
@click.option("--out", "out_file", type=FILE,
              help="Write the co-signature here (default: standard output).")
@click.option("--now", "now_text", help="The witness's time, RFC 3339 UTC (default: now).")
@click.option("--new-identity", is_flag=True,
              help="Accept a key list whose first key differs from the one already witnessed"
              " under the same exchange name (a restarted log; say so publicly).")
@json_option()
def witness_cmd(head_file: Path, witness_key_file: Path, witness_state_file: Path,
                keylist_file: Path, proof_file: Path | None, out_file: Path | None,
                now_text: str | None, new_identity: bool, as_json: bool) -> None:
    """Co-sign the signed tree head HEAD_FILE as a witness (docs/spec.md §14).

    Co-signs only when the head is signed by the exchange's key list and extends the last
    head this witness co-signed for the same exchange (its first key id), through --proof.

    Exit codes: 0 co-signed, 1 refused (bad signature, does not extend, another history),
    2 unusable input.
    """
    import os
    from datetime import UTC, datetime

    from verifier.encoding.canonical import parse_time
    from verifier.log.witness import WitnessResult, WitnessState, load_witness_key, witness_head

    def check() -> WitnessResult:
        now = (parse_time(now_text, "--now") if now_text
               else datetime.now(UTC).replace(microsecond=0))
        passphrase = os.environ.get("POR_KEY_PASSPHRASE") or click.prompt(
            "Passphrase for the witness key", hide_input=True, err=True)
        private = load_witness_key(witness_key_file, passphrase)
        keys = KeyList.from_json(read_input(keylist_file, "key list"))
        head = SignedTreeHead.from_json(read_input(head_file, "tree head"), str(head_file))
        proof = (ConsistencyProof.from_json(read_input(proof_file, "consistency proof"),
                                            str(proof_file)) if proof_file else None)
        result = witness_head(private, WitnessState(witness_state_file), keys, head, proof,
                              now, new_identity=new_identity)
        if out_file is not None:
            try:
                out_file.write_text(result.cosignature.to_json())
            except OSError as e:
                raise FormatError(f"{out_file}: cannot write: {e.strerror}") from e
        return result

    result: WitnessResult = check()
    if as_json:
        click.echo(json.dumps({
            "verdict": "COSIGNED", "ok": True, "exchange": result.exchange,
            "identity": result.identity, "log": result.log, "tree_size": result.tree_size,
            "previous_size": result.previous_size,
            "cosignature": json.loads(result.cosignature.to_json()),
        }, indent=2))
        return
    if out_file is None:
        click.echo(result.cosignature.to_json(), nl=False)
    since = ("first head witnessed for this exchange" if result.previous_size is None
             else f"extends size {result.previous_size}")
    click.echo(f"COSIGNED: {result.exchange} log {result.log!r} at size {result.tree_size}"
               f" ({since}); identity {result.identity[:16]}..", err=True)


class _LogGroup(click.Group):
    """``por-verify log``: the log check itself, unless the first word names a subcommand
    (``por-verify log witness ...``, spec §14.2)."""

    def __init__(self, default: click.Command, *subcommands: click.Command) -> None:
        super().__init__(name=default.name, help=default.help,
                         context_settings={"help_option_names": ["-h", "--help"]})
        self.add_command(default, name="check")
        for command in subcommands:
            self.add_command(command)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or args[0] not in self.commands:
            args = ["check", *args]
        return super().parse_args(ctx, args)


def log_group() -> click.Command:
    """``por-verify log``, with ``log witness`` beside the default check."""
    return _LogGroup(log_cmd, witness_cmd)
