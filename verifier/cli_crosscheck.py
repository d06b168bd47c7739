"""``por-verify cross-check FILE...``: no coin claimed by two exchanges for one period.

Reads the files, runs :func:`verifier.crosscheck.run`, prints the report (text or
``--json``) and exits 0 (no overlap), 1 (a wallet or output claimed twice) or 2 (a file is
malformed or of no accepted kind) through :func:`verifier.cli.run_check`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from verifier.cli import EXIT_FAILED, fail, run_check
from verifier.crosscheck import CrossCheckReport, run
from verifier.errors import FormatError, VerificationError

MAX_FILE_BYTES = 512 * 1024 * 1024


def _read(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise FormatError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
        return path.read_bytes()
    except OSError as e:
        raise FormatError(f"{path}: cannot read: {e.strerror or e}") from e


@click.command(name="cross-check")
@click.argument("files", type=click.Path(dir_okay=False, path_type=Path), nargs=-1, required=True)
@click.option(
    "--window-blocks",
    type=int,
    default=None,
    help="Count two claims of one wallet as overlapping only when their snapshot heights are "
    "at most this many blocks apart (default: any heights). A shared UTXO always overlaps.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable report.")
def cross_check_cmd(files: tuple[Path, ...], window_blocks: int | None, as_json: bool) -> None:
    """Report every wallet or UTXO that two of FILES claim for overlapping snapshots.

    FILES are exchanges' reserves files (por-reserves, spec §11.1), OKX address files and
    BitMEX-style address lists (YAML or JSON), one file per exchange and period. Addresses
    are compared as the coins they designate (EVM case, bech32 case, Litecoin's 3/M P2SH
    forms are one coin). Exit 0 when nothing is claimed twice, 1 when something is, 2 when
    a file is malformed.
    """
    report: CrossCheckReport = run_check(
        as_json, lambda: run([(str(f), _read(f)) for f in files], window_blocks=window_blocks)
    )
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        if not report.ok:
            sys.exit(EXIT_FAILED)
        return
    click.echo(report.render_text())
    try:
        report.raise_if_failed()
    except VerificationError as err:
        fail(err, as_json=False)
