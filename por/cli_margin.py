"""Margin rounds on the command line (spec §15.9-15.11): ``import-ledger``, and the margin
branches of ``por liabilities build --risk`` and ``prove``."""

from __future__ import annotations

from pathlib import Path

import click

from por.cli import handle_errors
from por.ledger_import import import_ledger


@click.command("import-ledger")
@click.argument("ledger", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["otter-porv2"]),
    required=True,
    help="The ledger's format: otter-porv2 (OtterSec PoRv2's private_ledger.json).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Directory for snapshot.csv, assets.json and risk.json (created if missing).",
)
@handle_errors
def import_ledger_cmd(ledger: Path, fmt: str, out_dir: Path) -> None:
    """Convert LEDGER into a margin round's snapshot, asset list and risk file.

    Every account's rule is checked first (Σ balance × price ≥ 0 for PoRv2); an account
    under water is refused with its id and both sides, and nothing is written. Exit codes:
    0 written, 1 an account is under water, 2 unusable input.
    """
    written = import_ledger(ledger, fmt, out_dir)
    for path in written.values():
        click.echo(f"wrote {path}")
