"""``por demo``: a plausible synthetic exchange taken through the whole flow for several
weekly rounds, ending with the command that serves the public page over what it published.

The exchange owes its users ETH and ERC-20 tokens and holds them in three wallets on an
in-process EVM chain (:mod:`por.demo.reserves`). It keeps a margin of reserves on every
asset, except in one round, where a wave of deposits of one asset is not yet matched in its
wallets: that round is attested, truthfully, as under-reserved on that asset, and the next
one is covered again. Every round is built, attested, co-signed, published to the log and
checked by ``por-verify bundle`` with the reserves re-read over JSON-RPC.
"""

from __future__ import annotations

import json
import random
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pyarrow as pa
import pyarrow.parquet as pq

from por.demo.attest import AttestDemo
from por.demo.reserves import DemoReserves, serve_chain
from por.errors import VerificationError
from por.liabilities.build import SECRET_FILE, build_tree
from por.liabilities.prove import Prover
from por.liabilities.secret import create_secret
from por.liabilities.tokens import issue_tokens, write_token_csv
from verifier.attestation.model import Attestation
from verifier.liabilities.mst import Asset
from verifier.liabilities.proof import InclusionProof, verify_proof
from verifier.liabilities.summary import format_units

EXCHANGE = "Demo Exchange"
DEMO_ASSETS = (
    Asset("ETH", 18),
    Asset("USDT", 6),
    Asset("USDC", 6),
    Asset("WBTC", 8),
    Asset("DAI", 18),
    Asset("LINK", 18),
)
# A typical user's holding, in thousandths of the asset's unit (the median of a wide spread).
TYPICAL_MILLI = {"ETH": 400, "USDT": 600_000, "USDC": 300_000, "WBTC": 20, "DAI": 150_000,
                 "LINK": 20_000}
# Reserves the exchange keeps per asset, in thousandths of what it owes.
MARGIN_MILLI = {"ETH": 1120, "USDT": 1060, "USDC": 1040, "WBTC": 1090, "DAI": 1150,
                "LINK": 1100}
ROUNDS = 4
SHORT_ROUND = 2  # the third round: deposits of one asset outran its wallets
SHORT_ASSET = "WBTC"
SHORT_INFLOW_PERCENT = 112  # that asset's liabilities grew by 12 % before the snapshot


@dataclass(frozen=True)
class DemoRound:
    """One published round of the demo."""

    round_id: str
    directory: Path
    secret: bytes
    attestation: Attestation
    tokens: list[tuple[str, str]]


def _base_holdings(users: int, assets: tuple[Asset, ...], seed: int
                   ) -> list[list[int | None]]:
    """Each user's holding of each asset in base units (None: does not hold it)."""
    rng = random.Random(seed)
    out: list[list[int | None]] = []
    for _ in range(users):
        row: list[int | None] = []
        for asset in assets:
            if rng.random() < 0.35:
                row.append(None)  # not every user holds every asset (long format)
                continue
            milli = max(1, int(TYPICAL_MILLI.get(asset.symbol, 1000)
                               * rng.lognormvariate(0, 1.3)))
            row.append(milli * 10**asset.decimals // 1000)
        out.append(row)
    return out


def short_asset(assets: tuple[Asset, ...]) -> str:
    """The asset that falls short in the demo's short round."""
    symbols = [a.symbol for a in assets]
    return SHORT_ASSET if SHORT_ASSET in symbols else symbols[-1]


def synthetic_snapshot(path: Path, holdings: list[list[int | None]], assets: tuple[Asset, ...],
                       round_index: int, seed: int) -> None:
    """Write round ``round_index``'s long-format Parquet snapshot with exact decimal strings:
    each holding grows by about 2.5 % a round, with some noise per user."""
    rng = random.Random(seed * 1000 + round_index)
    cols: dict[str, list[str]] = {"user_id": [], "asset": [], "amount": []}
    for i, row in enumerate(holdings):
        for asset, base in zip(assets, row, strict=True):
            if base is None:
                continue
            amount = base * (1000 + 25 * round_index + rng.randrange(-20, 21)) // 1000
            if round_index == SHORT_ROUND and asset.symbol == short_asset(assets):
                amount = amount * SHORT_INFLOW_PERCENT // 100
            whole, frac = divmod(amount, 10**asset.decimals)
            cols["user_id"].append(f"user-{i:07d}")
            cols["asset"].append(asset.symbol)
            cols["amount"].append(
                f"{whole}.{frac:0{asset.decimals}d}" if asset.decimals else str(whole))
    pq.write_table(pa.table(cols), path)


def _round_times(count: int) -> list[datetime]:
    """Weekly snapshot times ending three hours ago (signing and publishing follow each
    snapshot within two hours, so every time the verifier sees is in the past)."""
    last = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    return [last - timedelta(weeks=count - 1 - i) for i in range(count)]


def _verdict_line(att: Attestation) -> str:
    short = [s for s in att.solvency if s.shortfall]
    if not short:
        return f"covered: {len(att.solvency)} of {len(att.solvency)} assets"
    return "UNDER-RESERVED: " + "; ".join(
        f"{s.symbol} short {format_units(s.shortfall, s.decimals)} (ratio {s.ratio})"
        for s in short)


def run_demo(out_dir: Path, *, users: int, asset_count: int, seed: int,
             rounds: int = ROUNDS) -> None:
    """Build, attest, publish and verify ``rounds`` weekly rounds; print how to serve them.

    Raises:
        VerificationError: a proof, tree or bundle written by the demo does not verify.
    """
    assets = DEMO_ASSETS[: max(1, min(asset_count, len(DEMO_ASSETS)))]
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    assets_file = out_dir / "assets.json"
    assets_file.write_text(
        json.dumps([{"symbol": a.symbol, "decimals": a.decimals} for a in assets], indent=2) + "\n"
    )
    click.echo(f"1. synthetic exchange {EXCHANGE!r}: {users} users, {len(assets)} assets "
               f"({', '.join(a.symbol for a in assets)}), {rounds} weekly rounds; reserves in "
               "3 wallets (EIP-191, EIP-712, EIP-1271 contract) on an in-process EVM chain")
    holdings = _base_holdings(users, assets, seed)
    chain = DemoReserves(assets)
    attest = AttestDemo(out_dir, EXCHANGE)
    # The served rounds directory holds one directory per round id; snapshots and round
    # secrets are kept outside it (whoever gets the served files must not get every salt).
    rounds_dir = out_dir / "rounds"
    picked = sorted(random.Random(seed).sample(range(users), min(3, users)))
    users_with_proofs = [f"user-{i:07d}" for i in picked]
    published: list[DemoRound] = []
    for index, when in enumerate(_round_times(rounds)):
        round_id = when.strftime("%Y-%m-%d")
        snap = out_dir / "snapshots" / f"{round_id}.parquet"
        snap.parent.mkdir(exist_ok=True)
        synthetic_snapshot(snap, holdings, assets, index, seed)
        secret_path = out_dir / "secrets" / f"{round_id}.{SECRET_FILE}"
        secret = create_secret(secret_path)
        directory = rounds_dir / round_id
        result = build_tree(snap, assets, round_id, secret, directory)
        summary = result.summary
        targets = {a.symbol: -(-total * MARGIN_MILLI.get(a.symbol, 1100) // 1000)
                   for a, total in zip(assets, summary.totals, strict=True)}
        if index == SHORT_ROUND:
            targets.pop(short_asset(assets), None)  # the inflow is not in the wallets yet
        chain.top_up(targets)
        reserves = chain.publish(directory / "reserves.json",
                                 out_dir / "reserves-work" / round_id, summary, EXCHANGE)
        att = attest.attest(round_id, result.root_path.read_bytes(), reserves.read_bytes(),
                            when, {"ethereum": chain.reader})
        tokens = issue_tokens(directory, secret, users_with_proofs)
        published.append(DemoRound(round_id, directory, secret, att, tokens))
        click.echo(f"2. round {round_id}: tree of {summary.leaf_count} leaves built in "
                   f"{result.seconds['total']:.2f} s; reserves read at block "
                   f"{att.reserves.chains[0].height}; signed, co-signed by the auditor, log "
                   f"entry {index}: {_verdict_line(att)}")
    latest = published[-1]
    proofs_dir = out_dir / "proofs"
    proofs_dir.mkdir()
    prover = Prover(latest.directory, latest.secret)
    paths = []
    try:
        for user in users_with_proofs:
            path = proofs_dir / f"{user}.json"
            path.write_text(prover.prove(user).to_json())
            paths.append(path)
    finally:
        prover.close()
    root = latest.attestation.liabilities.root_hash.hex()
    # One proof through the command a user runs; the others through the same library.
    cmd = [sys.executable, "-m", "verifier", "proof", str(paths[0]), "--root", root]
    run = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
    if run.returncode != 0:
        raise VerificationError(f"por-verify rejected {paths[0]}: {run.stderr.strip()}")
    for path in paths[1:]:
        verify_proof(InclusionProof.from_json(path.read_bytes(), str(path)),
                     expected_root=bytes.fromhex(root))
    click.echo(f"3. {len(paths)} user proofs of round {latest.round_id} in {proofs_dir}: "
               f"por-verify proof {paths[0].name} --root {root[:12]}..: passed, exit 0")
    audit_cmd = [sys.executable, "-m", "verifier", "liabilities", str(latest.directory)]
    audit = subprocess.run(audit_cmd, capture_output=True, text=True, check=False)  # noqa: S603
    if audit.returncode != 0:
        raise VerificationError(f"por-verify liabilities failed: {audit.stderr.strip()}")
    click.echo(f"4. por-verify liabilities {latest.directory}: every node recomputed, passed")
    with serve_chain(chain.chain) as rpc_url:
        for r in published:
            attest.verify(r.round_id, rpc_url, paths[0] if r is latest else None)
    click.echo(f"5. por-verify bundle --rpc ethereum=http://127.0.0.1:PORT on each round in "
               f"order: passed, exit 0 (signatures, figures, root, log inclusion and "
               f"consistency, every wallet re-read at its snapshot block; round "
               f"{published[SHORT_ROUND].round_id if len(published) > SHORT_ROUND else '-'} "
               "is reported UNDER-RESERVED, as the exchange itself states; the latest with "
               f"--proof {paths[0].name})")
    tokens_csv = out_dir / "tokens.csv"
    write_token_csv(tokens_csv, [t for r in published for t in r.tokens])
    click.echo(f"6. issued proof tokens to {len(users_with_proofs)} users in each round "
               f"({tokens_csv}: for the account system only)")
    click.echo("\nWrote:")
    for label, path in (
        ("snapshots (private)", out_dir / "snapshots"),
        ("asset list", assets_file),
        ("rounds (public: root.json, reserves.json; tree.bin, tokens for the server)",
         rounds_dir),
        ("round secrets (private)", out_dir / "secrets"),
        ("user proofs", proofs_dir),
        ("published bundles (public)", out_dir / "bundles"),
        ("store (SQLite)", out_dir / "por.db"),
        ("key list (public)", attest.keylist_path),
    ):
        click.echo(f"  {label:<28} {path}")
    user, token = latest.tokens[0]
    serve = ["por", "serve", "--db", attest.db_url, "--rounds", str(rounds_dir.absolute()),
             "--keylist", str(attest.keylist_path.absolute()),
             "--auditor-key", str(attest.auditor_pub.absolute())]
    click.echo("\nOpen the public page (verdict per round, charts, wallets, verify my proof):")
    click.echo(f"  {shlex.join(serve)}")
    click.echo("  then visit http://127.0.0.1:8000/")
    click.echo(f"  {user}'s own proof, verified in the browser as the page opens: "
               f"http://127.0.0.1:8000/#token={token}")
