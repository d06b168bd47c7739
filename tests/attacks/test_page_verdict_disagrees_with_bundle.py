"""Attack: the page says VERIFIED where ``por-verify bundle`` fails (or the reverse), because
the server checked with rules of its own. Defence, one check path: the page, the API and
``por-verify bundle`` give the same verdict and the same finding codes on every bundle
mutation of the bundle test set (tests/bundle/test_bundle.py: an edited figure with the old
signatures or re-signed, an edited counted figure, an edited reserves file, a forged,
missing or stranger's signature, a missing auditor co-signature, a false claim of solvency,
an attestation that is not the log's entry, a split-view tree head, files of two rounds
mixed), plus a few more (a missing previous attestation, a key list of another exchange, an
unparseable attestation).

Each mutated bundle goes through ``por-verify bundle --skip-chain --json --auditor-key`` and
through the server: the store cannot hold most of these bundles (an attestation that is not
its own log's entry, a tree head the log never signed), so the mutated bundle stands in for
the one the server builds from its store (the one substitution: ``Publication.bundle``);
the check, the API's answer and the page are the server's own. A mutation the store can hold
(a forged signature) goes through the store itself, and the bundle the API serves is
downloaded and given to ``por-verify bundle``. The verifier's memory of tree heads (mutations
that need a remembered head) has no counterpart on the server, whose memory is no evidence.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
import shutil
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import rfc8785

sys.path.insert(0, str(Path(__file__).parents[1] / "api"))
from api_world import EXCHANGE, World, build_world
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from api.app import Settings, create_app
from api.source import Publication
from por.keys import SigningKey, new_key_list
from por.store.db import open_store
from por.store.models import AttestationSignature
from verifier.attestation.bundle import (
    ATTESTATION_FILE,
    KEYLIST_FILE,
    PREVIOUS_ATTESTATION_FILE,
    RESERVES_FILE,
    TREE_HEAD_FILE,
    read_bundle,
)
from verifier.cli import main as verify_main
from verifier.encoding.canonical import format_time
from verifier.errors import PorError
from verifier.log.sth import SignedTreeHead, TreeHead
from verifier.signed.envelope import Signature, SignedDocument
from verifier.signed.keylist import KeyList

ROUND = "2026-11"  # the latest round: under-reserved on BTC, with a previous log entry
Mutation = Callable[[Path, World], None]


def _rewrite(change: Callable[[SignedDocument, dict[str, Any], World],
                              SignedDocument | dict[str, Any]]) -> Mutation:
    """A mutation of the attestation envelope (a new payload keeps the old signatures)."""
    def apply(bundle: Path, w: World) -> None:
        doc = SignedDocument.from_json((bundle / ATTESTATION_FILE).read_bytes())
        result = change(doc, json.loads(doc.payload), w)
        if isinstance(result, dict):
            result = SignedDocument(rfc8785.dumps(result), result, doc.signatures)
        (bundle / ATTESTATION_FILE).write_text(result.to_json())
    return apply


def _more_eth(p: dict[str, Any]) -> dict[str, Any]:
    eth = next(s for s in p["solvency"] if s["symbol"] == "ETH")
    eth["reserves"] = str(int(eth["reserves"]) * 2)
    return p


def _counted(p: dict[str, Any]) -> dict[str, Any]:
    p["reserves"]["assets"][0]["counted"] = "1"
    return p


def _solvent(p: dict[str, Any]) -> dict[str, Any]:
    btc = next(s for s in p["solvency"] if s["symbol"] == "BTC")
    btc.update(status="covered", shortfall="0")
    p["all_covered"] = True
    return p


def _later(p: dict[str, Any]) -> dict[str, Any]:
    p["attested_at"] = p["attested_at"].replace("T12:", "T13:")
    return p


def _forge(doc: SignedDocument, _p: dict[str, Any], _w: World) -> SignedDocument:
    first = doc.signatures[0]
    bad = bytes([first.signature[0] ^ 1]) + first.signature[1:]
    return SignedDocument(doc.payload, doc.document, (Signature(first.key_id, bad),
                                                      *doc.signatures[1:]))


def _drop(index: int) -> Callable[[SignedDocument, dict[str, Any], World], SignedDocument]:
    def change(doc: SignedDocument, _p: dict[str, Any], _w: World) -> SignedDocument:
        return SignedDocument(doc.payload, doc.document,
                              tuple(s for i, s in enumerate(doc.signatures) if i != index))
    return change


def _stranger(_d: SignedDocument, p: dict[str, Any], _w: World) -> SignedDocument:
    stranger = SigningKey.generate("Stranger")
    p["key_id"] = stranger.public.key_id
    return stranger.sign_document(p)


def _reserves_file(bundle: Path, _w: World) -> None:
    doc = json.loads((bundle / RESERVES_FILE).read_text())
    doc["wallets"][0]["balances"][0]["amount"] = str(
        int(doc["wallets"][0]["balances"][0]["amount"]) + 10**18)
    doc["totals"][1] = str(int(doc["totals"][1]) + 10**18)
    (bundle / RESERVES_FILE).write_text(json.dumps(doc, indent=2) + "\n")


def _split_view(bundle: Path, w: World) -> None:
    head = SignedTreeHead.from_json((bundle / TREE_HEAD_FILE).read_bytes()).head
    fork = TreeHead(head.log, head.tree_size, bytes(32), head.timestamp, head.key_id)
    (bundle / TREE_HEAD_FILE).write_text(w.exchange_key.sign_document(fork.to_dict()).to_json())


def _mixed(bundle: Path, w: World) -> None:
    other = w.bundles["2026-10"]
    for name in (ATTESTATION_FILE, "inclusion-proof.json", TREE_HEAD_FILE):
        shutil.copy(other / name, bundle / name)


def _no_previous(bundle: Path, _w: World) -> None:
    (bundle / PREVIOUS_ATTESTATION_FILE).unlink()


def _other_exchange_keys(bundle: Path, w: World) -> None:
    (bundle / KEYLIST_FILE).write_text(new_key_list("Other Exchange",
                                                    w.exchange_key.public).to_json())


def _unparseable(bundle: Path, _w: World) -> None:
    text = (bundle / ATTESTATION_FILE).read_text()
    (bundle / ATTESTATION_FILE).write_text(text[: len(text) // 2])


MUTATIONS: dict[str, Mutation] = {
    "honest": lambda _b, _w: None,
    "edited-figure": _rewrite(lambda _d, p, _w: _more_eth(p)),
    "edited-figure-resigned": _rewrite(lambda _d, p, w: w.exchange_key.sign_document(
        _more_eth(p))),
    "edited-counted-resigned": _rewrite(lambda _d, p, w: w.exchange_key.sign_document(
        _counted(p))),
    "edited-reserves-file": _reserves_file,
    "forged-signature": _rewrite(_forge),
    "no-exchange-signature": _rewrite(_drop(0)),
    "no-auditor-signature": _rewrite(_drop(1)),
    "stranger-key": _rewrite(_stranger),
    "false-solvency": _rewrite(lambda _d, p, w: w.exchange_key.sign_document(_solvent(p))),
    "not-the-log-entry": _rewrite(lambda _d, p, w: w.exchange_key.sign_document(_later(p))),
    "split-view-head": _split_view,
    "mixed-rounds": _mixed,
    "previous-missing": _no_previous,
    "keylist-of-another-exchange": _other_exchange_keys,
    "unparseable-attestation": _unparseable,
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, str]:
    base = tmp_path_factory.mktemp("agreement")
    url = f"sqlite:///{base / 'por.db'}"
    engine = open_store(url)
    w = build_world(base, engine)
    engine.dispose()
    return w, url


def _cli(bundle: Path, w: World, state: Path) -> tuple[str, list[str]]:
    """``por-verify bundle --skip-chain`` with the auditor key the server was given, the
    bundle's key list pinned and the time of its tree head as now: what the server's check
    is (api/source.py ``check_bundle``; docs/api.md)."""
    assert w.auditor_key_file is not None
    anchor: list[str] = []
    # Not well formed: por-verify bundle exits 2 whatever the options.
    with contextlib.suppress(PorError):
        anchor = ["--pin", KeyList.from_json((bundle / "keylist.json").read_bytes()).identity,
                  "--now", format_time(SignedTreeHead.from_json(
                      (bundle / "tree-head.json").read_bytes()).head.timestamp)]
    res = CliRunner().invoke(verify_main, [
        "bundle", str(bundle), "--skip-chain", "--json", "--auditor-key",
        str(w.auditor_key_file), "--state", str(state), *anchor])
    if res.exit_code == 2:
        return "malformed", ["malformed"]
    assert res.exit_code in (0, 1), res.output
    report = json.loads(res.output)
    return ("verified" if res.exit_code == 0 else "failed",
            sorted(f["code"] for f in report["findings"]))


def _server(client: TestClient) -> tuple[tuple[str, list[str]], tuple[str, list[str]]]:
    """The API's and the page's verdict and finding codes for the round."""
    signed = client.get(f"/api/v1/rounds/{ROUND}").json()["attestation"]
    api = (signed["verdict"], sorted(f["code"] for f in signed["findings"]))
    html = client.get(f"/rounds/{ROUND}").text
    verdict = re.search(r'<section id="verdict"[^>]*data-verdict="([a-z-]+)"', html, re.DOTALL)
    assert verdict is not None
    findings = html.split('id="attestation-findings"', 1)
    codes = re.findall(r'<li data-code="([a-z:-]+)">', findings[1]) if len(findings) > 1 else []
    return api, (verdict.group(1), sorted(codes))


def _settings(w: World, url: str) -> Settings:
    assert w.auditor_key_file is not None
    return Settings(database_url=url, rounds_dir=w.rounds_dir, keylist=w.keylist,
                    auditor_keys=(w.auditor_key_file,), proof_rate_per_minute=0)


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_page_api_and_por_verify_agree(name: str, world: tuple[World, str], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    w, url = world
    bundle = tmp_path / "bundle"
    shutil.copytree(w.bundles[ROUND], bundle)
    MUTATIONS[name](bundle, w)
    cli = _cli(bundle, w, tmp_path / "state.json")
    served = read_bundle(bundle) if name != "unparseable-attestation" else {
        **read_bundle(w.bundles[ROUND]), ATTESTATION_FILE: (bundle / ATTESTATION_FILE).read_bytes()}
    monkeypatch.setattr(Publication, "bundle", lambda _self, _round: dict(served))
    with TestClient(create_app(_settings(w, url))) as client:
        api, page = _server(client)
    assert api == cli, (name, api, cli)
    assert page == cli, (name, page, cli)
    if name == "honest":
        assert cli == ("verified", [])
    else:
        assert cli[0] != "verified", name  # every mutation is caught, by both


def test_a_forged_signature_in_the_store_agrees_with_the_downloaded_bundle(
    world: tuple[World, str], tmp_path: Path
) -> None:
    w, url = world
    copy = tmp_path / "por.db"
    shutil.copy(url.removeprefix("sqlite:///"), copy)
    engine = open_store(f"sqlite:///{copy}")
    with Session(engine) as session:
        row = session.exec(select(AttestationSignature).where(
            AttestationSignature.key_id == w.exchange_key.public.key_id).order_by(
            col(AttestationSignature.id).desc())).first()
        assert row is not None
        row.signature = bytes([row.signature[0] ^ 1]) + row.signature[1:]
        session.add(row)
        session.commit()
    engine.dispose()
    with TestClient(create_app(_settings(w, f"sqlite:///{copy}"))) as client:
        api, page = _server(client)
        data = client.get(f"/api/v1/rounds/{ROUND}/bundle").content
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        z.extractall(tmp_path / "download")
    cli = _cli(tmp_path / "download" / ROUND, w, tmp_path / "state.json")
    assert cli == api == page
    assert cli[0] == "failed" and set(cli[1]) == {"signature"}
    assert EXCHANGE in base64.b64decode(json.loads(
        (tmp_path / "download" / ROUND / ATTESTATION_FILE).read_text())["payload"]).decode()
