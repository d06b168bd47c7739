"""``por-verify proof`` (a user's own proof) and ``por-verify liabilities`` (the auditor's)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from verifier.cli.options import (
    DIRECTORY,
    FILE,
    json_option,
    parse_pin,
    parse_root_option,
    pin_option,
    read_input,
    read_witness_keys,
    require_anchor,
    show_anchor,
    witness_options,
)
from verifier.encoding.strictjson import loads as strict_loads
from verifier.errors import FormatError, UsageError
from verifier.liabilities.margin_round import (
    MarginAuditReport,
    MarginRootSummary,
    audit_margin_tree,
)
from verifier.liabilities.mst import MARGIN_SCHEME, Asset
from verifier.liabilities.proof import (
    InclusionProof,
    MarginInclusionProof,
    MarginProofReport,
    ProofReport,
    verify_margin_proof,
    verify_proof,
)
from verifier.liabilities.risk import RiskParams
from verifier.liabilities.rounddir import risk_path, root_path, tree_path
from verifier.liabilities.summary import RootSummary, assets_to_json, format_units
from verifier.liabilities.treefile import AuditReport, TreeFile, audit_tree


def _report_json(rep: ProofReport) -> dict[str, Any]:
    return {
        "verdict": "VERIFIED" if rep.anchored else "UNANCHORED",
        "ok": rep.anchored,
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
        "anchor": rep.anchor,
    }


def _only_with_bundle(bundle_dir: Path | None, pinned: str | None,
                      witness_files: tuple[Path, ...], quorum: int | None) -> None:
    """Refuse ``--pin`` and the witness options without ``--bundle``, which they qualify.

    Raises:
        UsageError: one of them is given without ``--bundle``.
    """
    if bundle_dir is None and (pinned or witness_files or quorum is not None):
        raise UsageError("--pin, --witness-key and --witness-quorum apply to --bundle")


def _bundle_anchor(
    bundle_dir: Path, proof: InclusionProof | MarginInclusionProof | None, pinned: str | None,
    witness_files: tuple[Path, ...], quorum: int | None,
) -> tuple[bytes, str, list[str]]:
    """Check the bundle as ``por-verify bundle --skip-chain`` would, with the user's proof;
    its root.json is the anchor only if the bundle has no finding (spec §8.2, §14.3). A
    private proof (``proof`` None) is checked against the returned root by the caller,
    once (its range proofs are the costly part, spec §13.7).

    Returns the bundle's root.json bytes, the anchor's description and the bundle's notes.
    """
    from verifier.attestation.bundle import (
        ROOT_FILE,
        BundleOptions,
        read_bundle,
        verify_bundle,
    )
    from verifier.log.witness import COSIGNED_BY

    files = read_bundle(bundle_dir)
    options = BundleOptions(
        skip_chain=True,
        pinned_key_id=parse_pin(pinned),
        user_proof=proof,
        witness_keys=read_witness_keys(witness_files),
        witness_quorum=quorum,
    )
    report = verify_bundle(files, options)
    report.raise_for_failures()
    witnesses = sum(1 for line in report.passed if line.startswith(COSIGNED_BY))
    anchor = (
        f"bundle {bundle_dir}: the root attested by {report.exchange}, entry"
        f" {report.leaf_index} of log {report.log!r} (size {report.tree_size}), co-signed by"
        f" {witnesses} known witness(es)"
    )
    return files[ROOT_FILE], anchor, report.notes


@click.command("proof")
@click.argument("proof_file", type=FILE)
@click.option("--root", "root_hex", help="The published root hash (64 hex digits).")
@click.option(
    "--summary",
    "summary_file",
    type=FILE,
    help="The published root summary (root.json) to check against.",
)
@click.option(
    "--bundle",
    "bundle_dir",
    type=DIRECTORY,
    help="The round's published bundle: the proof is checked against its attested root,"
    " once the bundle's signatures, log inclusion and witnesses check.",
)
@pin_option("With --bundle: the exchange's key id, got out of band.")
@witness_options(
    key_help="With --bundle: a witness's public key (por-public-key JSON) you trust; repeat.",
    quorum_help="With --bundle: valid co-signatures of known witnesses required (default: all"
    " --witness-key given).",
)
@json_option()
def proof_cmd(
    proof_file: Path,
    root_hex: str | None,
    summary_file: Path | None,
    bundle_dir: Path | None,
    pinned: str | None,
    witness_files: tuple[Path, ...],
    witness_quorum: int | None,
    as_json: bool,
) -> None:
    """Verify a user's inclusion proof PROOF_FILE.

    Recomputes the commitment from the user id and salt, the leaf from the balances, and
    every parent to the root, then compares that root with the exchange's publication:
    --root, --summary root.json or --bundle DIR. Without one of them the proof is checked
    only against itself, which anyone can fabricate: the verdict is UNANCHORED (exit 1).

    Exit codes: 0 verified against a published root, 1 a check failed or no anchor was
    given, 2 unusable input.
    """
    notes: list[str] = []
    from verifier.cli.private import is_private, private_proof_cmd  # spec §16: scheme dispatch

    if is_private(proof_file):
        _only_with_bundle(bundle_dir, pinned, witness_files, witness_quorum)
        anchor_by = None
        if bundle_dir is not None:
            bundle = bundle_dir

            def anchor_by() -> tuple[bytes, str, list[str]]:  # spec §13.7
                return _bundle_anchor(bundle, None, pinned, witness_files, witness_quorum)

        private_proof_cmd(proof_file, root_hex, summary_file, anchor_by, as_json)
        return
    if _is_margin(proof_file):
        _margin_proof_cmd(proof_file, root_hex, summary_file, bundle_dir, as_json,
                          (pinned, witness_files, witness_quorum))
        return

    def check() -> ProofReport:
        _only_with_bundle(bundle_dir, pinned, witness_files, witness_quorum)
        expected = parse_root_option(root_hex) if root_hex is not None else None
        summary = (
            RootSummary.from_json(read_input(summary_file, "root summary"), str(summary_file))
            if summary_file
            else None
        )
        proof = InclusionProof.from_json(read_input(proof_file, "proof"), str(proof_file))
        anchor = None
        if bundle_dir is not None:
            if summary is not None:
                raise UsageError("give --summary or --bundle, not both")
            root_bytes, anchor, bundle_notes = _bundle_anchor(
                bundle_dir, proof, pinned, witness_files, witness_quorum
            )
            summary = RootSummary.from_json(root_bytes, f"{bundle_dir}/root.json")
            notes.extend(bundle_notes)
        report = verify_proof(proof, expected_root=expected, summary=summary)
        return report if anchor is None else replace(report, anchor=anchor)

    rep: ProofReport = check()
    if as_json:
        out = _report_json(rep)
        out["notes"] = notes
        click.echo(json.dumps(out, indent=2))
    else:
        if rep.anchored:
            click.echo(f"VERIFIED: user {rep.user_id!r} is included in round {rep.round_id}")
        else:
            click.echo(
                f"UNANCHORED: the proof of user {rep.user_id!r} (round {rep.round_id}) is"
                " consistent with itself only; anyone can make such a file. Compare the root"
                " hash below with the one the exchange published, or pass it with --root,"
                " --summary or --bundle."
            )
        for asset, amount in zip(rep.assets, rep.amounts, strict=True):
            click.echo(f"  {asset.symbol:>8}  {format_units(amount, asset.decimals)}")
        click.echo(f"  root hash    {rep.root_hash.hex()}")
        click.echo(f"  path length  {rep.path_length} levels ({rep.leaf_count} leaves, padded)")
        show_anchor(rep.anchor, notes)
    require_anchor(rep.anchored, f"the proof of user {rep.user_id!r}")


def _is_margin(proof_file: Path) -> bool:
    """True when the file names the margin scheme (spec §15.7); anything else is read as a
    spot proof, whose strict parser reports what is wrong."""
    try:
        data = strict_loads(proof_file.read_bytes(), str(proof_file))
    except (OSError, FormatError):
        return False
    return isinstance(data, dict) and data.get("scheme") == MARGIN_SCHEME


def _margin_proof_cmd(
    proof_file: Path,
    root_hex: str | None,
    summary_file: Path | None,
    bundle_dir: Path | None,
    as_json: bool,
    bundle_args: tuple[str | None, tuple[Path, ...], int | None],
) -> None:
    pinned, witness_files, witness_quorum = bundle_args
    notes: list[str] = []

    def check() -> MarginProofReport:
        _only_with_bundle(bundle_dir, pinned, witness_files, witness_quorum)
        if bundle_dir is not None and summary_file is not None:
            raise UsageError("give --summary or --bundle, not both")
        expected = parse_root_option(root_hex) if root_hex is not None else None
        proof = MarginInclusionProof.from_json(read_input(proof_file, "proof"), str(proof_file))
        report = verify_margin_proof(proof, expected_root=expected)
        if summary_file is not None:
            summary = MarginRootSummary.from_json(
                read_input(summary_file, "root summary"), str(summary_file)
            )
            summary.check_proof(report)
            report = replace(report, anchor="published root summary")
        elif bundle_dir is not None:
            # The bundle's own check (attestation v3, spec §13.6) ties this proof to the
            # attested root; the root summary it carries is then the anchor.
            root_bytes, anchor, bundle_notes = _bundle_anchor(
                bundle_dir, proof, pinned, witness_files, witness_quorum
            )
            MarginRootSummary.from_json(root_bytes, f"{bundle_dir}/root.json").check_proof(
                report
            )
            notes.extend(bundle_notes)
            report = replace(report, anchor=anchor)
        return report

    rep: MarginProofReport = check()
    verdict = "VERIFIED" if rep.anchored else "UNANCHORED"
    if as_json:
        out = {
            "verdict": verdict,
            "ok": rep.anchored,
            "round": rep.round_id,
            "user_id": rep.user_id,
            "positions": {
                a.symbol: {"equity": str(p.equity), "debt": str(p.debt),
                           "collateral": str(p.collateral)}
                for a, p in zip(rep.assets, rep.positions, strict=True)
            },
            "debt_value": str(rep.rule.debt_value),
            "haircut_collateral_value": str(rep.rule.collateral_value),
            "risk_hash": rep.risk_hash.hex(),
            "leaf_index": rep.leaf_index,
            "leaf_count": rep.leaf_count,
            "root_hash": rep.root_hash.hex(),
            "anchor": rep.anchor,
            "notes": notes,
        }
        click.echo(json.dumps(out, indent=2))
    else:
        click.echo(
            f"{verdict}: margin proof of user {rep.user_id!r}, round {rep.round_id}: debt"
            f" value {rep.rule.debt_value} covered by haircut collateral value"
            f" {rep.rule.collateral_value}"
        )
        for a, p in zip(rep.assets, rep.positions, strict=True):
            click.echo(
                f"  {a.symbol:>8}  equity {format_units(p.equity, a.decimals)}"
                f"  debt {format_units(p.debt, a.decimals)}"
                f"  collateral {format_units(p.collateral, a.decimals)}"
            )
        click.echo(f"  risk hash    {rep.risk_hash.hex()}")
        click.echo(f"  root hash    {rep.root_hash.hex()}")
        show_anchor(rep.anchor, notes)
    require_anchor(rep.anchored, f"the margin proof of user {rep.user_id!r}")


@click.command("liabilities")
@click.argument("round_dir", type=DIRECTORY)
@click.option("--root", "root_hex", help="The published root hash to compare with.")
@json_option()
def liabilities_cmd(round_dir: Path, root_hex: str | None, as_json: bool) -> None:
    """Recompute a whole round from its tree file (the auditor's check).

    ROUND_DIR holds tree.bin (every leaf: commitment and balances) and root.json. Every
    leaf, node, sum and the root are recomputed; commitments must be strictly increasing
    (so none repeats); the padded count and totals must match root.json. Totals are printed
    in asset units (base units with --json).

    Exit codes: 0 verified, 1 a check failed (every finding listed), 2 unusable input.
    A margin round (root.json of scheme por-mst-margin, spec §15.10) is checked with its
    risk.json: every leaf's rule too, and totals of equity, debt and collateral.
    """
    if _is_margin(root_path(round_dir)):
        _margin_liabilities(round_dir, root_hex, as_json)
        return
    from verifier.cli.private import is_private_round, private_liabilities_cmd  # spec §16.10

    if is_private_round(round_dir):
        private_liabilities_cmd(round_dir, root_hex, as_json)
        return

    def check() -> tuple[AuditReport, tuple[Asset, ...]]:
        expected = parse_root_option(root_hex) if root_hex is not None else None
        summary = RootSummary.from_json(
            read_input(root_path(round_dir), "root summary"), str(root_path(round_dir))
        )
        with (
            TreeFile(tree_path(round_dir)) as tree,
            Progress(
                TextColumn("recomputing"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
                TimeElapsedColumn(), console=Console(stderr=True), disable=as_json,
                transient=True,
            ) as bar,
        ):
            task = bar.add_task("nodes", total=2 * tree.layout.leaf_count - 1)
            report = audit_tree(tree, summary, progress=lambda n: bar.advance(task, n))
            assets = tree.layout.assets
        if expected is not None and expected != report.root_hash:
            report.add(
                f"root: computed {report.root_hash.hex()} but the published root is"
                f" {expected.hex()}"
            )
        report.raise_for_failures()
        return report, assets

    report, assets = check()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "verdict": "VERIFIED",
                    "ok": True,
                    "leaf_count": report.leaf_count,
                    "nodes_checked": report.nodes_checked,
                    "root_hash": report.root_hash.hex(),
                    "assets": assets_to_json(assets),
                    "totals": [str(t) for t in report.totals],
                    "totals_by_asset": {
                        a.symbol: str(t) for a, t in zip(assets, report.totals, strict=True)
                    },
                },
                indent=2,
            )
        )
        return
    click.echo(f"VERIFIED: {report.nodes_checked} nodes of {report.leaf_count} leaves recomputed")
    click.echo(f"  root hash  {report.root_hash.hex()}")
    click.echo("  totals")
    for asset, total in zip(assets, report.totals, strict=True):
        click.echo(f"    {asset.symbol:>8}  {format_units(total, asset.decimals)}")


def _margin_liabilities(round_dir: Path, root_hex: str | None, as_json: bool) -> None:
    def check() -> MarginAuditReport:
        expected = parse_root_option(root_hex) if root_hex is not None else None
        summary = MarginRootSummary.from_json(
            read_input(root_path(round_dir), "root summary"), str(root_path(round_dir))
        )
        risk = RiskParams.from_json(
            read_input(risk_path(round_dir), "risk file"), str(risk_path(round_dir))
        )
        with TreeFile(tree_path(round_dir)) as tree:
            report = audit_margin_tree(tree, risk, summary)
        if expected is not None and expected != report.root_hash:
            report.add(
                f"root: computed {report.root_hash.hex()} but the published root is"
                f" {expected.hex()}"
            )
        report.raise_for_failures()
        return report

    report: MarginAuditReport = check()
    assets = MarginRootSummary.from_json(read_input(root_path(round_dir), "root summary")).assets
    if as_json:
        click.echo(
            json.dumps(
                {
                    "verdict": "VERIFIED",
                    "ok": True,
                    "scheme": MARGIN_SCHEME,
                    "leaf_count": report.leaf_count,
                    "root_hash": report.root_hash.hex(),
                    "totals_by_asset": {
                        a.symbol: {
                            "equity": str(t.equity),
                            "debt": str(t.debt),
                            "collateral": str(t.collateral),
                        }
                        for a, t in zip(assets, report.totals, strict=True)
                    },
                },
                indent=2,
            )
        )
        return
    click.echo(
        f"VERIFIED: margin round of {report.leaf_count} leaves recomputed, every account's"
        " debt covered by its own haircut collateral"
    )
    click.echo(f"  root hash  {report.root_hash.hex()}")
    click.echo("  totals: equity / debt (borrowed by users) / collateral")
    for a, t in zip(assets, report.totals, strict=True):
        click.echo(
            f"    {a.symbol:>8}  {format_units(t.equity, a.decimals)}"
            f" / {format_units(t.debt, a.decimals)} / {format_units(t.collateral, a.decimals)}"
        )
