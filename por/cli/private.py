"""``por liabilities build-private`` and ``prove-private``: a private round (spec §16) from
the spot scheme's inputs, and a user's private proof. Registered lazily in
``por.cli.LIABILITIES_COMMANDS``; needs the ``[private]`` extra (wallycore)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from por.cli import signals_held
from por.errors import InputError
from verifier.cli.options import DIRECTORY, FILE


def _secret_path(secret_file: Path | None, round_id: str) -> Path:
    from por.liabilities.secret import default_secret_path

    env = os.environ.get("POR_ROUND_SECRET_FILE")
    return secret_file or (Path(env) if env else default_secret_path(round_id))


@click.command("build-private")
@click.argument("snapshot", type=FILE)
@click.option("--assets", "assets_file", required=True,
              type=FILE, help="The round's asset list.")
@click.option("--round", "round_id", required=True, help="The round id (spec §3).")
@click.option("--out", "out_dir", required=True, type=DIRECTORY,
              help="Where root.json (public) and tree.bin (auditors) are written.")
@click.option("--secret-file", type=FILE,
              help="The round secret's file (default: $POR_ROUND_SECRET_FILE, else"
              " ~/.local/share/por/secrets/ROUND.key); written only once the round is.")
@click.option("--pad-to", type=click.IntRange(min=1), help="Pad to at least N leaves.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes that build the subtrees (their leaves' commitments are the cost).")
@click.option("--hide-levels", "hidden_levels", type=click.IntRange(min=1),
              help="Hybrid hiding (spec §16.14): proofs hide the bottom L levels and show the"
              " sums of the subtrees above (of 2^L leaves and more). Default: every level"
              " hidden (full hiding, version 1).")
def build_private_cmd(snapshot: Path, assets_file: Path, round_id: str, out_dir: Path,
                      secret_file: Path | None, pad_to: int | None, workers: int,
                      hidden_levels: int | None) -> None:
    """Build a private round (spec §16) from SNAPSHOT: proofs hide every other balance.

    Exit codes: 0 built, 1 a check failed, 2 unusable input.
    """
    from por.liabilities.assets import load_assets
    from por.liabilities.private import build_private_round
    from por.liabilities.secret import load_secret, new_secret
    from por.liabilities.snapshot import read_snapshot

    path = _secret_path(secret_file, round_id)
    if path.absolute().resolve().is_relative_to(out_dir.absolute().resolve()):
        raise InputError(f"{path}: the round secret must not lie in the round's directory"
                         f" {out_dir} (it is served); choose a --secret-file elsewhere")
    existing = path.exists()
    secret = load_secret(path) if existing else new_secret()
    assets = load_assets(assets_file)
    snap = read_snapshot(snapshot, assets)
    ids = snap.user_ids.to_pylist()
    k = len(assets)
    balances = ((str(ids[i]), [int(snap.hi[i, j]) << 64 | int(snap.lo[i, j]) for j in range(k)])
                for i in range(len(ids)))  # one user at a time: the builder's memory is bounded
    # The secret is written by the build once the round is complete: an interrupted build
    # (SIGINT, SIGTERM) leaves neither, and no worker process (spec §16.10).
    root, stats = build_private_round(round_id, assets, secret, balances, out_dir, pad_to,
                                      workers, hidden_levels,
                                      secret_out=None if existing else path)
    with signals_held():
        click.echo(f"built private round {round_id}: {stats.users} users, {root.leaf_count}"
                   f" leaves; root {root.root_hash.hex()}")
        click.echo(f"  peak memory: {stats.peak_rss_mib:.0f} MiB here,"
                   f" {stats.peak_worker_rss_mib:.0f} MiB in a worker ({stats.tasks} subtree"
                   f" tasks, {workers} worker(s))")
        click.echo(f"  a proof reveals: {root.reveals()}")
        for asset, total in zip(root.assets, root.totals, strict=True):
            click.echo(f"  {asset.symbol:>8}  total {total} x 10^{asset.unit_exponent} base"
                       " units")
        click.echo(f"  round secret: {path}")


@click.command("prove-private")
@click.argument("round_dir", type=DIRECTORY)
@click.argument("user_id")
@click.option("--secret-file", type=FILE,
              help="The round secret's file (default as build-private).")
@click.option("--out", "out_file", type=FILE,
              help="Write the proof here (default: standard output).")
def prove_private_cmd(round_dir: Path, user_id: str, secret_file: Path | None,
                      out_file: Path | None) -> None:
    """Write USER_ID's private proof of the round in ROUND_DIR (spec §16.8).

    Exit codes: 0 written, 2 unusable input (the user is not in the round, say).
    """
    from por.liabilities.private import ROOT_FILE, prove
    from por.liabilities.secret import load_secret
    from verifier.private.proof import PrivateRoot

    try:
        round_id = PrivateRoot.from_json((round_dir / ROOT_FILE).read_bytes()).round_id
    except OSError as e:
        raise InputError(f"{round_dir / ROOT_FILE}: cannot read: {e.strerror}") from e
    proof = prove(round_dir, load_secret(_secret_path(secret_file, round_id)), user_id)
    data = proof.to_bytes()
    if out_file is None:
        click.echo(data.decode("utf-8"), nl=False)  # the file's exact bytes (spec §16.8)
    else:
        out_file.write_bytes(data)
