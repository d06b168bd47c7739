"""``por-verify bundle`` on published rounds: it passes on what ``por publish`` wrote, and
fails, naming the reason, on each attack of issue 4: an edited figure, a forged or missing
signature, a claim of solvency against a shortfall, a rewritten log entry, a tree head that
does not extend the last one seen, and a bundle of another round.

Reserves are re-read from a real EVM (py-evm in process) through the reader protocol; the
command line is run with --skip-chain, and without it to show it fails closed.
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from attest_helpers import (
    PASSPHRASE,
    World,
    build_round,
    make_world,
    publish,
    sign_and_cosign,
)
from click.testing import CliRunner

from por.attest.rounds import sign_round
from por.keys import SigningKey
from por.store.db import open_store
from verifier.attestation.bundle import (
    ATTESTATION_FILE,
    TREE_HEAD_FILE,
    BundleOptions,
    BundleReport,
    read_bundle,
    verify_bundle,
)
from verifier.cli import main as verify_main
from verifier.errors import FormatError
from verifier.liabilities.proof import InclusionProof as UserProof
from verifier.log.state import VerifierState
from verifier.log.sth import SignedTreeHead
from verifier.signed.envelope import Signature, SignedDocument


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, Path]:
    """Two rounds published in order by one exchange, and a forked log that rewrote the
    first round's entry before publishing the second."""
    tmp = tmp_path_factory.mktemp("bundles")
    w = make_world(tmp)
    build_round(w, tmp, "r1")
    build_round(w, tmp, "r2")
    engine = open_store(f"sqlite:///{tmp / 'por.db'}")
    for day, name in ((0, "r1"), (1, "r2")):
        sign_and_cosign(engine, w, name, day)
        publish(engine, w, name, tmp / f"bundle-{name}", day)
    engine.dispose()
    forked = open_store(f"sqlite:///{tmp / 'forked.db'}")
    for day, name in ((0, "r1"), (1, "r2")):
        sign_and_cosign(forked, w, name, day + 3)  # other signing times: other entries
        publish(forked, w, name, tmp / f"forked-{name}", day + 3)
    forked.dispose()
    return w, tmp


# The verifier's clock in these tests (tuf's reference time): the rounds are published
# from T0 (2026-11-25) on.
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def check(w: World, directory: Path, **changes: Any) -> BundleReport:
    options: dict[str, Any] = {"readers": w.readers, "auditors": (w.auditor_key.public,),
                               "pinned_key_id": w.exchange_key.public.key_id, "now": NOW}
    options.update(changes)
    return verify_bundle(read_bundle(directory), BundleOptions(**options))


def codes(report: BundleReport) -> set[str]:
    return {f.code for f in report.findings}


def head_of(directory: Path) -> SignedTreeHead:
    return SignedTreeHead.from_json((directory / TREE_HEAD_FILE).read_bytes())


def mutate(tmp: Path, source: Path, name: str,
           change: Callable[[SignedDocument, dict[str, Any]], SignedDocument | dict[str, Any]]
           ) -> Path:
    """A copy of ``source`` whose attestation envelope ``change`` rewrote."""
    out = tmp / name
    shutil.copytree(source, out)
    doc = SignedDocument.from_json((out / ATTESTATION_FILE).read_bytes())
    payload = json.loads(doc.payload)
    result = change(doc, payload)
    if isinstance(result, dict):  # a new payload, keeping the old signatures
        result = SignedDocument(rfc8785.dumps(result), result, doc.signatures)
    (out / ATTESTATION_FILE).write_text(result.to_json())
    return out


def resigned(w: World, payload: dict[str, Any]) -> SignedDocument:
    """The exchange itself signing a payload (a dishonest exchange, not a forger)."""
    return w.exchange_key.sign_document(payload)


def test_published_rounds_verify_and_chain(world: tuple[World, Path]) -> None:
    w, tmp = world
    first = check(w, tmp / "bundle-r1", user_proof=UserProof.from_json(
        w.rounds["r1"]["proof"].read_bytes()))
    assert first.ok, first.findings
    assert first.remember is not None and first.remember.head.tree_size == 1
    assert first.user_balances == {"ETH": "4.500000000000000000", "BTC": "0.00000004"}
    second = check(w, tmp / "bundle-r2", remembered=first.remember, expected_round="r2")
    assert second.ok, second.findings
    assert any("linked to the previous round" in p for p in second.passed)
    assert any("extends the last one seen (size 1)" in p for p in second.passed)
    eth, btc = second.solvency
    assert (eth.status, eth.shortfall, btc.status) == ("covered", 0, "under-reserved")
    assert eth.reserves == 105 * 10**18 and eth.ratio is not None
    assert btc.shortfall == btc.liabilities and btc.ratio == "0.000000"
    assert not second.all_covered
    assert any("UNDER-RESERVED" in n and "BTC" in n for n in second.notes)
    assert codes(check(w, tmp / "bundle-r2", require_full_reserves=True)) == {"under-reserved"}


def test_cli_passes_and_fails_closed_without_nodes(world: tuple[World, Path]) -> None:
    w, tmp = world
    state = tmp / "cli-state.json"
    base = ["bundle", str(tmp / "bundle-r2"), "--auditor-key", str(tmp / "auditor.pub.json"),
            "--state", str(state), "--pin", w.exchange_key.public.key_id,
            "--now", "2026-12-01T00:00:00Z"]
    runner = CliRunner()
    closed = runner.invoke(verify_main, base)
    assert closed.exit_code == 1
    assert "[reserves-not-read]" in closed.output
    ok = runner.invoke(verify_main, [*base, "--skip-chain", "--proof",
                                     str(w.rounds["r2"]["proof"])])
    assert ok.exit_code == 0, ok.output
    assert "reserves NOT re-read" in ok.output and "VERIFIED" in ok.output
    as_json = runner.invoke(verify_main, [*base, "--skip-chain", "--json"])
    report = json.loads(as_json.output)
    assert as_json.exit_code == 0 and report["ok"] and report["solvency"][1]["status"] == (
        "under-reserved")
    other = runner.invoke(verify_main, [*base, "--skip-chain", "--round", "r1"])
    assert other.exit_code == 1 and "[another-round]" in other.output
    both = runner.invoke(verify_main, [*base, "--skip-chain", "--rpc", "ethereum=http://x"])
    assert both.exit_code == 2
    missing = runner.invoke(verify_main, ["bundle", str(tmp / "nowhere"), "--skip-chain",
                                          "--state", str(state)])
    assert missing.exit_code == 2


def test_edited_figure_fails(world: tuple[World, Path]) -> None:
    w, tmp = world

    def more_eth(payload: dict[str, Any]) -> dict[str, Any]:
        payload["solvency"][0]["reserves"] = str(int(payload["solvency"][0]["reserves"]) * 2)
        return payload

    kept = check(w, mutate(tmp, tmp / "bundle-r1", "edited",
                           lambda _d, p: more_eth(p)))
    assert {"signature", "solvency-figure", "log-inclusion"} <= codes(kept)
    assert any("ETH.reserves" in f.message for f in kept.findings)
    signed = check(w, mutate(tmp, tmp / "bundle-r1", "edited-resigned",
                             lambda _d, p: resigned(w, more_eth(p))))
    assert {"solvency-figure", "log-inclusion"} <= codes(signed)
    assert "signature" not in codes(signed)

    def more_reserves(payload: dict[str, Any]) -> dict[str, Any]:
        # Consistent arithmetic, but not what the reserves file holds.
        payload["reserves"]["assets"][0]["counted"] = "1"
        return payload

    wrong_file = check(w, mutate(tmp, tmp / "bundle-r1", "edited-counted",
                                 lambda _d, p: resigned(w, more_reserves(p))))
    assert "reserves-figure" in codes(wrong_file)
    tampered = tmp / "edited-reserves"
    shutil.copytree(tmp / "bundle-r1", tampered)
    text = (tampered / "reserves.json").read_text().replace('"60000000000000000000"',
                                                            '"61000000000000000000"')
    (tampered / "reserves.json").write_text(text)
    assert "reserves-file" in codes(check(w, tampered, readers=None, skip_chain=True))


def test_forged_or_missing_signatures_fail(world: tuple[World, Path]) -> None:
    w, tmp = world

    def forge(doc: SignedDocument, _p: dict[str, Any]) -> SignedDocument:
        first = doc.signatures[0]
        bad = bytes([first.signature[0] ^ 1]) + first.signature[1:]
        return SignedDocument(doc.payload, doc.document,
                              (Signature(first.key_id, bad), *doc.signatures[1:]))

    forged = check(w, mutate(tmp, tmp / "bundle-r1", "forged", forge))
    assert "signature" in codes(forged)
    assert any("does not verify" in f.message for f in forged.findings)

    def drop(index: int) -> Callable[[SignedDocument, dict[str, Any]], SignedDocument]:
        def change(doc: SignedDocument, _p: dict[str, Any]) -> SignedDocument:
            sigs = tuple(s for i, s in enumerate(doc.signatures) if i != index)
            return SignedDocument(doc.payload, doc.document, sigs)
        return change

    assert codes(check(w, mutate(tmp, tmp / "bundle-r1", "no-exchange-sig", drop(0)))) == {
        "signature"}
    no_auditor = check(w, mutate(tmp, tmp / "bundle-r1", "no-auditor-sig", drop(1)))
    assert codes(no_auditor) == {"auditor-signature"}
    stranger = SigningKey.generate("Stranger")

    def by_stranger(_d: SignedDocument, payload: dict[str, Any]) -> SignedDocument:
        payload["key_id"] = stranger.public.key_id
        return stranger.sign_document(payload)

    foreign = check(w, mutate(tmp, tmp / "bundle-r1", "stranger", by_stranger), auditors=())
    assert "signature" in codes(foreign)
    assert any("not in Example Exchange's key list" in f.message for f in foreign.findings)


def test_claiming_solvency_against_a_shortfall_fails(world: tuple[World, Path]) -> None:
    w, tmp = world

    def solvent(payload: dict[str, Any]) -> dict[str, Any]:
        btc = payload["solvency"][1]
        btc.update(status="covered", shortfall="0")
        payload["all_covered"] = True
        return payload

    report = check(w, mutate(tmp, tmp / "bundle-r1", "false-solvency",
                             lambda _d, p: resigned(w, solvent(p))))
    assert "false-solvency" in codes(report)
    messages = " ".join(f.message for f in report.findings if f.code == "false-solvency")
    assert "BTC" in messages and "shortfall" in messages


def test_rewritten_log_entry_fails(world: tuple[World, Path]) -> None:
    w, tmp = world
    seen = check(w, tmp / "bundle-r1").remember
    assert seen is not None
    # The exchange rewrote round 1's entry and re-signed every head: round 2's bundle from
    # that log is internally consistent, but not with the head this verifier saw.
    forked = check(w, tmp / "forked-r2", remembered=seen)
    assert codes(forked) == {"log-consistency"}
    assert forked.remember is None
    # A rewritten entry swapped into an honest bundle: not in the log under its head.
    swapped = tmp / "swapped-entry"
    shutil.copytree(tmp / "bundle-r1", swapped)
    shutil.copy(tmp / "forked-r1" / ATTESTATION_FILE, swapped / ATTESTATION_FILE)
    assert "log-inclusion" in codes(check(w, swapped, remembered=seen))


def test_tree_head_that_does_not_extend_the_last_seen_fails(world: tuple[World, Path]) -> None:
    w, tmp = world
    latest = check(w, tmp / "bundle-r2").remember
    assert latest is not None and latest.head.tree_size == 2
    older = check(w, tmp / "bundle-r1", remembered=latest)
    assert codes(older) == {"log-consistency"} and "older than the last one seen" in str(
        older.findings[0])
    assert older.remember is None
    # Another root at the same size, signed by the exchange's own key: a split view.
    head = head_of(tmp / "bundle-r2").head
    fork = replace(head, root_hash=bytes(32))
    split = tmp / "split-view"
    shutil.copytree(tmp / "bundle-r2", split)
    (split / TREE_HEAD_FILE).write_text(w.exchange_key.sign_document(fork.to_dict()).to_json())
    report = check(w, split, remembered=latest)
    assert {"log-consistency", "log-inclusion"} <= codes(report)
    assert any("rewritten" in f.message for f in report.findings)


def test_bundle_of_another_round_fails(world: tuple[World, Path]) -> None:
    w, tmp = world
    mixed = tmp / "mixed"
    shutil.copytree(tmp / "bundle-r1", mixed)
    for name in ("attestation.json", "inclusion-proof.json", "tree-head.json"):
        shutil.copy(tmp / "bundle-r2" / name, mixed / name)
    report = check(w, mixed)
    assert {"another-round", "liabilities-figure", "reserves-file"} <= codes(report)
    asked = check(w, tmp / "bundle-r2", expected_round="r1")
    assert codes(asked) == {"another-round"}
    proof = check(w, tmp / "bundle-r2",
                  user_proof=UserProof.from_json(w.rounds["r1"]["proof"].read_bytes()))
    assert codes(proof) == {"user-proof"}


def test_signer_refuses_what_the_verifier_would_reject(world: tuple[World, Path]) -> None:
    w, tmp = world
    engine = open_store(f"sqlite:///{tmp / 'por.db'}")
    files = w.rounds["r1"]
    from por.errors import UsageError, VerificationError

    with pytest.raises(UsageError, match="published"):
        sign_round(engine, "r1", files["root"].read_bytes(), files["reserves"].read_bytes(),
                   w.exchange_key, readers=None, replace=True)
    with pytest.raises(VerificationError, match="round"):
        sign_round(engine, "r2", files["root"].read_bytes(),
                   w.rounds["r2"]["reserves"].read_bytes(), w.exchange_key, readers=None,
                   replace=True)
    engine.dispose()
    assert SigningKey.load(tmp / "exchange.pem", PASSPHRASE).public == w.exchange_key.public
    raw = json.loads((tmp / "bundle-r1" / ATTESTATION_FILE).read_text())
    payload = json.loads(base64.b64decode(raw["payload"]))
    assert payload["reserves"]["counted"] == "node-read-round-signed"
    assert all(isinstance(v, str) for v in payload["liabilities"]["totals"])


def _resigned_head(w: World, directory: Path, out: Path, **fields: Any) -> Path:
    """A copy of the bundle whose tree head the exchange's key re-signed with ``fields``."""
    shutil.copytree(directory, out)
    head = replace(head_of(directory).head, **fields)
    (out / TREE_HEAD_FILE).write_text(w.exchange_key.sign_document(head.to_dict()).to_json())
    return out


def test_the_tree_head_binds_its_exchange_and_key_list(world: tuple[World, Path]) -> None:
    """Spec §12.2: a bundle's head is version 2, bound to the exchange and the key list."""
    w, tmp = world
    head = head_of(tmp / "bundle-r1").head
    assert head.version == 2 and head.exchange == "Example Exchange"
    legacy = check(w, _resigned_head(w, tmp / "bundle-r1", tmp / "v1-head", exchange=None,
                                     keylist_sha256=None))
    assert "tree-head" in codes(legacy)
    assert any("version 1" in f.message for f in legacy.findings)
    other_list = check(w, _resigned_head(w, tmp / "bundle-r1", tmp / "other-list-head",
                                         keylist_sha256=bytes(32)))
    assert codes(other_list) == {"tree-head"}
    assert "binds another key list" in other_list.findings[0].message
    renamed = tmp / "renamed-keylist"
    shutil.copytree(tmp / "bundle-r1", renamed)
    data = json.loads((renamed / "keylist.json").read_text())
    data["exchange"] = "Another Exchange"
    (renamed / "keylist.json").write_text(json.dumps(data))
    assert {"key-list", "tree-head"} <= codes(check(w, renamed))


def test_bundle_files_beyond_the_layout_are_refused(world: tuple[World, Path]) -> None:
    """Spec §13.4: previous-* files at i = 0 and files in consistency/ that are not
    proofs are refused (exit 2); every consistency file present is checked."""
    w, tmp = world
    first = tmp / "previous-at-0"
    shutil.copytree(tmp / "bundle-r1", first)
    shutil.copy(first / ATTESTATION_FILE, first / "previous-attestation.json")
    with pytest.raises(FormatError, match="first entry"):
        check(w, first)
    stray = tmp / "stray-consistency"
    shutil.copytree(tmp / "bundle-r2", stray)
    (stray / "consistency" / "notes.txt").write_text("x")
    with pytest.raises(FormatError, match="not a consistency proof"):
        read_bundle(stray)
    padded = tmp / "padded-consistency"
    shutil.copytree(tmp / "bundle-r2", padded)
    proof = json.loads((padded / "consistency" / "from-1.json").read_text())
    proof["proof"].append("00" * 32)
    (padded / "consistency" / "from-1.json").write_text(json.dumps(proof))
    report = check(w, padded)  # no memory: the file is unused, and still checked
    assert codes(report) == {"log-consistency"}


def test_a_round_dated_before_the_last_head_seen_fails(world: tuple[World, Path]) -> None:
    """Spec §12.2: an entry after the remembered head cannot be dated before it."""
    w, tmp = world
    seen = head_of(tmp / "bundle-r1")
    later = replace(seen.head, timestamp=seen.head.timestamp + timedelta(days=4))
    remembered = SignedTreeHead(later, w.exchange_key.sign_document(later.to_dict()))
    report = check(w, tmp / "bundle-r2", remembered=remembered)
    assert "backdated" in codes(report)


def test_without_pin_or_memory_the_key_list_is_unanchored(world: tuple[World, Path]) -> None:
    w, tmp = world
    report = check(w, tmp / "bundle-r1", pinned_key_id=None)
    assert report.verdict == "UNANCHORED" and codes(report) == {"unanchored"}
    assert report.memory is not None and report.memory.anchored_by == "first-use"
    assert report.memory.identity == w.exchange_key.public.key_id
    state = VerifierState({report.memory.identity: report.memory})
    again = check(w, tmp / "bundle-r2", pinned_key_id=None, state=state)
    assert again.ok, again.findings
    assert any("anchored by first use" in p for p in again.passed)
    out = CliRunner().invoke(verify_main, [
        "bundle", str(tmp / "bundle-r1"), "--skip-chain", "--json", "--now",
        "2026-12-01T00:00:00Z", "--state", str(tmp / "json-state.json")])
    assert out.exit_code == 1
    assert json.loads(out.output)["verdict"] == "UNANCHORED"
