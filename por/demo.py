"""``por demo``: a synthetic exchange taken through the whole flow, end to end, ending with
the command that serves the public page over what it published."""

from __future__ import annotations

import json
import random
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pyarrow as pa
import pyarrow.parquet as pq

from por.attest.demo import run_attest_demo
from por.build import SECRET_FILE, build_tree
from por.errors import VerificationError
from por.prove import Prover
from por.reserves.demo import run_reserves_demo_chain, serve_chain
from por.secret import create_secret
from por.tokens import issue_tokens, write_token_csv
from verifier.mst import Asset

DEMO_ASSETS = (
    Asset("BTC", 8),
    Asset("ETH", 18),
    Asset("USDT", 6),
    Asset("SOL", 9),
    Asset("USDC", 6),
    Asset("XRP", 6),
    Asset("DOGE", 8),
    Asset("TRX", 6),
)


def synthetic_snapshot(path: Path, users: int, assets: tuple[Asset, ...], seed: int) -> None:
    """Write a long-format Parquet snapshot of ``users`` users with exact decimal strings."""
    rng = random.Random(seed)
    cols: dict[str, list[str]] = {"user_id": [], "asset": [], "amount": []}
    for i in range(users):
        for asset in assets:
            if rng.random() < 0.35:
                continue  # not every user holds every asset (long format)
            base = rng.randrange(10 ** (asset.decimals + rng.randrange(0, 5)))
            whole, frac = divmod(base, 10**asset.decimals)
            cols["user_id"].append(f"user-{i:07d}")
            cols["asset"].append(asset.symbol)
            cols["amount"].append(
                f"{whole}.{frac:0{asset.decimals}d}" if asset.decimals else str(whole)
            )
    pq.write_table(pa.table(cols), path)


def run_demo(out_dir: Path, *, users: int, asset_count: int, seed: int) -> None:
    """Generate, build, prove a few users, verify each proof with ``por-verify``.

    Raises:
        VerificationError: a proof written by the demo does not verify.
    """
    assets = DEMO_ASSETS[: max(1, min(asset_count, len(DEMO_ASSETS)))]
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    snap = out_dir / "snapshot.parquet"
    assets_file = out_dir / "assets.json"
    assets_file.write_text(
        json.dumps([{"symbol": a.symbol, "decimals": a.decimals} for a in assets], indent=2) + "\n"
    )
    click.echo(f"1. synthetic exchange: {users} users, {len(assets)} assets -> {snap}")
    synthetic_snapshot(snap, users, assets, seed)
    # The served rounds directory holds one directory per round id; the round secret is
    # kept outside it (whoever gets the served files must not get every salt).
    rounds_dir = out_dir / "rounds"
    round_dir = rounds_dir / "demo-1"
    secret_path = out_dir / "secrets" / f"demo-1.{SECRET_FILE}"
    secret = create_secret(secret_path)
    result = build_tree(snap, assets, "demo-1", secret, round_dir)
    click.echo(
        f"2. built the tree in {result.seconds['total']:.2f} s: {result.summary.leaf_count}"
        f" leaves, root {result.summary.root_hash.hex()}"
    )
    proofs_dir = out_dir / "proofs"
    proofs_dir.mkdir()
    prover = Prover(round_dir, secret)
    picked = sorted(random.Random(seed).sample(range(users), min(3, users)))
    paths = []
    try:
        for i in picked:
            path = proofs_dir / f"user-{i:07d}.json"
            path.write_text(prover.prove(f"user-{i:07d}").to_json())
            paths.append(path)
    finally:
        prover.close()
    click.echo(f"3. wrote {len(paths)} user proofs to {proofs_dir}")
    root = result.summary.root_hash.hex()
    for path in paths:
        cmd = [sys.executable, "-m", "verifier", "proof", str(path), "--root", root]
        run = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
        if run.returncode != 0:
            raise VerificationError(f"por-verify rejected {path}: {run.stderr.strip()}")
        click.echo(f"4. por-verify proof {path.name} --root {root[:12]}..: VERIFIED")
    audit_cmd = [sys.executable, "-m", "verifier", "liabilities", str(round_dir)]
    audit = subprocess.run(  # noqa: S603 - our own verifier, fixed arguments
        audit_cmd,
        capture_output=True,
        text=True,
        check=False,
    )
    if audit.returncode != 0:
        raise VerificationError(f"por-verify liabilities failed: {audit.stderr.strip()}")
    click.echo(f"5. por-verify liabilities {round_dir}: VERIFIED (every node recomputed)")
    demo_chain = run_reserves_demo_chain(out_dir, round_dir, result.summary)
    reserves_path = demo_chain.reserves_path
    with serve_chain(demo_chain.chain) as rpc_url:
        published = run_attest_demo(out_dir, result.root_path, reserves_path, rpc_url)
    users_with_proofs = [f"user-{i:07d}" for i in picked]
    tokens = issue_tokens(round_dir, secret, users_with_proofs)
    tokens_csv = out_dir / "tokens.csv"
    write_token_csv(tokens_csv, tokens)
    click.echo(f"12. issued proof tokens to {len(tokens)} users ({tokens_csv}: for the "
               "account system only)")
    click.echo("\nWrote:")
    for label, path in (
        ("snapshot", snap),
        ("asset list", assets_file),
        ("root summary (public)", result.root_path),
        ("tree file (auditors only)", result.tree_path),
        ("round secret (private)", secret_path),
        ("user proofs", proofs_dir),
        ("reserves file (public)", reserves_path),
        ("published bundle (public)", published.bundle),
        ("store (SQLite)", out_dir / "por.db"),
        ("key list (public)", published.keylist),
    ):
        click.echo(f"  {label:<28} {path}")
    user, token = tokens[0]
    serve = ["por", "serve", "--db", published.db_url, "--rounds", str(rounds_dir.absolute()),
             "--keylist", str(published.keylist.absolute()),
             "--auditor-key", str(published.auditor_key.absolute())]
    click.echo("\nOpen the public page (attestation, charts, wallets, verify my proof):")
    click.echo(f"  {shlex.join(serve)}")
    click.echo("  then visit http://127.0.0.1:8000/")
    click.echo(f"  {user}'s own proof, verified in the browser: "
               f"http://127.0.0.1:8000/#token={token}")
