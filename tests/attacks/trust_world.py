"""Histories for the trust attacks (issue 10): an exchange's honest log and the forgeries
of someone who holds one of its keys, built with the project's own signing and publishing
functions (real trees, a real SQLite store; the reserves are read on an in-process EVM).

Times are relative to the real clock at import, so the verifier's default "now" sees them
as recent; the tests never assert on elapsed time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from attest_helpers import World
from click.testing import CliRunner

from por.attest.publish import publish_round
from por.attest.rounds import new_round, sign_round
from por.keys import SigningKey
from por.store.db import open_store
from verifier.cli import main as verify_main

NOW = datetime.now(UTC).replace(microsecond=0)


def publish_history(tmp: Path, w: World, name: str, rounds: list[str], key: SigningKey,
                    keylist: bytes, start: datetime, *, log_name: str | None = None,
                    exchange: str = "Example Exchange") -> list[Path]:
    """Sign and publish ``rounds`` in order into the store ``name`` (created on first use,
    appended to after), one day apart from ``start``; return the bundle directories."""
    engine = open_store(f"sqlite:///{tmp / (name + '.db')}")
    bundles = []
    for day, round_id in enumerate(rounds):
        files = w.rounds[round_id]
        moment = start + timedelta(days=day)
        new_round(engine, round_id, exchange, moment - timedelta(hours=1))
        sign_round(engine, round_id, files["root"].read_bytes(),
                   files["reserves"].read_bytes(), key, readers=None, now=moment)
        out = tmp / f"{name}-{round_id}"
        publish_round(engine, round_id, key, keylist, out, log_name=log_name,
                      now=moment + timedelta(minutes=5))
        bundles.append(out)
    engine.dispose()
    return bundles


def verify(bundle: Path, state: Path, *extra: str) -> tuple[int, str]:
    """``por-verify bundle`` as a user runs it: no node (--skip-chain), one state file."""
    result = CliRunner().invoke(verify_main, ["bundle", str(bundle), "--skip-chain",
                                              "--state", str(state), *extra])
    return result.exit_code, result.output
