"""Margin rounds on the command line (spec §15.9-15.11): ``import-ledger``, and the margin
branches of ``por liabilities build --risk`` and ``prove``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from por.cli import RichProgress
from por.liabilities.ledger_import import import_ledger
from por.liabilities.margin import run_margin_build
from verifier.cli.options import DIRECTORY, FILE


@click.command("import-ledger")
@click.argument("ledger", type=FILE)
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
    type=DIRECTORY,
    required=True,
    help="Directory for snapshot.csv, assets.json and risk.json (created if missing).",
)
def import_ledger_cmd(ledger: Path, fmt: str, out_dir: Path) -> None:
    """Convert LEDGER into a margin round's snapshot, asset list and risk file.

    Every account's rule is checked first (Σ balance × price ≥ 0 for PoRv2); an account
    under water is refused with its id and both sides, and nothing is written. Exit codes:
    0 written, 1 an account is under water, 2 unusable input.
    """
    written = import_ledger(ledger, fmt, out_dir)
    for path in written.values():
        click.echo(f"wrote {path}")


def margin_build(
    snapshot: Path,
    assets_file: Path,
    risk_file: Path,
    round_id: str,
    out_dir: Path,
    secret_info: tuple[bytes, Path, bool],
    pad_to: int | None,
    quiet: bool = False,
    **options: Any,
) -> None:
    """The margin branch of ``por liabilities build --risk`` (spec §15.10-15.11): the round
    and the new secret's file (written only once the round is built), then the summary.
    ``options``: ``workers``, ``memory`` (bytes), ``work_dir``, ``cluster``.

    Raises:
        InputError, FormatError: unusable inputs.
        VerificationError: an account under water; nothing is written.
    """
    secret, secret_path, pending = secret_info
    with RichProgress(enabled=not quiet) as progress:
        summary = run_margin_build(snapshot, assets_file, risk_file, round_id, out_dir, secret,
                                   pad_to, secret_out=secret_path if pending else None,
                                   progress=progress, **options)
    click.echo(f"built margin round {summary.round_id}: {summary.leaf_count} leaves (padded)")
    click.echo(f"  root hash    {summary.root_hash.hex()}")
    click.echo(f"  root.json, risk.json in {out_dir}   (publish these)")
    click.echo(f"  tree.bin     {out_dir / 'tree.bin'}   (private: for auditors only)")
    note = "created (0600); keep it private, never publish" if pending else "used"
    click.echo(f"  secret       {secret_path}   ({note})")
