"""``por-verify proof`` (a user's own proof) and ``por-verify liabilities`` (the auditor's)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from verifier.artifacts import RootSummary, format_units
from verifier.cli import run_check
from verifier.errors import FormatError
from verifier.proof import InclusionProof, ProofReport, verify_proof
from verifier.strictjson import hash_hex
from verifier.treefile import AuditReport, TreeFile, audit_tree


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise FormatError(f"{path}: cannot read the {what}: {e.strerror}") from e


def _report_json(rep: ProofReport) -> dict[str, Any]:
    return {
        "verdict": "VERIFIED",
        "ok": True,
        "round": rep.round_id,
        "user_id": rep.user_id,
        "balances": {a.symbol: str(x) for a, x in zip(rep.assets, rep.amounts, strict=True)},
        "balances_in_units": {
            a.symbol: format_units(x, a.decimals)
            for a, x in zip(rep.assets, rep.amounts, strict=True)
        },
        "leaf_index": rep.leaf_index,
        "path_length": rep.path_length,
        "leaf_count": rep.leaf_count,
        "root_hash": rep.root_hash.hex(),
        "root_totals": [str(x) for x in rep.root_sums],
        "root_checked_against": rep.root_checked_against,
    }


@click.command("proof")
@click.argument("proof_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--root", "root_hex", help="The published root hash (64 hex digits).")
@click.option(
    "--summary",
    "summary_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The published root summary (root.json) to check against.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable report.")
def proof_cmd(
    proof_file: Path, root_hex: str | None, summary_file: Path | None, as_json: bool
) -> None:
    """Verify a user's inclusion proof PROOF_FILE.

    Recomputes the commitment from the user id and salt, the leaf from the balances, and
    every parent to the root. Pass the exchange's published root with --root (or its
    root.json with --summary): without it the proof is checked only against itself.
    """

    def check() -> ProofReport:
        expected = hash_hex(root_hex.strip().lower(), "--root") if root_hex else None
        summary = (
            RootSummary.from_json(_read(summary_file, "root summary"), str(summary_file))
            if summary_file
            else None
        )
        proof = InclusionProof.from_json(_read(proof_file, "proof"), str(proof_file))
        return verify_proof(proof, expected_root=expected, summary=summary)

    rep: ProofReport = run_check(as_json, check)
    if as_json:
        click.echo(json.dumps(_report_json(rep), indent=2))
        return
    click.echo(f"VERIFIED: user {rep.user_id!r} is included in round {rep.round_id}")
    for asset, amount in zip(rep.assets, rep.amounts, strict=True):
        click.echo(f"  {asset.symbol:>8}  {format_units(amount, asset.decimals)}")
    click.echo(f"  root hash    {rep.root_hash.hex()}")
    click.echo(f"  path length  {rep.path_length} levels ({rep.leaf_count} leaves, padded)")
    click.echo(f"  checked against: {rep.root_checked_against}")
    if rep.root_checked_against == "proof's own root only":
        click.echo(
            "  WARNING: compare the root hash above with the one the exchange published,"
            " or pass it with --root.",
            err=True,
        )


@click.command("liabilities")
@click.argument("round_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--root", "root_hex", help="The published root hash to compare with.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable report.")
def liabilities_cmd(round_dir: Path, root_hex: str | None, as_json: bool) -> None:
    """Recompute a whole round from its tree file (the auditor's check).

    ROUND_DIR holds tree.bin (every leaf: commitment and balances) and root.json. Every
    leaf, node, sum and the root are recomputed; commitments must be strictly increasing
    (so none repeats); the padded count and totals must match root.json.
    """

    def check() -> AuditReport:
        expected = hash_hex(root_hex.strip().lower(), "--root") if root_hex else None
        summary = RootSummary.from_json(
            _read(round_dir / "root.json", "root summary"), str(round_dir / "root.json")
        )
        with (
            TreeFile(round_dir / "tree.bin") as tree,
            Progress(
                TextColumn("recomputing"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
                TimeElapsedColumn(), console=Console(stderr=True), disable=as_json,
                transient=True,
            ) as bar,
        ):
            task = bar.add_task("nodes", total=2 * tree.layout.leaf_count - 1)
            report = audit_tree(tree, summary, progress=lambda n: bar.advance(task, n))
        if expected is not None and expected != report.root_hash:
            report.add(
                f"root: computed {report.root_hash.hex()} but the published root is"
                f" {expected.hex()}"
            )
        report.raise_if_failed()
        return report

    report: AuditReport = run_check(as_json, check)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "verdict": "VERIFIED",
                    "ok": True,
                    "leaf_count": report.leaf_count,
                    "nodes_checked": report.nodes_checked,
                    "root_hash": report.root_hash.hex(),
                    "totals": [str(t) for t in report.totals],
                },
                indent=2,
            )
        )
        return
    click.echo(f"VERIFIED: {report.nodes_checked} nodes of {report.leaf_count} leaves recomputed")
    click.echo(f"  root hash  {report.root_hash.hex()}")
    click.echo(f"  totals     {', '.join(str(t) for t in report.totals)} (base units)")
