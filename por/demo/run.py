"""``por demo``: a plausible synthetic margin exchange taken through the whole flow for
several weekly rounds, ending with the command that serves the public page over what it
published.

The exchange owes its users ETH and ERC-20 tokens and holds them in three wallets on an
in-process EVM chain (:mod:`por.demo.reserves`). It lends: about one user in five has
borrowed against their holdings (debt in one asset, collateral in the others, within the
round's prices and haircuts, ``risk.json``), and some of them withdrew what they borrowed.
So each round is a margin round (spec §15) and its attestation sets each asset's reserves
against net liabilities, total equity − total debt (§13.6). The exchange keeps a margin of
reserves on every asset, except in the latest round, where a wave of deposits of one asset
is not yet matched in its wallets: that round is attested, truthfully, as under-reserved on
that asset, with its shortfall. Every round is built, attested, co-signed, published to the
log and checked by ``por-verify bundle`` with the reserves re-read over JSON-RPC.
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
from typing import Any

import click
import rfc8785

from por.demo.attest import AttestDemo
from por.demo.reserves import DemoReserves, serve_chain
from por.errors import VerificationError
from por.liabilities.build import SECRET_FILE
from por.liabilities.margin import margin_proof_text, run_margin_build
from por.liabilities.secret import create_secret
from por.liabilities.tokens import issue_tokens, write_token_csv
from verifier.attestation.model import Attestation, net_liability
from verifier.liabilities.mst import Asset, Position
from verifier.liabilities.proof import MarginInclusionProof, verify_margin_proof
from verifier.liabilities.risk import RiskParams, evaluate_rule
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
# Reserves the exchange keeps per asset, in thousandths of its net liabilities.
MARGIN_MILLI = {"ETH": 1120, "USDT": 1060, "USDC": 1040, "WBTC": 1090, "DAI": 1150,
                "LINK": 1100}
# The round's prices (USD per whole unit, first round; ETH and WBTC drift week to week) and
# Binance-style haircut tiers: (up to this collateral value in USD, percent counted).
PRICES = {"ETH": "3120.55", "USDT": "1", "USDC": "1", "WBTC": "67250.1", "DAI": "1",
          "LINK": "14.82"}
DRIFT_PER_ROUND = {"ETH": "35", "WBTC": "410"}  # USD added each week
TIERS = {
    "ETH": (("100000", 95), ("1000000", 85), ("10000000", 70)),
    "USDT": (("1000000", 100), ("10000000", 95)),
    "USDC": (("1000000", 100), ("10000000", 95)),
    "WBTC": (("100000", 95), ("1000000", 85), ("10000000", 70)),
    "DAI": (("1000000", 98), ("10000000", 90)),
    "LINK": (("50000", 80), ("500000", 60)),
}
VALUE_DECIMALS = 20  # value units of 10^-20 USD: prices with cents on 18-decimal assets
BORROWER_PERCENT = 20  # users who borrowed against their holdings
BORROWED_MILLI = (150, 600)  # what they borrowed, in thousandths of their haircut collateral
ROUNDS = 4
SHORT_ROUND = ROUNDS - 1  # the latest round: deposits of one asset outran its wallets
SHORT_ASSET = "WBTC"
SHORT_INFLOW_PERCENT = 112  # that asset's holdings grew by 12 % before the snapshot


@dataclass(frozen=True)
class DemoRound:
    """One published round of the demo."""

    round_id: str
    directory: Path
    secret: bytes
    attestation: Attestation
    tokens: list[tuple[str, str]]


def risk_params(assets: tuple[Asset, ...], round_index: int) -> RiskParams:
    """The round's risk file (spec §15.5): prices in USD, haircut tiers per asset."""
    items: list[Any] = []
    for a in assets:
        price = PRICES.get(a.symbol, "1")
        drift = int(DRIFT_PER_ROUND.get(a.symbol, "0")) * round_index
        whole, _, frac = price.partition(".")
        price = f"{int(whole) + drift}" + (f".{frac}" if frac else "")
        items.append({"symbol": a.symbol, "decimals": a.decimals, "price": price,
                      "tiers": [{"up_to": u, "ratio": r}
                                for u, r in TIERS.get(a.symbol, (("1000000", 90),))]})
    return RiskParams.from_json(rfc8785.dumps({
        "scheme": "por-risk", "version": 1, "quote": "USD", "value_decimals": VALUE_DECIMALS,
        "assets": items}))


def _base_positions(users: int, assets: tuple[Asset, ...], seed: int
                    ) -> tuple[list[list[Position]], list[int]]:
    """Each user's position in each asset in base units, and the borrowers' indexes.

    Holdings are pledged in full (collateral = equity). A borrower owes one asset worth a
    share of their haircut collateral at the first round's prices; half of them still hold
    what they borrowed (equity of that asset, not pledged), half withdrew it.
    """
    rng = random.Random(seed)
    risk = risk_params(assets, 0)
    out: list[list[Position]] = []
    borrowers = []
    for i in range(users):
        row = []
        for asset in assets:
            if rng.random() < 0.35:
                row.append(Position(0, 0, 0))  # not every user holds every asset
                continue
            milli = max(1, int(TYPICAL_MILLI.get(asset.symbol, 1000)
                               * rng.lognormvariate(0, 1.3)))
            held = milli * 10**asset.decimals // 1000
            row.append(Position(held, 0, held))
        if len(assets) > 1 and rng.randrange(100) < BORROWER_PERCENT:
            backing = evaluate_rule(risk, row).collateral_value
            owed = rng.choice([j for j in range(len(assets)) if row[j].equity == 0]
                              or range(len(assets)))
            value = backing * rng.randrange(*BORROWED_MILLI) // 1000
            amount = value // risk.assets[owed].price_units
            if amount > 0:
                p = row[owed]
                kept = amount if rng.random() < 0.5 else 0
                row[owed] = Position(p.equity + kept, amount, p.collateral)
                borrowers.append(i)
        out.append(row)
    return out, borrowers


def short_asset(assets: tuple[Asset, ...]) -> str:
    """The asset that falls short in the demo's short round."""
    symbols = [a.symbol for a in assets]
    return SHORT_ASSET if SHORT_ASSET in symbols else symbols[-1]


def _units(amount: int, decimals: int) -> str:
    whole, frac = divmod(amount, 10**decimals)
    return f"{whole}.{frac:0{decimals}d}" if decimals else str(whole)


def synthetic_snapshot(path: Path, positions: list[list[Position]], assets: tuple[Asset, ...],
                       round_index: int, seed: int, short: bool = False) -> None:
    """Write round ``round_index``'s margin snapshot (spec §15.11: ``user_id, asset, equity,
    debt, collateral`` in asset units): each position grows by about 2.5 % a round, with
    some noise per user and asset (equity, debt and collateral alike, so collateral never
    exceeds equity); in the ``short`` round, holdings of :func:`short_asset` jump 12 %."""
    rng = random.Random(seed * 1000 + round_index)
    lines = ["user_id,asset,equity,debt,collateral"]
    for i, row in enumerate(positions):
        for asset, p in zip(assets, row, strict=True):
            if p == Position(0, 0, 0):
                continue
            grow = 1000 + 25 * round_index + rng.randrange(-20, 21)
            equity, debt, collateral = (x * grow // 1000 for x in (p.equity, p.debt,
                                                                   p.collateral))
            if short and asset.symbol == short_asset(assets):
                equity = equity * SHORT_INFLOW_PERCENT // 100  # new deposits, not pledged
            lines.append(f"user-{i:07d},{asset.symbol},{_units(equity, asset.decimals)},"
                         f"{_units(debt, asset.decimals)},{_units(collateral, asset.decimals)}")
    path.write_text("\n".join(lines) + "\n")


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
             rounds: int = ROUNDS, private: bool = False) -> None:
    """Build, attest, publish and verify ``rounds`` weekly margin rounds (the latest one
    under-reserved on one asset); print how to serve them.

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
    positions, borrowers = _base_positions(users, assets, seed)
    click.echo(f"1. synthetic margin exchange {EXCHANGE!r}: {users} users, {len(borrowers)} "
               f"of them borrowing against their holdings, {len(assets)} assets "
               f"({', '.join(a.symbol for a in assets)}), {rounds} weekly rounds; reserves in "
               "3 wallets (EIP-191, EIP-712, EIP-1271 contract) on an in-process EVM chain")
    chain = DemoReserves(assets)
    attest = AttestDemo(out_dir, EXCHANGE)
    # The served rounds directory holds one directory per round id; snapshots and round
    # secrets are kept outside it (whoever gets the served files must not get every salt).
    rounds_dir = out_dir / "rounds"
    rng = random.Random(seed)
    # A borrower first (the link the demo prints opens a proof with a debt), then two others.
    first = [borrowers[0]] if borrowers else []
    others = [i for i in range(users) if i not in first]
    picked = first + sorted(rng.sample(others, min(3 - len(first), len(others))))
    users_with_proofs = [f"user-{i:07d}" for i in picked]
    published: list[DemoRound] = []
    for index, when in enumerate(_round_times(rounds)):
        round_id = when.strftime("%Y-%m-%d")
        work = out_dir / "snapshots"
        work.mkdir(exist_ok=True)
        snap = work / f"{round_id}.csv"
        synthetic_snapshot(snap, positions, assets, index, seed, short=index == rounds - 1)
        risk_file = work / f"{round_id}.risk.json"
        risk_file.write_bytes(risk_params(assets, index).canonical)
        secret_path = out_dir / "secrets" / f"{round_id}.{SECRET_FILE}"
        secret = create_secret(secret_path)
        directory = rounds_dir / round_id
        started = datetime.now(UTC)
        summary = run_margin_build(snap, assets_file, risk_file, round_id, directory, secret)
        seconds = (datetime.now(UTC) - started).total_seconds()
        targets = {a.symbol: -(-net_liability(total) * MARGIN_MILLI.get(a.symbol, 1100)
                               // 1000)
                   for a, total in zip(assets, summary.totals, strict=True)}
        if index == rounds - 1:
            targets.pop(short_asset(assets), None)  # the inflow is not in the wallets yet
        chain.top_up(targets)
        reserves = chain.publish(directory / "reserves.json",
                                 out_dir / "reserves-work" / round_id, summary, EXCHANGE)
        att = attest.attest(round_id, (directory / "root.json").read_bytes(),
                            reserves.read_bytes(), when, {"ethereum": chain.reader},
                            risk=(directory / "risk.json").read_bytes())
        tokens = issue_tokens(directory, secret, users_with_proofs)
        published.append(DemoRound(round_id, directory, secret, att, tokens))
        debt = sum(1 for t in summary.totals if t.debt)
        click.echo(f"2. round {round_id}: margin tree of {summary.leaf_count} leaves built in "
                   f"{seconds:.2f} s (debt in {debt} assets, every borrower covered); "
                   f"reserves read at block {att.reserves.chains[0].height}; signed, "
                   f"co-signed by the auditor, log entry {index}: {_verdict_line(att)}")
    latest = published[-1]
    proofs_dir = out_dir / "proofs"
    proofs_dir.mkdir()
    paths = []
    for user in users_with_proofs:
        path = proofs_dir / f"{user}.json"
        path.write_text(margin_proof_text(latest.directory, latest.secret, user))
        paths.append(path)
    root = latest.attestation.liabilities.root_hash.hex()
    # One proof through the command a user runs; the others through the same library.
    cmd = [sys.executable, "-m", "verifier", "proof", str(paths[0]), "--root", root]
    run = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
    if run.returncode != 0:
        raise VerificationError(f"por-verify rejected {paths[0]}: {run.stderr.strip()}")
    for path in paths[1:]:
        verify_margin_proof(MarginInclusionProof.from_json(path.read_bytes(), str(path)),
                            expected_root=bytes.fromhex(root))
    click.echo(f"3. {len(paths)} user proofs of round {latest.round_id} in {proofs_dir} "
               f"({paths[0].name} has borrowed): por-verify proof {paths[0].name} --root "
               f"{root[:12]}..: path and the user's own margin rule passed, exit 0")
    audit_cmd = [sys.executable, "-m", "verifier", "liabilities", str(latest.directory)]
    audit = subprocess.run(audit_cmd, capture_output=True, text=True, check=False)  # noqa: S603
    if audit.returncode != 0:
        raise VerificationError(f"por-verify liabilities failed: {audit.stderr.strip()}")
    click.echo(f"4. por-verify liabilities {latest.directory}: every node's equity, debt and "
               "collateral sums and every user's margin rule recomputed, passed")
    with serve_chain(chain.chain) as rpc_url:
        for r in published:
            attest.verify(r.round_id, rpc_url, paths[0] if r is latest else None)
    click.echo(f"5. por-verify bundle --rpc ethereum=http://127.0.0.1:PORT on each round in "
               f"order: passed, exit 0 (signatures, reserves against net liabilities, root, "
               f"risk file, log inclusion and consistency, every wallet re-read at its "
               f"snapshot block; round {latest.round_id} is reported UNDER-RESERVED on "
               f"{short_asset(assets)}, as the exchange itself states; the latest with "
               f"--proof {paths[0].name})")
    tokens_csv = out_dir / "tokens.csv"
    write_token_csv(tokens_csv, [t for r in published for t in r.tokens])
    click.echo(f"6. issued proof tokens to {len(users_with_proofs)} users in each round "
               f"({tokens_csv}: for the account system only)")
    if private:  # spec §16: a private round of the latest holdings, beside the margin rounds
        from por.demo.private import run_private_round

        private_id = f"{latest.round_id}-private"
        # Attested too (spec §13.7): an hour after the latest snapshot, so it is signed as
        # the latest round is published (never before the tree head a verifier last saw)
        # and published three hours after that snapshot, at the latest now; served beside
        # the others.
        run_private_round(out_dir, out_dir / "snapshots" / f"{latest.round_id}.csv", assets,
                          private_id, users_with_proofs, echo=click.echo,
                          attestation=(attest, chain, latest.attestation.snapshot_time
                                       + timedelta(hours=1)),
                          directory=rounds_dir / private_id)
    click.echo("\nWrote:")
    for label, path in (
        ("snapshots, risk files (private)", out_dir / "snapshots"),
        ("asset list", assets_file),
        ("rounds (public: root.json, risk.json, reserves.json; tree.bin, tokens for "
         "the server)",
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
