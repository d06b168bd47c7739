"""The JSON API against a real store (SQLite and PostgreSQL) and real published rounds:
exact bytes where files are served, exact figures, proofs that verify, signatures and log
proofs that the verifier accepts, and nothing private in any answer."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from api_fixtures import *  # noqa: F403 (world, client, and the store fixtures)
from api_world import EXCHANGE, ROUNDS, World
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session, col

from por.store.models import AttestationSignature, RoundFile
from verifier.cli import main as verify_main
from verifier.liabilities.proof import InclusionProof as UserProof
from verifier.liabilities.proof import verify_proof
from verifier.liabilities.summary import RootSummary
from verifier.log.sth import ConsistencyProof, InclusionProof, SignedTreeHead, check_extends
from verifier.signed.envelope import SignedDocument
from verifier.signed.keylist import KeyList

FORBIDDEN_KEYS = {"salt", "secret", "round_secret", "id", "attestation_id", "private_key"}


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_rounds_newest_first_with_exact_solvency(client: TestClient, world: World) -> None:
    body = client.get("/api/v1/rounds").json()
    assert [r["round"] for r in body["rounds"]] == list(reversed(ROUNDS))
    latest = body["rounds"][0]
    assert latest["exchange"] == EXCHANGE
    btc, eth = latest["solvency"]
    owed_btc, _ = world.rounds["2026-11"].summary.totals
    held_btc = owed_btc * 9 // 10
    assert btc["liabilities"] == str(owed_btc) and btc["reserves"] == str(held_btc)
    assert btc["shortfall"] == str(owed_btc - held_btc) and btc["surplus"] == "0"
    assert btc["ratio"] == "0.900000" and btc["status"] == "under-reserved"
    assert eth["surplus"] == str(10**18) and eth["shortfall"] == "0"
    assert eth["ratio"].startswith("1.0") and eth["status"] == "covered"
    assert [s["chain"] for s in latest["snapshots"]] == ["bitcoin", "ethereum"]
    for r in body["rounds"]:
        assert r["attestation_published"] is True
        # Signed by the exchange and co-signed by the auditor.
        assert r["cosigners"] == [world.auditor_key.public.key_id]
    assert not _keys(body) & FORBIDDEN_KEYS


def test_rounds_carry_the_attestation_as_signed(client: TestClient, world: World) -> None:
    latest, first = client.get("/api/v1/rounds").json()["rounds"]
    signed = latest["attestation"]
    payload = json.loads(world.attestation_payloads["2026-11"])
    # Every figure is the payload's own, not a recomputation.
    assert signed["solvency"] == payload["solvency"]
    assert signed["all_covered"] is False and payload["all_covered"] is False
    assert signed["snapshot_time"] == payload["snapshot_time"] == "2026-11-01T11:00:00Z"
    assert signed["liabilities_root"] == world.rounds["2026-11"].summary.root_hash.hex()
    assert signed["previous_attestation"] == hashlib.sha256(
        world.attestation_payloads["2026-10"]).hexdigest()
    assert first["attestation"]["previous_attestation"] is None
    assert signed["key_id"] == world.exchange_key.public.key_id
    assert [(s["role"], s["label"], s["check"]) for s in signed["signers"]] == [
        ("exchange", EXCHANGE, "verified"), ("auditor", "Example Auditor", "verified")]
    assert (signed["verdict"], signed["findings"]) == ("verified", [])
    assert signed["log_index"] == 1 and first["attestation"]["log_index"] == 0


def test_files_are_served_as_their_exact_bytes(client: TestClient, world: World) -> None:
    for round_id, published in world.rounds.items():
        root = client.get(f"/api/v1/rounds/{round_id}/liabilities-root")
        assert root.content == (published.directory / "root.json").read_bytes()
        assert RootSummary.from_json(root.content) == published.summary
        reserves = client.get(f"/api/v1/rounds/{round_id}/reserves")
        assert reserves.content == (published.directory / "reserves.json").read_bytes()
    keys = client.get("/api/v1/keys")
    assert keys.content == world.keylist.read_bytes()
    KeyList.from_json(keys.content)


def test_wallets_show_the_servers_signature_check(client: TestClient) -> None:
    body = client.get("/api/v1/rounds/2026-11/wallets").json()
    checks = [w["signature_check"] for w in body["wallets"]]
    assert checks == ["verified", "failed", "failed"]
    assert "stale-message" in body["wallets"][1]["check_note"]
    assert body["wallets"][0]["explorer_url"].startswith("https://etherscan.io/address/0x")
    assert body["wallets"][2]["balances"][0]["source"] == "node"


def test_attestation_exact_bytes_signatures_and_log_inclusion(
    client: TestClient, world: World
) -> None:
    body = client.get("/api/v1/rounds/2026-10/attestation").json()
    payload = base64.b64decode(body["signed"]["payload"])
    assert payload == world.attestation_payloads["2026-10"]
    assert body["payload_sha256"] == hashlib.sha256(payload).hexdigest()
    signed = SignedDocument.from_json(json.dumps(body["signed"]))
    signed.verify_signed_by(world.exchange_key.public, "attestation")
    signed.verify_signed_by(world.auditor_key.public, "attestation")
    assert body["log_index"] == 0
    latest = client.get("/api/v1/log/tree-head").json()
    head = SignedTreeHead.from_json(json.dumps(latest["signed"]))
    head.verify_signature(world.exchange_key.public)
    assert head.head.tree_size == 2
    proof = client.get("/api/v1/rounds/2026-10/attestation/inclusion").json()
    InclusionProof.from_json(json.dumps(proof)).verify(payload, head.head)
    by_entry = client.get("/api/v1/log/entries/0/inclusion", params={"tree_size": 2}).json()
    assert by_entry == proof
    entry = client.get("/api/v1/log/entries/0").json()
    assert base64.b64decode(entry["entry"]) == payload
    second = client.get("/api/v1/rounds/2026-11/attestation").json()
    assert base64.b64decode(second["signed"]["payload"]) == world.attestation_payloads["2026-11"]
    assert second["log_index"] == 1
    assert client.get("/api/v1/rounds/2099-01/attestation").status_code == 404


def _unzip(data: bytes, out: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        z.extractall(out)
        return {n: z.read(n) for n in z.namelist()}


def _tree(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def test_bundle_download_is_what_publish_wrote_and_verifies(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    for round_id in ROUNDS:
        answer = client.get(f"/api/v1/rounds/{round_id}/bundle")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/zip"
        assert client.get(f"/api/v1/rounds/{round_id}/bundle").content == answer.content
        _unzip(answer.content, tmp_path)
        # Built from the store by por publish's own function: the same bytes it wrote.
        assert _tree(tmp_path / round_id) == _tree(world.bundles[round_id])
    # An auditor's one command on the download (this world's chains are not real ones).
    state = tmp_path / "state.json"
    for round_id in ROUNDS:
        res = CliRunner().invoke(verify_main, [
            "bundle", str(tmp_path / round_id), "--skip-chain", "--pin",
            world.exchange_key.public.key_id, "--auditor-key", str(world.auditor_key_file),
            "--round", round_id, "--state", str(state), "--now", "2026-11-01T13:00:00Z"])
        assert res.exit_code == 0, res.output
        assert "co-signed by auditor Example Auditor" in res.output
    assert client.get("/api/v1/rounds/2099-01/bundle").status_code == 404


def test_files_are_read_from_the_store_first(client: TestClient, world: World) -> None:
    published = world.rounds["2026-10"]
    root, reserves = ((published.directory / n).read_bytes() for n in ("root.json",
                                                                       "reserves.json"))
    (published.directory / "reserves.json").unlink()
    (published.directory / "root.json").write_text("not the attested root")
    assert client.get("/api/v1/rounds/2026-10/liabilities-root").content == root
    assert client.get("/api/v1/rounds/2026-10/reserves").content == reserves
    assert client.get("/api/v1/rounds/2026-10").json()["attestation"]["verdict"] == "verified"


def _findings(client: TestClient, round_id: str) -> tuple[str, set[str]]:
    signed = client.get(f"/api/v1/rounds/{round_id}").json()["attestation"]
    return signed["verdict"], {f["code"] for f in signed["findings"]}


def test_an_attestation_disagreeing_with_the_files_is_shown_failed(
    client: TestClient, world: World, store: Engine
) -> None:
    # The stored reserves file is replaced by another one (one more ETH in wallet 0): the
    # attested figures no longer match what the served files give.
    original = (world.rounds["2026-11"].directory / "reserves.json").read_bytes()
    doc = json.loads(original)
    doc["wallets"][0]["balances"][0]["amount"] = str(
        int(doc["wallets"][0]["balances"][0]["amount"]) + 10**18)
    doc["totals"][1] = str(int(doc["totals"][1]) + 10**18)
    changed = json.dumps(doc, indent=2).encode() + b"\n"
    with Session(store) as session:
        session.exec(update(RoundFile).where(  # type: ignore[call-overload]
            col(RoundFile.round_id) == "2026-11", col(RoundFile.kind) == "reserves"
        ).values(content=changed))
        session.commit()
    verdict, codes = _findings(client, "2026-11")
    assert verdict == "failed"
    assert {"reserves-file", "reserves-figure"} <= codes
    html = client.get("/").text
    assert 'data-verdict="failed"' in html and 'data-state="failed"' in html
    assert "Check failed: do not rely on these figures" in html
    assert 'data-code="reserves-figure"' in html and "ETH.counted" in html
    assert 'class="ok mismatch"' in html  # ETH's signed line differs from the files'
    assert _findings(client, "2026-10") == ("verified", set())


def test_a_forged_signature_is_shown_failed(
    client: TestClient, world: World, store: Engine
) -> None:
    with Session(store) as session:
        row = session.exec(select_signature(world.exchange_key.public.key_id)).first()
        assert row is not None
        row.signature = bytes([row.signature[0] ^ 1]) + row.signature[1:]
        session.add(row)
        session.commit()
    verdict, codes = _findings(client, "2026-10")
    assert (verdict, codes) == ("failed", {"signature"})
    signers = client.get("/api/v1/rounds/2026-10").json()["attestation"]["signers"]
    assert [s["check"] for s in signers] == ["failed", "verified"]
    assert "FAILED: the signature does not verify" in client.get("/rounds/2026-10").text


def select_signature(key_id: str) -> Any:
    from sqlmodel import select

    return select(AttestationSignature).where(AttestationSignature.key_id == key_id).order_by(
        col(AttestationSignature.id))


def test_consistency_between_signed_heads(client: TestClient, world: World) -> None:
    old = client.get("/api/v1/log/tree-heads/1").json()
    new = client.get("/api/v1/log/tree-heads/2").json()
    proof = client.get("/api/v1/log/consistency", params={"old_size": 1, "new_size": 2}).json()
    old_head = SignedTreeHead.from_json(json.dumps(old["signed"]))
    new_head = SignedTreeHead.from_json(json.dumps(new["signed"]))
    check_extends(old_head.head, new_head.head, ConsistencyProof.from_json(json.dumps(proof)))
    for bad in ({"old_size": 0, "new_size": 2}, {"old_size": 2, "new_size": 1},
                {"old_size": 1, "new_size": 3}):
        assert client.get("/api/v1/log/consistency", params=bad).status_code in (404, 422)


def test_a_token_opens_exactly_its_users_proof(client: TestClient, world: World) -> None:
    for round_id, published in world.rounds.items():
        for user in ("user-000", "user-017", "ünïcode user ✓"):
            answer = client.get(f"/api/v1/proofs/{published.tokens[user]}")
            assert answer.status_code == 200
            assert answer.headers["cache-control"] == "no-store"
            # The same bytes `por liabilities prove` writes for that user.
            assert answer.text == world.prove(round_id, user)
            proof = UserProof.from_json(answer.content)
            report = verify_proof(proof, summary=published.summary)
            assert report.user_id == user
            assert list(report.amounts) == published.balances[user]


def test_wrong_unknown_and_malformed_tokens_get_one_answer(
    client: TestClient, world: World
) -> None:
    good = world.rounds["2026-11"].tokens["user-001"]
    flipped = good[:-1] + ("0" if good[-1] != "0" else "1")
    answers = set()
    for token in (flipped, "0" * 32, "f" * 32, "x", "%20", good.upper(), good + "0", "a" * 500,
                  "nothing/here"):
        r = client.get(f"/api/v1/proofs/{token}")
        answers.add((r.status_code, r.content))
    assert answers == {(404, b'{"detail":"Not Found"}')}
    # ...which is also the answer to a path that does not exist at all.
    r = client.get("/api/v1/no-such-thing")
    assert (r.status_code, r.content) == (404, b'{"detail":"Not Found"}')


def test_wrong_and_unknown_tokens_take_the_same_steps(
    client: TestClient, world: World, monkeypatch: Any
) -> None:
    import por.liabilities.tokens as tokens

    opened: list[str] = []
    real_open = tokens._open

    def counting_open(token: str, sealed: bytes) -> Any:
        opened.append(token)
        return real_open(token, sealed)

    monkeypatch.setattr(tokens, "_open", counting_open)
    good = world.rounds["2026-11"].tokens["user-002"]
    for token in (good[:-1] + ("0" if good[-1] != "0" else "1"), "1" * 32, "%3F"):
        opened.clear()
        assert client.get(f"/api/v1/proofs/{token}").status_code == 404
        # One sealed record opened per round, found or not (a decoy for unknown tokens).
        assert len(opened) == len(world.rounds)


def test_reissued_tokens_replace_the_old_ones(client: TestClient, world: World) -> None:
    from por.liabilities.tokens import issue_tokens

    published = world.rounds["2026-10"]
    old = published.tokens["user-005"]
    assert client.get(f"/api/v1/proofs/{old}").status_code == 200
    new = dict(issue_tokens(published.directory, published.secret, ["user-005"]))["user-005"]
    assert client.get(f"/api/v1/proofs/{old}").status_code == 404
    assert client.get(f"/api/v1/proofs/{new}").status_code == 200
    # Another user of that round lost their token too: issuing replaces the whole index.
    assert client.get(f"/api/v1/proofs/{published.tokens['user-006']}").status_code == 404


def test_nothing_enumerates_users_leaves_or_tokens(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert [p for p in paths if "proof" in p] == ["/api/v1/proofs/{token}"]
    for path in ("/api/v1/proofs", "/api/v1/proofs/", "/api/v1/users", "/api/v1/leaves",
                 "/api/v1/tokens"):
        assert client.get(path).status_code in (404, 405)
    assert client.post("/api/v1/proofs/abc").status_code == 405


def test_unknown_rounds_and_traversal_are_not_found(client: TestClient) -> None:
    for path in ("/api/v1/rounds/2099-01", "/api/v1/rounds/..%2F..%2Fetc",
                 "/api/v1/rounds/-x/reserves", "/api/v1/rounds/2099-01/bundle",
                 "/api/v1/log/tree-heads/7", "/api/v1/log/entries/5"):
        assert client.get(path).status_code in (404, 422), path


def test_every_answer_carries_the_strict_csp(client: TestClient) -> None:
    for path in ("/", "/api/v1/rounds", "/static/app.js", "/api/v1/proofs/x"):
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        # 'wasm-unsafe-eval' compiles the private-proof verifier's WebAssembly (spec §16.15)
        # and allows no eval: the one exception.
        assert "script-src 'self' 'wasm-unsafe-eval';" in csp
        assert "unsafe-inline" not in csp
        assert "unsafe-eval" not in csp.replace("'wasm-unsafe-eval'", "")
        assert r.headers["referrer-policy"] == "no-referrer"


def test_page_is_server_rendered(client: TestClient, world: World) -> None:
    html = client.get("/").text
    assert "Round <strong>2026-11</strong>" in html
    assert world.rounds["2026-11"].summary.root_hash.hex() in html
    assert html.count('class="wallet"') == 3
    assert "<script>" not in html and "style=" not in html  # nothing inline for the CSP
    assert "http://" not in html.replace("http://www.w3.org", "")
    assert "cdn" not in html.lower()
    older = client.get("/rounds/2026-10").text
    assert "Round <strong>2026-10</strong>" in older and "Co-signed by 1 key" in older
    # The figures as signed, the signed snapshot time, the signers by label, the link.
    assert 'id="solvency" data-source="signed"' in html and "mismatch" not in html
    assert 'data-verdict="verified"' in html
    assert "90.0000%<br><small>0.900000</small>" in html and "under-reserved" in html
    assert "2026-11-01T11:00:00Z" in html
    assert f"<code>{world.exchange_key.public.key_id}</code> ({EXCHANGE})" in html
    assert "(Example Auditor)" in html and "1 of them known auditor(s): Example Auditor" in html
    previous = hashlib.sha256(world.attestation_payloads["2026-10"]).hexdigest()
    assert f"<code>{previous}</code>" in html
    assert "none: the first statement in the log" in older
    assert 'href="/api/v1/rounds/2026-11/bundle"' in html
