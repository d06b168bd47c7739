"""Witnesses' co-signatures kept in the store reach every bundle written from it and the
page's headline; each round is judged as of its tree head, and a separate freshness line
says what ``por-verify bundle`` with the real clock says of the log's latest head. Against a
real store (SQLite and PostgreSQL) and real published rounds."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from api_fixtures import *  # noqa: F403 (world, client, and the store fixtures)
from api_world import ROUNDS, World
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import Settings, create_app, freshness_line
from api.source import freshness
from por.attest.publish import publish_round
from por.cli import main as por_main
from por.errors import InputError
from por.keys import SigningKey
from por.log import appender
from por.log.witness_files import store_cosignatures
from verifier.attestation.bundle import BundleOptions, read_bundle, verify_bundle
from verifier.cli import main as verify_main
from verifier.encoding.canonical import format_time
from verifier.log.sth import SignedTreeHead
from verifier.log.trust import DEFAULT_MAX_AGE
from verifier.log.witness import sign_cosignature
from verifier.signed.keylist import KeyList

LATEST = ROUNDS[-1]


class Witness:
    def __init__(self, label: str, base: Path) -> None:
        self.private = Ed25519PrivateKey.generate()
        self.public = SigningKey(self.private, label).public
        self.key_file = base / f"{label.replace(' ', '-')}.pub.json"
        self.key_file.write_text(json.dumps(self.public.to_dict()))

    def cosign(self, head: SignedTreeHead, out: Path) -> Path:
        out.write_text(sign_cosignature(self.private, head,
                                        head.head.timestamp + timedelta(minutes=1)).to_json())
        return out


def _head(world: World, round_id: str) -> SignedTreeHead:
    return SignedTreeHead.from_json((world.bundles[round_id] / "tree-head.json").read_bytes())


def _cosign_all(world: World, store: Engine, witnesses: list[Witness], tmp: Path) -> None:
    files = [w.cosign(_head(world, r), tmp / f"{i}-{r}.json")
             for i, w in enumerate(witnesses) for r in ROUNDS]
    store_cosignatures(store, files)


def _client(world: World, store: Engine, witnesses: list[Witness],
            quorum: int | None = None) -> TestClient:
    return TestClient(create_app(Settings(
        database_url=store.url.render_as_string(hide_password=False),
        rounds_dir=world.rounds_dir, keylist=world.keylist,
        auditor_keys=(world.auditor_key_file,) if world.auditor_key_file else (),
        proof_rate_per_minute=0,
        witness_keys=tuple(w.key_file for w in witnesses), witness_quorum=quorum)))


def _line(round_out: dict, name: str) -> dict:
    return next(c for c in round_out["headline"]["checks"] if c["name"] == name)


def test_stored_cosignatures_survive_republishing_and_reach_the_page(
        world: World, store: Engine, tmp_path: Path) -> None:
    witnesses = [Witness("Witness A", tmp_path), Witness("Witness B", tmp_path)]
    with _client(world, store, witnesses) as c:  # before: none stored, the quorum fails
        before = c.get(f"/api/v1/rounds/{LATEST}").json()
    assert _line(before, "Witnesses")["status"] == "fail"
    assert before["headline"]["state"] == "failed"

    _cosign_all(world, store, witnesses, tmp_path)
    # Re-running por publish rewrites the bundle from the store: witnesses/ is kept.
    bundle = world.bundles[LATEST]
    publish_round(store, LATEST, world.exchange_key, world.keylist.read_bytes(), bundle)
    names = sorted(p.name for p in (bundle / "witnesses").iterdir())
    assert names == sorted(f"{w.public.key_id}.json" for w in witnesses)

    with _client(world, store, witnesses) as c:
        out = c.get(f"/api/v1/rounds/{LATEST}").json()
        zipped = c.get(f"/api/v1/rounds/{LATEST}/bundle")
    line = _line(out, "Witnesses")
    assert line["status"] == "ok", line
    assert line["text"].startswith("co-signed by 2 of 2 known witnesses")
    assert "Witness A" in line["text"] and "Witness B" in line["text"]
    assert out["attestation"]["verdict"] == "verified"
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as z:
        served = {n.removeprefix(f"{LATEST}/"): z.read(n) for n in z.namelist()}
    assert served == read_bundle(bundle)  # the download is the bundle publish wrote


def test_a_quorum_not_met_fails_the_round(world: World, store: Engine, tmp_path: Path) -> None:
    a, b = Witness("Witness A", tmp_path), Witness("Witness B", tmp_path)
    _cosign_all(world, store, [a], tmp_path)  # only A co-signed
    with _client(world, store, [a, b]) as c:
        out = c.get(f"/api/v1/rounds/{LATEST}").json()
    assert out["headline"]["state"] == "failed"
    assert _line(out, "Witnesses")["status"] == "fail"
    assert "witness-quorum" in {f["code"] for f in out["attestation"]["findings"]}
    with _client(world, store, [a, b], quorum=1) as c:
        out = c.get(f"/api/v1/rounds/{LATEST}").json()
    assert out["attestation"]["verdict"] == "verified"
    assert _line(out, "Witnesses")["text"].startswith("co-signed by 1 of 2 known witnesses")


def test_a_cosignature_of_another_head_is_refused_and_nothing_stored(
        world: World, store: Engine, tmp_path: Path) -> None:
    a = Witness("Witness A", tmp_path)
    good = a.cosign(_head(world, LATEST), tmp_path / "good.json")
    # A head of the same log key the log never stored (another root: a fork).
    head = _head(world, LATEST).head
    forged = world.exchange_key.sign_document({**head.to_dict(), "root_hash": "ab" * 32})
    fork = a.cosign(SignedTreeHead.from_json(forged.to_json()), tmp_path / "fork.json")
    with pytest.raises(InputError, match="never signed"):
        store_cosignatures(store, [good, fork])
    bundle = world.bundles[LATEST]
    publish_round(store, LATEST, world.exchange_key, world.keylist.read_bytes(), bundle)
    assert not (bundle / "witnesses").exists()
    url = store.url.render_as_string(hide_password=False)
    if store.url.password is None:  # the CLI refuses a password on argv
        result = CliRunner().invoke(por_main, ["witness", "add", "--db", url, str(fork)])
        assert result.exit_code != 0 and "never signed" in result.output
        result = CliRunner().invoke(por_main, ["witness", "add", "--db", url, str(good)])
        assert result.exit_code == 0, result.output
        assert "size 2" in result.output


def test_latest_verdict_and_freshness_equal_por_verify(world: World, store: Engine,
                                                       client: TestClient) -> None:
    out = client.get(f"/api/v1/rounds/{LATEST}").json()
    head = _head(world, LATEST)
    keys = KeyList.from_json(world.keylist.read_bytes())
    when = format_time(head.head.timestamp)
    assert out["headline"]["as_of"] == when
    assert f"as of its tree head {when}" in out["headline"]["summary"]

    def por_verify(*extra: str) -> dict:
        result = CliRunner().invoke(verify_main, [
            "bundle", str(world.bundles[LATEST]), "--skip-chain", "--json",
            "--auditor-key", str(world.auditor_key_file), "--pin", keys.identity,
            "--state", str(world.rounds_dir.parent / f"state-{len(extra)}.json"), *extra])
        return json.loads(result.output)  # type: ignore[no-any-return]

    at_head = por_verify("--now", when)
    assert (at_head["verdict"] == "VERIFIED") == (out["attestation"]["verdict"] == "verified")
    assert [f["code"] for f in at_head["findings"]] == [
        f["code"] for f in out["attestation"]["findings"]]
    assert at_head["passed"] == out["attestation"]["passed"]

    clock = por_verify()  # the real clock: stale, or not, exactly as the freshness line
    stale = "stale" in {f["code"] for f in clock["findings"]}
    line = out["headline"]["freshness"]
    assert line["status"] == ("fail" if stale else "ok"), (line, clock["findings"])
    latest = appender.latest_tree_head(store)
    assert latest is not None and latest.signed.payload == head.signed.payload


@pytest.mark.parametrize("days", [0, 34, 35, 36, 400])
def test_freshness_is_the_verifiers_stale_rule(world: World, store: Engine, days: int) -> None:
    head = _head(world, LATEST)
    now = head.head.timestamp + timedelta(days=days, seconds=1 if days == 35 else 0)
    files = read_bundle(world.bundles[LATEST])
    keys = KeyList.from_json(files["keylist.json"])
    report = verify_bundle(files, BundleOptions.choose(
        skip_chain=True, pinned_key_id=keys.identity, now=now,
        auditors=()))
    stale = "stale" in {f.code for f in report.findings}
    fresh = freshness(head, now)
    assert fresh.ok == (not stale)
    line = freshness_line(fresh)
    assert line.status == ("fail" if stale else "ok")
    if stale:
        assert (f"the exchange has not published a fresh signed log head for {days} days"
                in line.text)
    assert fresh.max_age == DEFAULT_MAX_AGE
    assert isinstance(fresh.now, datetime)
