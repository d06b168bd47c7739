"""``por demo --private``: beside the demo's margin rounds, a private round (spec §16) of the
latest round's holdings, proved for a few users and checked with ``por-verify``.

The private scheme covers spot rounds only (one non-negative balance per user and asset,
spec §16.12): the round commits each user's holdings (the margin snapshot's equity column),
not debt. It is built with full hiding, or with ``hidden_levels`` (§16.14), proved for the
given users, each proof checked by ``por-verify proof --summary root.json`` and the tree by
the auditor's ``por-verify liabilities`` (every commitment opened, every sum recomputed).
It is not attested: the attestation format (§13) has no private liabilities yet.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from por.errors import VerificationError
from por.liabilities.private import build_private_tree, prove, write_private_round
from por.liabilities.secret import create_secret
from verifier.liabilities.mst import Asset


def _base_units(text: str, decimals: int) -> int:
    whole, _, frac = text.partition(".")
    fraction = (frac or "0").ljust(decimals, "0")[:decimals] or "0"
    return int(whole) * int(10**decimals) + int(fraction)


def holdings(snapshot: Path, assets: Sequence[Asset]) -> list[tuple[str, list[int]]]:
    """Each user's equity per asset, in base units, from a margin snapshot (spec §15.11)."""
    index = {a.symbol: j for j, a in enumerate(assets)}
    users: dict[str, list[int]] = {}
    with snapshot.open(newline="") as f:
        for row in csv.DictReader(f):
            j = index[row["asset"]]
            users.setdefault(row["user_id"], [0] * len(assets))[j] = _base_units(
                row["equity"], assets[j].decimals)
    return sorted(users.items())


def run_private_round(out_dir: Path, snapshot: Path, assets: Sequence[Asset], round_id: str,
                      users_with_proofs: Sequence[str], hidden_levels: int | None = None,
                      workers: int = 2, echo: Callable[[str], object] = print) -> Path:
    """Build, prove and check a private round of ``snapshot``'s holdings; return its
    directory (``out_dir/private/ROUND``; the secret in ``out_dir/secrets``).

    Raises:
        VerificationError: a proof or the tree file does not verify.
    """
    balances = holdings(snapshot, assets)
    present = {user for user, _ in balances}
    balances += [(user, [0] * len(assets)) for user in users_with_proofs if user not in present]
    secret = create_secret(out_dir / "secrets" / f"{round_id}.private.key")
    directory = out_dir / "private" / round_id
    started = time.perf_counter()
    tree = build_private_tree(round_id, assets, secret, balances, workers=workers,
                              hidden_levels=hidden_levels)
    root = write_private_round(tree, directory)
    seconds = time.perf_counter() - started
    echo(f"7. private round {round_id} (spec §16): {len(balances)} users' holdings"
               f" committed, {root.leaf_count} leaves x {len(assets)} assets, built in"
               f" {seconds:.1f} s; a proof reveals: {root.reveals()}")
    proofs = directory.parent / f"{round_id}-proofs"
    proofs.mkdir(parents=True, exist_ok=True)
    for user in users_with_proofs:
        path = proofs / f"{user}.json"
        path.write_bytes(prove(directory, secret, user).to_bytes())
        run = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "verifier", "proof", str(path), "--summary",
             str(directory / "root.json")], capture_output=True, text=True, check=False)
        if run.returncode != 0:
            raise VerificationError(f"por-verify rejected {path}: {run.stdout.strip()}"
                                    f" {run.stderr.strip()}")
    audit = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "verifier", "liabilities", str(directory)],
        capture_output=True, text=True, check=False)
    if audit.returncode != 0:
        raise VerificationError(f"por-verify liabilities failed on {directory}:"
                                f" {audit.stdout.strip()} {audit.stderr.strip()}")
    echo(f"   {len(users_with_proofs)} private proofs in {proofs}: por-verify proof"
               " --summary root.json passed (range proofs, commitment sums, root opening);"
               f" por-verify liabilities {directory}: every commitment opened and every sum"
               " recomputed, passed (not attested: the attestation has no private"
               " liabilities yet, spec §16.12)")
    return directory
