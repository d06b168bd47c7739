"""``por-verify bundle``: the one command that checks everything a published round claims."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import click

from verifier.attestation.bundle import BundleOptions, BundleReport, read_bundle, verify_bundle
from verifier.cli.log import default_state_path
from verifier.cli.options import (
    DIRECTORY,
    FILE,
    json_option,
    parse_pin,
    pin_option,
    read_input,
    read_witness_keys,
    report_shown,
    state_option,
    witness_options,
)
from verifier.encoding.canonical import parse_time
from verifier.encoding.strictjson import loads
from verifier.errors import StaleError, UnanchoredError, UsageError, VerificationError
from verifier.liabilities.mst import MARGIN_SCHEME
from verifier.liabilities.proof import InclusionProof, MarginInclusionProof
from verifier.log.state import StateFile
from verifier.log.sth import ConsistencyProof
from verifier.log.trust import DEFAULT_MAX_AGE
from verifier.private.proof import PrivateProof
from verifier.private.scheme import SCHEME as PRIVATE_SCHEME
from verifier.reserves.endpoints import environment, parse_endpoints
from verifier.reserves.model import ReservesFile
from verifier.reserves.readers import build_readers
from verifier.reserves.verify import Reader
from verifier.signed.keys import PublicKey


def _user_proof(path: Path) -> InclusionProof | MarginInclusionProof | PrivateProof:
    """The user's proof, spot, margin or private (told apart by its ``scheme``, spec §15.1,
    §16.1).

    Raises:
        FormatError: unreadable or malformed.
    """
    raw = read_input(path, "proof")
    data = loads(raw, str(path))
    if isinstance(data, dict) and data.get("scheme") == MARGIN_SCHEME:
        return MarginInclusionProof.from_json(raw, str(path))
    if isinstance(data, dict) and data.get("scheme") == PRIVATE_SCHEME:
        return PrivateProof.from_json(raw, str(path))
    return InclusionProof.from_json(raw, str(path))


@click.command("bundle")
@click.argument("bundle_dir", type=DIRECTORY)
@click.option("--rpc", multiple=True, metavar="NAME=URL",
              help="A node of chain NAME (as named in the reserves file); repeat per chain. "
              "No password in the URL: use $POR_RPC_<NAME>_AUTH=user:password or --rpc-cookie.")
@click.option("--rpc-cookie", "rpc_cookie", multiple=True, metavar="NAME=PATH",
              help="A file holding user:password for chain NAME's node; refused if others "
              "can read it.")
@click.option("--skip-chain", is_flag=True,
              help="Accept that reserves are not re-read from nodes (the report says so).")
@click.option("--proof", "proof_file", type=FILE,
              help="Your own inclusion proof (spot, margin or private): it must lead to this "
              "round's root; a margin proof's own rule is checked at the round's prices.")
@click.option("--auditor-key", "auditor_files", multiple=True,
              type=FILE,
              help="An auditor's public key (por-public-key JSON) that must have co-signed.")
@pin_option("A key id of the exchange you obtained out of band. Without it, the key list "
            "must chain to the one remembered for the exchange (trust on first use); with "
            "neither, the verdict is UNANCHORED (exit 1).")
@click.option("--round", "expected_round", help="The round you mean to check.")
@state_option("File remembering each exchange (by its first key): its key chain, log and last "
              "tree head (default: in your configuration directory; $POR_VERIFY_LOG_STATE).")
@click.option("--now", "now_text", metavar="TIME",
              help="The time to check at, e.g. 2026-11-25T12:00:00Z (default: the clock): "
              "for auditors and tests.")
@click.option("--max-age", "max_age_days", type=click.IntRange(min=0),
              default=DEFAULT_MAX_AGE.days, show_default=True,
              help="Days the tree head may be older than now.")
@click.option("--accept-new-log", is_flag=True,
              help="Accept that this known exchange now publishes another log (its history "
              "so far is then no longer linked).")
@click.option("--accept-new-identity", is_flag=True,
              help="Accept a key list that does not chain to the one remembered under this "
              "exchange's name.")
@click.option("--consistency", "consistency_file",
              type=FILE,
              help="For a bundle older than the last tree head seen: the consistency proof "
              "from the bundle's tree size to the remembered one.")
@click.option("--require-full-reserves", is_flag=True,
              help="Fail when any asset is under-reserved (even if truthfully stated).")
@witness_options(
    key_help="A witness's public key you trust (repeat); spec §14.3.",
    quorum_help="Valid known-witness co-signatures required (default: every --witness-key).")
@click.option("--accept-past-control", is_flag=True,
              help="As por-verify reserves: balances of wallets that signed a static message "
                   "(control at some past time only) are accepted; the report says so.")
@click.option("--accept-noncanonical-token", "accept_noncanonical", multiple=True,
              metavar="SYMBOL@NETWORK",
              help="As por-verify reserves: accept an asset whose contract (mint) is not the "
                   "token registry's for that symbol on that network; the report says so.")
@click.option("--timeout", default=15.0, show_default=True, help="Seconds per node call.")
@json_option()
def bundle_cmd(
    bundle_dir: Path, rpc: tuple[str, ...], rpc_cookie: tuple[str, ...], skip_chain: bool,
    proof_file: Path | None,
    auditor_files: tuple[Path, ...], pinned: str | None, expected_round: str | None,
    state_file: Path | None, now_text: str | None, max_age_days: int, accept_new_log: bool,
    accept_new_identity: bool, consistency_file: Path | None, require_full_reserves: bool,
    witness_files: tuple[Path, ...], witness_quorum: int | None, accept_past_control: bool,
    accept_noncanonical: tuple[str, ...], timeout: float, as_json: bool,
) -> None:
    """Check a published round's bundle BUNDLE_DIR: signatures and key ids, every solvency
    figure, the liabilities root, the reserves (re-read with --rpc), the log inclusion and
    consistency with the last tree head seen, and your own proof (--proof).

    Exit codes: 0 everything verified, 1 a check failed (every finding is listed; an
    UNANCHORED key list is one), 2 unusable input or node.
    """
    memory = StateFile(state_file or default_state_path())

    def check() -> BundleReport:
        if rpc and skip_chain:
            raise UsageError("--rpc and --skip-chain contradict each other; give one")
        endpoints = parse_endpoints(rpc, rpc_cookie, environment())

        def readers(reserves: ReservesFile) -> Mapping[str, Reader]:
            return build_readers(reserves, endpoints, timeout)

        files = read_bundle(bundle_dir)
        state = memory.read()
        options = BundleOptions.choose(
            readers=readers if endpoints else None,
            skip_chain=skip_chain,
            auditors=tuple(
                PublicKey.from_dict(loads(read_input(p, "auditor key"), str(p)), str(p))
                for p in auditor_files),
            pinned_key_id=parse_pin(pinned),
            state=state,
            now=parse_time(now_text, "--now") if now_text else None,
            max_age_days=max_age_days,
            accept_new_log=accept_new_log,
            accept_new_identity=accept_new_identity,
            newer_consistency=ConsistencyProof.from_json(
                read_input(consistency_file, "consistency proof"), str(consistency_file))
            if consistency_file else None,
            user_proof=_user_proof(proof_file) if proof_file else None,
            expected_round=expected_round,
            require_full_reserves=require_full_reserves,
            witness_keys=read_witness_keys(witness_files),
            witness_quorum=witness_quorum,
            accept_past_control=accept_past_control,
            accept_noncanonical=accept_noncanonical,
        )
        report = verify_bundle(files, options)
        if report.memory is not None:
            state.exchanges[report.memory.identity] = report.memory
            memory.write(state)
            first = report.verdict == "UNANCHORED"
            size = report.memory.head.head.tree_size if report.memory.head else 0
            report.notes.append(
                (f"first use RECORDED (trust on first use): this exchange's first key "
                 f"{report.memory.identity[:16]}.. and " if first else "remembered: ")
                + f"log {report.memory.log!r} at size {size}, in {memory.path}")
        return report

    report = check()
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        for line in report.lines():
            click.echo(line)
    report_shown()
    try:
        report.raise_for_failures()
    except VerificationError as err:
        if report.verdict == "UNANCHORED":
            raise UnanchoredError(str(err)) from err
        if all(f.code == "stale" for f in report.findings):
            raise StaleError(str(err)) from err
        raise
    if not as_json:
        click.echo("VERIFIED: every claim of the bundle checked" +
                   ("" if report.all_covered else "; the exchange states a SHORTFALL above"))

