"""``por-verify reserves``: check a reserves file against nodes the auditor chooses."""

from __future__ import annotations

import json
from pathlib import Path

import click

from verifier.cli.options import json_option, report_shown
from verifier.errors import VerificationError
from verifier.liabilities.summary import RootSummary, format_units
from verifier.reserves.endpoints import environment, parse_endpoints
from verifier.reserves.model import ReservesFile
from verifier.reserves.readers import build_readers
from verifier.reserves.verify import (
    DEFAULT_MAX_SCAN_BLOCKS,
    ReservesReport,
    parse_accepted_tokens,
    verify_reserves,
)


def _print_report(report: ReservesReport) -> None:
    click.echo(f"reserves of {report.exchange}, round {report.round_id}, liabilities root "
               f"{report.liabilities_root[:16]}..., {report.wallets_checked} wallets")
    for c in report.chains:
        click.echo(f"  chain {c.name}: {c.kind} network {c.network}, block {c.height} "
                   f"{c.block_hash}")
        for t in c.assets:
            decimals = "" if t.decimals_read is None else f", decimals() = {t.decimals_read}"
            accepted = " (ACCEPTED by --accept-noncanonical-token)" if t.accepted else ""
            click.echo(f"    {t.symbol:<8} {t.token or 'native coin'}{decimals}: "
                       f"{t.registry}{accepted} ({t.registry_detail})")
    for a in report.assets:
        click.echo(f"  {a.symbol:<8} claimed {format_units(a.claimed, a.decimals):>28}  "
                   f"confirmed {format_units(a.confirmed, a.decimals):>28}")
        if a.reported:
            click.echo(f"           {format_units(a.reported, a.decimals)} reported by the "
                       "exchange, not read from a node")
        if a.past_control_only:
            verdict = ("ACCEPTED by --accept-past-control" if report.accept_past_control
                       else "NOT confirmed")
            click.echo(f"           {format_units(a.past_control_only, a.decimals)} in wallets "
                       "whose static signature proves control at some past time only: "
                       f"{verdict}")
    for signature in report.signatures:
        click.echo(f"  signature: {signature}")
    for scan in report.scans:
        click.echo(f"  blocks: {scan}")
    for caveat in report.caveats:
        click.echo(f"  note: {caveat}")
    for finding in report.findings:
        click.echo(f"  FAILED {finding}")


@click.command("reserves")
@click.argument("reserves_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rpc", "rpc", multiple=True, metavar="NAME=URL",
              help="A node of chain NAME (as named in the file); repeat per chain. No "
                   "password in the URL: use $POR_RPC_<NAME>_AUTH=user:password or "
                   "--rpc-cookie.")
@click.option("--rpc-cookie", "rpc_cookie", multiple=True, metavar="NAME=PATH",
              help="A file holding user:password for chain NAME's node (Bitcoin Core's "
                   ".cookie); refused if other users can read it.")
@click.option("--summary", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The round's published root.json: round and root hash must match.")
@click.option("--timeout", default=15.0, show_default=True, help="Seconds per node call.")
@click.option("--max-scan-blocks", default=DEFAULT_MAX_SCAN_BLOCKS, show_default=True,
              type=click.IntRange(min=0),
              help="At most this many Bitcoin-family blocks after a snapshot are read to see "
                   "when a recorded output spent since was spent.")
@click.option("--accept-past-control", is_flag=True,
              help="Let balances of wallets that signed a static message (control at some "
                   "past time only) stand behind the claim; they are still counted apart, "
                   "never as confirmed.")
@click.option("--accept-noncanonical-token", "accept_noncanonical", multiple=True,
              metavar="SYMBOL@NETWORK",
              help="Accept an asset whose contract (mint) is not the token registry's for "
                   "that symbol on that network (e.g. USDT@1); the report says so.")
@json_option()
def reserves_cmd(
    reserves_file: Path, rpc: tuple[str, ...], rpc_cookie: tuple[str, ...],
    summary: Path | None, timeout: float, max_scan_blocks: int, accept_past_control: bool,
    accept_noncanonical: tuple[str, ...], as_json: bool,
) -> None:
    """Check every signature and re-read every balance of RESERVES_FILE at its snapshot.

    Exit 0 when every wallet verified and every claimed amount was confirmed by a node;
    1 with every finding listed otherwise; 2 when the file or a node is unusable. A node
    URL with a path or query (an API key) goes in $POR_RPC_<NAME>_URL, with --rpc NAME.
    """
    def check() -> ReservesReport:
        reserves = ReservesFile.from_json(reserves_file.read_bytes(), str(reserves_file))
        if summary is not None:
            root = RootSummary.from_json(summary.read_bytes(), str(summary))
            if (root.round_id, root.root_hash) != (reserves.round_id, reserves.liabilities_root):
                raise VerificationError(
                    f"{reserves_file} is for round {reserves.round_id} root "
                    f"{reserves.liabilities_root.hex()}, but {summary} is round "
                    f"{root.round_id} root {root.root_hash.hex()}")
        accepted = parse_accepted_tokens(accept_noncanonical, reserves)
        endpoints = parse_endpoints(rpc, rpc_cookie, environment())
        readers = build_readers(reserves, endpoints, timeout)
        return verify_reserves(reserves, readers, max_scan_blocks,
                               accept_past_control=accept_past_control,
                               accept_noncanonical=accepted)

    report = check()
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        _print_report(report)
    report_shown()
    report.raise_for_failures()
    if not as_json:
        click.echo("VERIFIED: every signature checked and every balance confirmed by a node")
