"""``por round``, ``por attest`` and ``por publish``: the operator's round after the
liabilities and reserves are built (docs/spec.md §13).

The store is ``--db`` / ``$POR_DATABASE_URL`` (default ``sqlite:///por.db``, a file in the
working directory). Key passphrases come from ``$POR_KEY_PASSPHRASE`` or a hidden prompt,
never from an option.
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import click

from por.attest.publish import publish_round
from por.attest.rounds import cosign_round, new_round, sign_round
from por.cli.keys import _interactive
from por.errors import InputError, UsageError
from por.keys import PASSPHRASE_ENV, SigningKey, passphrase_from
from por.store.db import DEFAULT_URL, open_store
from verifier.attestation.model import Attestation
from verifier.cli.options import DIRECTORY, FILE
from verifier.encoding.canonical import parse_time
from verifier.files import mapped_read_only
from verifier.liabilities.summary import format_units
from verifier.reserves.endpoints import environment, parse_endpoints
from verifier.reserves.model import ReservesFile
from verifier.reserves.readers import build_readers
from verifier.reserves.verify import parse_accepted_tokens
from verifier.signed.keylist import KeyList

_db = click.option("--db", "db_url", envvar="POR_DATABASE_URL", default=DEFAULT_URL,
                   show_default=True, help="The store's database URL ($POR_DATABASE_URL).")


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read the {what}: {e.strerror}") from e


def _key(path: Path, what: str) -> SigningKey:
    return SigningKey.load(path, passphrase_from(PASSPHRASE_ENV, _interactive(), what))


def _print_attestation(att: Attestation) -> None:
    click.echo(f"round {att.round_id} of {att.exchange}, snapshot "
               f"{att.snapshot_time:%Y-%m-%dT%H:%M:%SZ}, signed by {att.key_id[:16]}..")
    read = {True: "yes", False: "NO (--skip-chain)", None: "not recorded (version 1)"}
    click.echo(f"  reserves re-read from the signer's nodes before signing: "
               f"{read[att.signer_read_reserves]}")
    if att.liabilities.margin:
        click.echo("  margin round: reserves against net liabilities (total equity - total "
                   "debt)")
    private = att.liabilities.private
    if private is not None:
        click.echo(f"  private round (version {private.version}): liabilities = committed "
                   "total x 10^e base units per asset, never below the exact ones; a proof "
                   f"reveals: {private.reveals()}")
    for s in att.solvency:
        gap = (f"surplus {format_units(s.surplus, s.decimals)}" if s.status == "covered"
               else f"SHORTFALL {format_units(s.shortfall, s.decimals)}")
        label = "net liabilities" if s.margin is not None else "liabilities"
        extra = (f"  (equity {format_units(s.margin.equity, s.decimals)}, debt "
                 f"{format_units(s.margin.debt, s.decimals)}, collateral "
                 f"{format_units(s.margin.collateral, s.decimals)})" if s.margin else "")
        click.echo(f"  {s.symbol:<8} reserves {format_units(s.reserves, s.decimals)}  "
                   f"{label} {format_units(s.liabilities, s.decimals)}  ratio "
                   f"{s.ratio or 'n/a'}  {s.status}, {gap}{extra}")


@click.group("round")
def round_group() -> None:
    """Rounds in the store."""


@round_group.command("new")
@click.argument("round_id")
@click.option("--exchange", required=True, help="The exchange's name, as in its key list.")
@click.option("--snapshot-time", help="UTC time of the balance snapshot, e.g. "
              "2026-11-25T00:00:00Z (default: now).")
@_db
def round_new_cmd(round_id: str, exchange: str, snapshot_time: str | None, db_url: str) -> None:
    """Record round ROUND_ID (then build its liabilities and reserves as usual)."""
    moment = (parse_time(snapshot_time, "--snapshot-time") if snapshot_time
              else datetime.now(UTC).replace(microsecond=0))
    record = new_round(open_store(db_url), round_id, exchange, moment)
    click.echo(f"round {record.round_id} of {record.exchange}, "
               f"snapshot {moment:%Y-%m-%dT%H:%M:%SZ}")


@click.group("attest")
def attest_group() -> None:
    """Sign a round's attestation (exchange) and co-sign it (auditors)."""


@attest_group.command("sign")
@click.argument("round_id")
@click.option("--summary", "summary_file", required=True,
              type=FILE, help="The round's root.json.")
@click.option("--reserves", "reserves_file", required=True,
              type=FILE, help="The reserves file.")
@click.option("--risk", "risk_file", type=FILE,
              help="A margin round's risk.json (the file its root binds); published with "
              "the round.")
@click.option("--tree", "tree_file", type=FILE,
              help="A private round's tree.bin: the attestation carries its top node's hash, "
              "so anyone recomputes the root from public data.")
@click.option("--key", "key_file", required=True, type=FILE,
              help="The exchange's signing key (encrypted PEM).")
@click.option("--rpc", multiple=True, metavar="NAME=URL",
              help="Your node of chain NAME: the reserves are verified before signing.")
@click.option("--rpc-cookie", multiple=True, metavar="NAME=PATH",
              help="A file holding user:password for chain NAME's node.")
@click.option("--skip-chain", is_flag=True, help="Sign without re-reading the reserves.")
@click.option("--replace", is_flag=True, help="Replace this round's unpublished attestation.")
@click.option("--accept-past-control", is_flag=True,
              help="As por-verify reserves, for the check with --rpc (stated in the output; "
                   "the attestation has no field for it).")
@click.option("--accept-noncanonical-token", "accept_noncanonical", multiple=True,
              metavar="SYMBOL@NETWORK",
              help="As por-verify reserves, for the check with --rpc (stated in the output; "
                   "the attestation has no field for it).")
@_db
def sign_cmd(round_id: str, summary_file: Path, reserves_file: Path, risk_file: Path | None,
             tree_file: Path | None, key_file: Path,
             rpc: tuple[str, ...], rpc_cookie: tuple[str, ...], skip_chain: bool,
             replace: bool, accept_past_control: bool, accept_noncanonical: tuple[str, ...],
             db_url: str) -> None:
    """Compute ROUND_ID's solvency figures, sign the attestation, keep it in the store.

    Reserves count only where a verifier can confirm them (spec §13.3); an under-reserved
    asset is attested with its shortfall.
    """
    if bool(rpc) == skip_chain:
        raise UsageError("give --rpc NAME=URL for every chain of the reserves file (checked "
                         "before signing), or --skip-chain to sign without that check")
    if skip_chain and (accept_past_control or accept_noncanonical):
        raise UsageError("--accept-* choose what the check with --rpc accepts; with "
                         "--skip-chain there is no check")
    reserves_bytes = _read(reserves_file, "reserves file")
    readers = None
    accepted: frozenset[str] = frozenset()
    if rpc:
        reserves = ReservesFile.from_json(reserves_bytes, str(reserves_file))
        accepted = parse_accepted_tokens(accept_noncanonical, reserves)
        readers = build_readers(reserves, parse_endpoints(rpc, rpc_cookie, environment()),
                                15.0)
    engine = open_store(db_url)
    key = _key(key_file, "the exchange's key")
    summary_bytes = _read(summary_file, "root summary")
    risk_bytes = _read(risk_file, "risk file") if risk_file else None
    # A private tree file is mapped, never read whole (about 780 MB at 2^20 x 4): only its
    # top node is read (spec §13.7).
    with ExitStack() as stack:
        tree = (stack.enter_context(mapped_read_only(tree_file, "tree file", InputError))
                if tree_file else None)
        signed = sign_round(engine, round_id, summary_bytes, reserves_bytes, key,
                            readers=readers, replace=replace,
                            accept_past_control=accept_past_control,
                            accept_noncanonical=accepted, risk_bytes=risk_bytes,
                            tree_bytes=tree)
    _print_attestation(Attestation.from_dict(signed.document))
    # The attestation format has no field for these choices: they are stated here only.
    for token in sorted(accepted):
        click.echo(f"ACCEPTED in the reserves check: non-canonical token {token} "
                   "(--accept-noncanonical-token; not recorded in the attestation)")
    if accept_past_control:
        click.echo("ACCEPTED in the reserves check: past-control-only balances "
                   "(--accept-past-control; not recorded in the attestation, which counts "
                   "them apart)")
    click.echo("signed; auditors co-sign with `por attest cosign`, then `por publish`")


@attest_group.command("cosign")
@click.argument("round_id")
@click.option("--key", "key_file", required=True, type=FILE,
              help="The auditor's signing key (encrypted PEM).")
@click.option("--keylist", "keylist_file", required=True,
              type=FILE,
              help="The exchange's published key list (to check its signature first).")
@click.option("--round-dir", "round_dir", type=DIRECTORY,
              help="A private round's directory (root.json, tree.bin): its whole tree is "
              "recomputed before co-signing. Private rounds only.")
@_db
def cosign_cmd(round_id: str, key_file: Path, keylist_file: Path, round_dir: Path | None,
               db_url: str) -> None:
    """Co-sign ROUND_ID's attestation: the same payload bytes, after checking the exchange's
    signature and recomputing every figure from the attested files. A private round
    (spec §13.7) is co-signed only once its tree file (--round-dir) recomputes with no
    finding and its root.json is byte for byte the attested one; nothing is written
    otherwise (exit 1)."""
    keys = KeyList.from_json(_read(keylist_file, "key list"))
    engine = open_store(db_url)
    key = _key(key_file, "the auditor's key")
    stored = cosign_round(engine, round_id, key, keys, round_dir)
    _print_attestation(stored.attestation)
    click.echo(f"co-signed by {key.public.label} ({key.public.key_id[:16]}..); "
               f"{len(stored.signed.signatures)} signature(s)")


@click.command("publish")
@click.argument("round_id")
@click.option("--key", "key_file", required=True, type=FILE,
              help="The exchange's current key: it signs the log's tree head.")
@click.option("--keylist", "keylist_file", required=True,
              type=FILE, help="The key list to publish.")
@click.option("--out", "out_dir", required=True, type=DIRECTORY,
              help="The bundle directory to write (replaced as a whole).")
@click.option("--log", "log_name", help="The log's name (default: the exchange's name).")
@_db
def publish_cmd(round_id: str, key_file: Path, keylist_file: Path, out_dir: Path,
                log_name: str | None, db_url: str) -> None:
    """Append ROUND_ID's attestation to the transparency log, sign the tree head and write
    the public bundle. Safe to re-run: the log gets the round once."""
    keylist = _read(keylist_file, "key list")
    engine = open_store(db_url)
    key = _key(key_file, "the exchange's key")
    done = publish_round(engine, round_id, key, keylist, out_dir, log_name=log_name)
    state = "appended as" if done.appended else "already in the log as"
    click.echo(f"round {round_id} {state} entry {done.leaf_index}; tree size {done.tree_size}")
    click.echo(f"bundle {done.bundle} ({'written' if done.bundle_changed else 'unchanged'}); "
               f"check it with `por-verify bundle {done.bundle} --rpc NAME=URL`")
