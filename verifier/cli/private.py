"""``por-verify proof`` on a private proof (spec §16.9): called by the proof command when
the file names the scheme ``por-mst-private``; needs the ``[private]`` extra (wallycore),
imported only here and only when such a proof is checked."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import click

from verifier.cli.options import parse_root_option, read_input, require_anchor, show_anchor
from verifier.encoding.strictjson import loads as strict_loads
from verifier.errors import (
    FormatError,
    UnreadableInputError,
    UsageError,
    VerificationError,
)
from verifier.files import mapped_read_only
from verifier.liabilities.rounddir import root_path, tree_path

PRIVATE_SCHEME = "por-mst-private"  # spec §16.1 (verifier.private.scheme.SCHEME)


def is_private(proof_file: Path) -> bool:
    """True when the file is a JSON object naming the private scheme; anything else is
    left to the other schemes' strict parsers, which report what is wrong."""
    try:
        data = strict_loads(proof_file.read_bytes(), str(proof_file))
    except (OSError, FormatError):
        return False
    return isinstance(data, dict) and data.get("scheme") == PRIVATE_SCHEME


def private_proof_cmd(proof_file: Path, root_hex: str | None, summary_file: Path | None,
                      bundle_anchor: Callable[[], tuple[bytes, str, list[str]]] | None,
                      as_json: bool) -> None:
    """Check a private proof against --root, --summary or --bundle and print the verdict.

    ``bundle_anchor`` (``--bundle``, spec §13.7): checks the bundle as ``por-verify bundle
    --skip-chain`` does and returns its attested ``root.json`` bytes, the anchor's
    description and the bundle's notes; the proof must then match that root field for
    field, so a proof is anchored only to the round the signed attestation names.

    Exit codes: 0 verified against a published root, 1 a check failed or no anchor,
    2 unusable input (a missing ``[private]`` extra too: the group says what to install).
    """
    from verifier.cli.options import parse_root_option
    from verifier.private.proof import (
        PrivateProof,
        PrivateProofReport,
        PrivateRoot,
        verify_private_proof,
    )

    notes: list[str] = []

    def check() -> PrivateProofReport:
        if bundle_anchor is not None and summary_file is not None:
            raise UsageError("give --summary or --bundle, not both")
        expected = parse_root_option(root_hex) if root_hex is not None else None
        summary = (PrivateRoot.from_json(read_input(summary_file, "root summary"),
                                         str(summary_file))
                   if summary_file is not None else None)
        proof = PrivateProof.from_json(read_input(proof_file, "proof"), str(proof_file))
        if bundle_anchor is None:
            return verify_private_proof(proof, expected_root=expected, summary=summary)
        root_bytes, anchor, bundle_notes = bundle_anchor()
        if not is_private_root(root_bytes):
            raise VerificationError("the bundle attests a round of another scheme; a private"
                                    " proof is anchored only by a private round's bundle")
        attested = PrivateRoot.from_json(root_bytes, "bundle root.json")
        notes.extend(bundle_notes)
        return replace(verify_private_proof(proof, expected_root=expected, summary=attested),
                       anchor=anchor)

    rep: PrivateProofReport = check()
    verdict = "VERIFIED" if rep.anchored else "UNANCHORED"
    if as_json:
        click.echo(json.dumps({
            "verdict": verdict, "ok": rep.anchored, "scheme": PRIVATE_SCHEME,
            "round": rep.round_id, "user_id": rep.user_id,
            "balances": {a.symbol: str(x) for a, x in zip(rep.assets, rep.amounts, strict=True)},
            "committed_units": {a.symbol: {"value": str(v), "unit_exponent": a.unit_exponent}
                                for a, v in zip(rep.assets, rep.values, strict=True)},
            "leaf_index": rep.leaf_index, "path_length": rep.path_length,
            "leaf_count": rep.leaf_count, "range_proofs_checked": rep.range_proofs_checked,
            "root_hash": rep.root_hash.hex(), "root_totals": [str(t) for t in rep.totals],
            "hidden_levels": rep.hidden_levels, "reveals": rep.reveals,
            "opened_sums": [{"level": level, "leaves": 1 << level,
                             "sums": {a.symbol: str(v) for a, v in zip(rep.assets, sums,
                                                                       strict=True)}}
                            for level, sums in rep.opened],
            "anchor": rep.anchor, "notes": notes}, indent=2))
    else:
        click.echo(f"{verdict}: private proof of user {rep.user_id!r}, round {rep.round_id}:"
                   f" {rep.range_proofs_checked} range proofs and every commitment sum checked")
        click.echo(f"  the proof reveals: {rep.reveals}")
        for level, sums in rep.opened:
            shown = ", ".join(f"{a.symbol} {v} x 10^{a.unit_exponent}"
                              for a, v in zip(rep.assets, sums, strict=True))
            click.echo(f"    level {level} sibling ({1 << level} leaves): {shown}")
        for a, x, v in zip(rep.assets, rep.amounts, rep.values, strict=True):
            click.echo(f"  {a.symbol:>8}  {x} base units, committed as {v} x 10^{a.unit_exponent}")
        for a, t in zip(rep.assets, rep.totals, strict=True):
            click.echo(f"  total {a.symbol:>8}  {t} x 10^{a.unit_exponent} base units")
        click.echo(f"  root hash    {rep.root_hash.hex()}")
        show_anchor(rep.anchor, notes)
    require_anchor(rep.anchored, f"the private proof of user {rep.user_id!r}")


def is_private_root(data: bytes) -> bool:
    """True when ``data`` is a JSON object naming the private scheme."""
    try:
        raw = strict_loads(data, "root.json")
    except FormatError:
        return False
    return isinstance(raw, dict) and raw.get("scheme") == PRIVATE_SCHEME


def is_private_round(round_dir: Path) -> bool:
    """True when ROUND_DIR's root.json names the private scheme."""
    return is_private(root_path(round_dir))


def private_liabilities_cmd(round_dir: Path, root_hex: str | None, as_json: bool) -> None:
    """The auditor's check of a private round (spec §16.10): every commitment opened, every
    sum and hash recomputed, root.json compared; exit 0, 1 (every finding listed) or 2."""
    from verifier.private.proof import PrivateRoot
    from verifier.private.scheme import reveals
    from verifier.private.treefile import (
        PrivateAuditReport,
        PrivateTreeFile,
        audit_private_round,
    )

    def check() -> PrivateAuditReport:
        expected = parse_root_option(root_hex) if root_hex is not None else None
        summary = PrivateRoot.from_json(read_input(root_path(round_dir), "root summary"),
                                        str(root_path(round_dir)))
        with mapped_read_only(tree_path(round_dir), "tree file",
                              UnreadableInputError) as data:
            tree = PrivateTreeFile(data, str(tree_path(round_dir)))
            report = audit_private_round(tree, summary, expected)
        report.raise_for_failures()
        return report

    rep: PrivateAuditReport = check()
    shown = reveals(rep.hidden_levels, rep.leaf_count.bit_length() - 1)
    if as_json:
        click.echo(json.dumps({
            "verdict": "VERIFIED", "ok": True, "scheme": PRIVATE_SCHEME, "round": rep.round_id,
            "leaf_count": rep.leaf_count, "root_hash": rep.root_hash.hex(),
            "totals": {a.symbol: {"value": str(t), "unit_exponent": a.unit_exponent}
                       for a, t in zip(rep.assets, rep.totals, strict=True)},
            "hidden_levels": rep.hidden_levels, "reveals": shown}, indent=2))
    else:
        click.echo(f"VERIFIED: private round {rep.round_id}, {rep.leaf_count} leaves: every"
                   " commitment opens, every sum and hash recomputes")
        click.echo(f"  each user's proof reveals: {shown}")
        for a, t in zip(rep.assets, rep.totals, strict=True):
            click.echo(f"  total {a.symbol:>8}  {t} x 10^{a.unit_exponent} base units")
        click.echo(f"  root hash    {rep.root_hash.hex()}")
