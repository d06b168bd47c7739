"""``por reserves``: the operator's reserves commands (spec §11.5).

init (wallet list -> snapshot -> challenge messages), import-signatures, read-balances,
write. Errors become messages and exit codes in ``por.cli``'s catch point.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from por.errors import FormatError, InputError, VerificationError
from por.reserves.round import (
    DEFAULT_MAX_BLOCKS,
    SignatureCheck,
    check_signatures,
    import_signatures,
    load_draft,
    load_reported,
    load_wallet_list,
    new_draft,
    read_balances,
    save_draft,
    snapshot_chain,
    write_challenges,
)
from verifier.attestation.model import parse_any_summary
from verifier.cli.options import DIRECTORY, EXISTING_DIRECTORY, EXISTING_FILE, FILE
from verifier.files import write_atomic
from verifier.reserves.endpoints import environment, parse_endpoints
from verifier.reserves.model import Chain
from verifier.reserves.readers import reader_for
from verifier.reserves.verify import Reader

F = TypeVar("F", bound=Callable[..., Any])


def make_readers(
    chains: Sequence[Chain], rpc: tuple[str, ...], timeout: float,
    cookies: tuple[str, ...] = (),
) -> dict[str, Reader]:
    """Readers for the chains named in ``--rpc NAME=URL`` options.

    Credentials come from ``$POR_RPC_<NAME>_AUTH`` or ``--rpc-cookie NAME=PATH``, never
    from the URL (spec §11.4).

    Raises:
        InputError: a name that is not a chain of the round, a URL with credentials, or an
            unusable credentials file.
    """
    readers: dict[str, Reader] = {}
    by_name = {c.name: c for c in chains}
    try:
        endpoints = parse_endpoints(rpc, cookies, environment())
    except FormatError as e:
        raise InputError(str(e)) from e
    for name, endpoint in endpoints.items():
        chain = by_name.get(name)
        if chain is None:
            raise InputError(f"--rpc {name}=...: not a chain of the round ({list(by_name)})")
        readers[name] = reader_for(chain, endpoint, timeout)
    return readers


RPC_HELP = ("A node per chain, NAME=URL, no password in the URL: credentials from "
            "$POR_RPC_<NAME>_AUTH=user:password or --rpc-cookie.")
CONTRACT_RPC_HELP = ("A node for contract wallets' chains: EIP-1271 signatures are judged by "
                     "the contract and are not checked without one. " + RPC_HELP)
COOKIE_HELP = ("NAME=PATH: a file holding user:password (Bitcoin Core's .cookie) for chain "
               "NAME; refused if other users can read it.")
# Seconds per node call, for every command that reads a node.
TIMEOUT_OPTION = click.option("--timeout", default=15.0, show_default=True)


def _node_options(rpc_help: str) -> Callable[[F], F]:
    """The ``--rpc`` (parameter ``rpc``) and ``--rpc-cookie`` (``rpc_cookie``) options, in
    that order, both repeatable; ``rpc_help`` says what the nodes are for."""
    rpc = click.option("--rpc", multiple=True, metavar="NAME=URL", help=rpc_help)
    cookie = click.option("--rpc-cookie", "rpc_cookie", multiple=True, metavar="NAME=PATH",
                          help=COOKIE_HELP)

    def apply(command: F) -> F:
        return rpc(cookie(command))

    return apply


def _heights(values: tuple[str, ...]) -> dict[str, int]:
    out = {}
    for value in values:
        name, _, number = value.partition("=")
        if not number.isdigit():
            raise InputError(f"--height {value!r}: expected NAME=BLOCK_NUMBER")
        out[name] = int(number)
    return out


@click.group("reserves")
def reserves_group() -> None:
    """The reserves side: wallets, signatures over the round, balances at the snapshot."""


@reserves_group.command("init")
@click.argument("wallets", type=EXISTING_FILE)
@click.option("--config", type=EXISTING_FILE,
              help="For a CSV wallet list: JSON with exchange, assets and chains.")
@click.option("--summary", required=True,
              type=EXISTING_FILE,
              help="The round's root.json (round id and liabilities root).")
@_node_options(RPC_HELP)
@click.option("--height", multiple=True, metavar="NAME=N",
              help="Snapshot height of a chain (default: the node's latest block).")
@click.option("--static-message", default=None,
              help="Opt in to a fixed message (reported as proving past control only).")
@TIMEOUT_OPTION
@click.option("--out", required=True, type=DIRECTORY)
def init_cmd(wallets: Path, config: Path | None, summary: Path, rpc: tuple[str, ...],
             rpc_cookie: tuple[str, ...], height: tuple[str, ...],
             static_message: str | None, timeout: float, out: Path) -> None:
    """Import WALLETS (CSV or JSON), fix each chain's snapshot, write challenge messages."""
    wallet_list = load_wallet_list(wallets, config)
    root = parse_any_summary(summary.read_bytes(), str(summary))  # spot, margin or private
    readers = make_readers(wallet_list.chains, rpc, timeout, rpc_cookie)
    heights = _heights(height)
    chains = []
    for chain in wallet_list.chains:
        reader = readers.get(chain.name)
        if reader is None:
            raise InputError(f"chain {chain.name}: give --rpc {chain.name}=URL to fix its "
                             "snapshot block")
        chains.append(snapshot_chain(chain, reader, heights.get(chain.name)))
    draft = new_draft(wallet_list, root, tuple(chains), static_message)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "wallets.json", wallet_list.to_json())
    save_draft(out, draft)
    files = write_challenges(out, draft)
    for chain in draft.chains:
        click.echo(f"{chain.name}: snapshot height {chain.height} block {chain.block_hash}")
    click.echo(f"wrote {len(files)} challenge files to {out / 'challenges'}; sign each, then "
               f"`por reserves import-signatures {out} SIGNATURES.json`")


def _refuse_failed(checks: list[SignatureCheck], allow_failed: bool,
                   kept: str) -> list[SignatureCheck]:
    """Print one line per check; refuse (nothing written) if any failed, unless allowed.

    Returns:
        The checks that failed (kept, under ``--allow-failed``).

    Raises:
        InputError: a signature is malformed or its scheme not allowed (exit 2).
        VerificationError: a signature does not verify (exit 1).
    """
    for check in checks:
        click.echo(str(check))
    failed = [c for c in checks if c.outcome in ("failed", "malformed")]
    if failed and not allow_failed:
        listing = "\n  ".join(str(c) for c in failed)
        summary = (f"{len(failed)} of {len(checks)} signature(s) did not verify; nothing was "
                   f"written (--allow-failed {kept} them for por-verify to report):\n  "
                   f"{listing}")
        if any(c.outcome == "malformed" for c in failed):
            raise InputError(summary)
        raise VerificationError(summary)
    return failed


ALLOW_FAILED_HELP = ("Keep signatures that fail to verify (por-verify will report them); by "
                     "default nothing is written if any fails.")


@reserves_group.command("import-signatures")
@click.argument("directory", type=EXISTING_DIRECTORY)
@click.argument("signatures", type=EXISTING_FILE)
@_node_options(CONTRACT_RPC_HELP)
@TIMEOUT_OPTION
@click.option("--allow-failed", "allow_failed", is_flag=True, help=ALLOW_FAILED_HELP)
def import_cmd(directory: Path, signatures: Path, rpc: tuple[str, ...],
               rpc_cookie: tuple[str, ...], timeout: float, allow_failed: bool) -> None:
    """Verify SIGNATURES (JSON list of {chain, address, scheme, value}), attach to the draft.

    Each signature is verified against its wallet's challenge by the rules por-verify
    applies (spec §11.1, §11.6) before anything is written; failures are listed by wallet.
    """
    draft = load_draft(directory)
    imported: list[int] = []
    draft = import_signatures(draft, signatures.read_bytes(), str(signatures), imported)
    readers = make_readers(draft.chains, rpc, timeout, rpc_cookie) if rpc else {}
    checks = check_signatures(draft, imported, readers)
    failed = _refuse_failed(checks, allow_failed, "keeps")
    save_draft(directory, draft)
    missing = sum(1 for w in draft.wallets if w.signature is None)
    unchecked = sum(1 for c in checks if c.outcome == "not-checked")
    kept = f", {len(failed)} failed but kept (--allow-failed)" if failed else ""
    click.echo(f"signatures imported: {len(checks) - len(failed) - unchecked} verified"
               f"{kept}, {unchecked} not checked; {missing} wallet(s) still unsigned")


@reserves_group.command("read-balances")
@click.argument("directory", type=EXISTING_DIRECTORY)
@_node_options(RPC_HELP)
@click.option("--reported", type=EXISTING_FILE,
              help="CSV chain,address,asset,amount: balances NOT read from a node.")
@TIMEOUT_OPTION
@click.option("--max-blocks", default=DEFAULT_MAX_BLOCKS, show_default=True,
              type=click.IntRange(min=0),
              help="Bitcoin family: at most this many blocks after the snapshot are walked to "
                   "turn the current UTXO set into the one at the snapshot.")
def balances_cmd(directory: Path, rpc: tuple[str, ...], rpc_cookie: tuple[str, ...],
                 reported: Path | None, timeout: float, max_blocks: int) -> None:
    """Read every wallet's balances at its chain's snapshot block.

    Bitcoin family: the node's UTXO set is corrected back to the snapshot height (outputs
    spent since are added back, outputs mined since left out); past the snapshot this needs
    the node's transaction index (-txindex=1).
    """
    draft = load_draft(directory)
    readers = make_readers(draft.chains, rpc, timeout, rpc_cookie)
    log: list[str] = []
    draft = read_balances(draft, readers, load_reported(reported) if reported else None,
                          max_blocks, log)
    save_draft(directory, draft)
    for line in log:
        click.echo(line)
    for asset, total in zip(draft.assets, draft.totals, strict=True):
        click.echo(f"{asset.symbol}: {total} base units")


@reserves_group.command("write")
@click.argument("directory", type=EXISTING_DIRECTORY)
@click.option("--out", required=True, type=FILE)
@_node_options(CONTRACT_RPC_HELP)
@TIMEOUT_OPTION
@click.option("--allow-failed", "allow_failed", is_flag=True, help=ALLOW_FAILED_HELP)
def write_cmd(directory: Path, out: Path, rpc: tuple[str, ...], rpc_cookie: tuple[str, ...],
              timeout: float, allow_failed: bool) -> None:
    """Write the round's reserves file (every wallet signed, every balance read).

    Every signature is verified against its wallet's challenge first, as
    ``import-signatures`` does (the draft may have been edited, or imported with
    --allow-failed): if any fails, nothing is written (exit 1; 2 if malformed).
    """
    from por.reserves.round import finish

    draft = load_draft(directory)
    text = finish(draft)
    readers = make_readers(draft.chains, rpc, timeout, rpc_cookie) if rpc else {}
    checks = check_signatures(draft, list(range(len(draft.wallets))), readers)
    failed = _refuse_failed(checks, allow_failed, "writes")
    write_atomic(out, text)
    kept = f" ({len(failed)} signature(s) that failed, kept by --allow-failed)" if failed else ""
    click.echo(f"wrote {out}{kept}; check it with `por-verify reserves {out} --rpc NAME=URL ...`")
