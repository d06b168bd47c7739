"""A private proof dropped on the real page: ``por serve`` on loopback over a real store,
Debian's Chromium driven by Playwright.

The page loads verify-private.js, vendor/por-zkp.js and vendor/por-zkp.wasm from the server
only when the proof is dropped, under the server's own Content-Security-Policy (no console
error, no request outside the server's origin), and checks the whole proof in the browser.
Over the spot rounds of tests/api/api_world.py the proof's round has no attestation on the
page: FAILED, saying that the proof's own checks held. Over an attested, co-signed private
round (tests/support/private_attest_world.py, attestation version 4, spec §13.7) the
user's proof is VERIFIED against the signed root, dropped as a file or fetched by its token
(made by the server from tree.bin, spec §16.16); a tampered one FAILS. Screenshots at 390
and 1400 px go to tests/web/artifacts/screenshots/ (git-ignored).
"""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from browser_setup import chromium_browser, origin_only_page, por_serve

sys.path.insert(0, str(Path(__file__).parents[1] / "api"))
from api_world import World, build_world

from por.store.db import open_store

SCREENSHOTS = Path(__file__).parent / "artifacts" / "screenshots"
VECTORS = {v["name"]: v for v in json.loads(
    (Path(__file__).parents[1] / "vectors" / "private.json").read_text())["vectors"]}


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``por serve`` on a free loopback port over a published world."""
    base = tmp_path_factory.mktemp("served-private")
    url = f"sqlite:///{base / 'por.db'}"
    engine = open_store(url)
    world: World = build_world(base, engine)
    engine.dispose()
    tokens = [t for r in world.rounds.values() for t in r.tokens.values()]
    with por_serve(url, world.rounds_dir, (world.keylist, world.auditor_key_file),
                   lambda: tokens) as served:
        yield served


browser = pytest.fixture(scope="module")(chromium_browser)


def test_the_server_serves_the_libraries_under_its_csp(origin: str) -> None:
    with urllib.request.urlopen(f"{origin}/") as r:
        csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self' 'wasm-unsafe-eval';" in csp
    assert "unsafe-eval'" not in csp.replace("'wasm-unsafe-eval'", "")
    assert "connect-src 'self';" in csp
    with urllib.request.urlopen(f"{origin}/static/vendor/por-zkp.wasm") as r:
        assert r.headers["Content-Type"] == "application/wasm"
        assert r.read(4) == b"\0asm"


@pytest.mark.parametrize("width", [390, 1400])
def test_a_private_proof_dropped_on_the_page(
    origin: str, browser: Any, tmp_path: Path, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900})
    fetched: list[str] = []
    page, outside, errors = origin_only_page(context, origin, fetched)
    page.goto(origin + "/")
    page.wait_for_selector("body[data-ready='true']", timeout=60_000)
    assert not [f for f in fetched if "por-zkp" in f or "verify-private" in f]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    cases = (
        ("unattested", "valid-private-proof-alice",
         "has no signed attestation on this page: nothing to check the proof's root against"
         " (its path, 4 range proofs, commitment sums and root opening hold in this browser)"),
        ("tampered", "range-proof-moved-to-another-level",
         "path[1] asset BTC: the range proof does not verify for this commitment at this"
         " position"),
    )
    for state, name, reason in cases:
        proof = tmp_path / f"{state}.json"
        proof.write_bytes(rfc8785.dumps(VECTORS[name]["proof"]))
        page.set_input_files("#proof-file", [])
        page.set_input_files("#proof-file", str(proof))
        page.wait_for_selector("#verify-result[data-verdict='failed']", timeout=60_000)
        text = page.inner_text("#verify-result")
        assert text.startswith("FAILED") and reason in text, text
        page.locator("#verify").scroll_into_view_if_needed()
        page.screenshot(path=str(SCREENSHOTS / f"private-page-{state}-{width}.png"))
        assert (SCREENSHOTS / f"private-page-{state}-{width}.png").stat().st_size > 5_000
    # Loaded once, from the server, under its CSP: no violation, nothing from elsewhere.
    assert fetched.count("/static/vendor/por-zkp.wasm") == 1
    assert fetched.count("/static/vendor/por-zkp.js") == 1
    assert fetched.count("/static/verify-private.js") == 1
    assert errors == [] and outside == []
    context.close()


@pytest.fixture(scope="module")
def attested_origin(tmp_path_factory: pytest.TempPathFactory
                    ) -> Iterator[tuple[str, Any, str]]:
    """``por serve`` over an attested, co-signed private round (spec §13.7), its proof, and
    the proof token of the proof's user (the round's directory served, spec §16.16)."""
    import shutil

    from attest_helpers import make_world
    from private_attest_world import SECRET, published_private

    from por.liabilities.tokens import issue_tokens

    tmp = tmp_path_factory.mktemp("served-attested-private")
    world = make_world(tmp)
    _, r, _ = published_private(tmp, round_id="p1", day=0, world=world)
    (tmp / "rounds").mkdir()
    shutil.copytree(r.directory, tmp / "rounds" / "p1")
    [(_, token)] = issue_tokens(tmp / "rounds" / "p1", SECRET, [r.proof.user_id])
    with por_serve(f"sqlite:///{tmp / 'por.db'}", tmp / "rounds",
                   (tmp / "keylist.json", tmp / "auditor.pub.json"), lambda: [token]) as served:
        yield served, r, token


@pytest.mark.parametrize("width", [390, 1400])
def test_an_attested_private_proof_is_verified_on_the_page(
    attested_origin: tuple[str, Any, str], browser: Any, tmp_path: Path, width: int
) -> None:
    origin, r, _ = attested_origin
    context = browser.new_context(viewport={"width": width, "height": 900})
    page, outside, errors = origin_only_page(context, origin)
    page.goto(origin + "/")
    page.wait_for_selector("body[data-ready='true']", timeout=60_000)
    assert "Checked in your browser too" in page.inner_text("#attestation-browser-check")
    good = r.proof.to_bytes()
    doc = json.loads(good)
    doc["amounts"][1] = str(int(doc["amounts"][1]) + 1)  # one more base unit than committed
    for state, data, verdict in (("verified", good, "verified"),
                                 ("tampered", rfc8785.dumps(doc), "failed")):
        proof = tmp_path / f"{state}.json"
        proof.write_bytes(data)
        page.set_input_files("#proof-file", [])
        page.set_input_files("#proof-file", str(proof))
        page.wait_for_selector(f"#verify-result[data-verdict='{verdict}']", timeout=60_000)
        text = page.inner_text("#verify-result")
        if verdict == "verified":
            assert "checked in this browser against the root in the signed attestation" in text
            assert "range proofs and every commitment sum checked in this browser" in text
            assert "Example Auditor" in text
        else:
            assert text.startswith("FAILED"), text
        page.locator("#verify").scroll_into_view_if_needed()
        shot = SCREENSHOTS / f"private-page-attested-{state}-{width}.png"
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 5_000
    assert errors == [] and outside == []
    context.close()


def test_an_attested_private_proof_fetched_by_token_is_verified_on_the_page(
    attested_origin: tuple[str, Any, str], browser: Any
) -> None:
    origin, r, token = attested_origin
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text[:300]) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)[:300]))
    page.goto(origin + "/")
    page.wait_for_selector("body[data-ready='true']", timeout=60_000)
    for value, verdict in (("0" * 32, "error"), (token, "verified")):
        page.fill("#token", value)
        page.locator("#token-form button[type='submit'], #token-form input[type='submit']"
                     ).first.click()
        page.wait_for_selector(f"#verify-result[data-verdict='{verdict}']", timeout=90_000)
    text = page.inner_text("#verify-result")
    assert "checked in this browser against the root in the signed attestation" in text
    assert "range proofs and every commitment sum checked in this browser" in text
    eth = r.proof.amounts[0]  # the token's user: u3's balance, to the wei
    assert "Example Auditor" in text and f"{eth // 10**18}.{eth % 10**18:018d}" in text
    # The wrong token's 404 is the one resource the browser reports as failed.
    assert [e for e in errors if "status of 404" not in e] == []
    page.close()
