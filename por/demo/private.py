"""``por demo --private``: beside the demo's margin rounds, a private round (spec §16) of the
latest round's holdings, proved for a few users and checked with ``por-verify``.

The private scheme covers spot rounds only (one non-negative balance per user and asset,
spec §16.12): the round commits each user's holdings (the margin snapshot's equity column),
not debt. It is built with full hiding, or with ``hidden_levels`` (§16.14), proved for the
given users, each proof checked by ``por-verify proof --summary root.json`` and the tree by
the auditor's ``por-verify liabilities`` (every commitment opened, every sum recomputed).
With the demo's exchange (``attest``) it is then attested as any round (spec §13.7): the
wallets are topped up to cover its liabilities (committed total x 10^e), the reserves file
names the private root, the exchange signs (with the tree's top node hash), the auditor
co-signs after recomputing the whole tree file, the round is published to the same log,
and ``por-verify bundle --proof`` checks the bundle and one user's private proof with the
reserves re-read over JSON-RPC.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from por.demo.attest import AttestDemo
from por.demo.reserves import DemoReserves, serve_chain
from por.errors import VerificationError
from por.liabilities.private import build_private_round, prove
from por.liabilities.secret import create_secret
from verifier.attestation.model import private_liabilities
from verifier.liabilities.mst import Asset
from verifier.private.proof import PrivateRoot


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
                      workers: int = 2, echo: Callable[[str], object] = print,
                      attestation: tuple[AttestDemo, DemoReserves, datetime] | None = None,
                      directory: Path | None = None) -> Path:
    """Build, prove and check a private round of ``snapshot``'s holdings; return its
    directory (``directory``, by default ``out_dir/private/ROUND``; the secret in
    ``out_dir/secrets``). With ``attestation`` (the demo's exchange, its chain and the
    round's snapshot time), attest, co-sign, publish and verify it (spec §13.7).

    Raises:
        VerificationError: a proof, the tree file or the bundle does not verify.
    """
    balances = holdings(snapshot, assets)
    present = {user for user, _ in balances}
    balances += [(user, [0] * len(assets)) for user in users_with_proofs if user not in present]
    secret = create_secret(out_dir / "secrets" / f"{round_id}.private.key")
    directory = directory or out_dir / "private" / round_id
    started = time.perf_counter()
    # The bounded-memory builder `por liabilities build-private` uses (spec §16.10).
    root, _ = build_private_round(round_id, assets, secret, balances, directory,
                                  workers=workers, hidden_levels=hidden_levels)
    seconds = time.perf_counter() - started
    echo(f"7. private round {round_id} (spec §16): {len(balances)} users' holdings"
               f" committed, {root.leaf_count} leaves x {len(assets)} assets, built in"
               f" {seconds:.1f} s; a proof reveals: {root.reveals()}")
    # Never inside a served rounds directory: a proof holds its user's salt and balances.
    proofs = (out_dir / "proofs" / round_id if attestation is not None
              else directory.parent / f"{round_id}-proofs")
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
               " recomputed, passed")
    if attestation is not None:
        _attest_private_round(directory, root.round_id, proofs / f"{users_with_proofs[0]}.json",
                              *attestation, echo=echo)
    return directory


def _attest_private_round(directory: Path, round_id: str, proof: Path, attest: AttestDemo,
                          chain: DemoReserves, when: datetime,
                          echo: Callable[[str], object]) -> None:
    """Cover, attest, co-sign, publish and verify a private round (spec §13.7).

    Raises:
        VerificationError: the reserves or the bundle do not verify.
    """
    root = PrivateRoot.from_json((directory / "root.json").read_bytes())
    owed = private_liabilities(root)
    # A margin of 10 % over the attested liabilities (committed total x 10^e) on every asset.
    chain.top_up({a.symbol: -(-total * 11 // 10) for a, total in zip(root.assets, owed,
                                                                      strict=True)})
    reserves = chain.publish(directory / "reserves.json",
                             directory.parent.parent / "reserves-work" / round_id, root,
                             attest.exchange)
    att = attest.attest(round_id, (directory / "root.json").read_bytes(),
                        reserves.read_bytes(), when, {"ethereum": chain.reader},
                        private_dir=directory)
    with serve_chain(chain.chain) as rpc_url:
        attest.verify(round_id, rpc_url, proof)
    covered = sum(1 for line in att.solvency if line.status == "covered")
    echo(f"   attested (version {att.version}): signed with the tree's top node hash,"
         f" co-signed by the auditor after recomputing every commitment of {directory.name}'s"
         f" tree.bin, published to the log; por-verify bundle --rpc ... --proof {proof.name}:"
         f" passed, {covered} of {len(att.solvency)} assets covered (liabilities = committed"
         " total x 10^e, never below the exact ones)")
