"""The public page in a real browser: Debian's Chromium driven by Playwright, against
``por serve`` started on loopback over a real store and real rounds.

The browser is /usr/bin/chromium (scripts/services.d/chromium.sh installs it); Playwright
never downloads one. Every request that leaves the server's own origin is refused and
recorded, so the page is shown to work offline; a CSP violation would show as a console
error, and none is allowed. A screenshot is saved under tests/web/artifacts/ (git-ignored).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import random
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_setup import (
    CHROMIUM,
    CHROMIUM_ARGS,
    origin_only_page,
    playwright_driver,
    por_serve,
)

sys.path.insert(0, str(Path(__file__).parents[1] / "api"))
from api_world import EXCHANGE as EXCHANGE_NAME
from api_world import ROUNDS, World, build_world
from sqlmodel import Session

from por.store.db import open_store
from por.store.models import RoundFile
from verifier.errors import FormatError, VerificationError
from verifier.liabilities.proof import InclusionProof, verify_proof

ARTIFACTS = Path(__file__).parent / "artifacts"
VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "liabilities.json").read_text())


@contextlib.contextmanager
def _serve(url: str, world: World, extra: tuple[str, ...] = ()) -> Iterator[str]:
    """``por serve`` over ``url`` and ``world`` (and ``extra`` options), no round's proof
    token in its log."""

    def tokens() -> list[str]:
        return [t for published in world.rounds.values() for t in published.tokens.values()]

    keys = (world.keylist, world.auditor_key_file)
    with por_serve(url, world.rounds_dir, keys, tokens, extra) as origin:
        yield origin


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, World]]:
    """``por serve`` over a published world: round 2026-10 covered, 2026-11 under-reserved."""
    base = tmp_path_factory.mktemp("served")
    url = f"sqlite:///{base / 'por.db'}"
    engine = open_store(url)
    world = build_world(base, engine)
    engine.dispose()
    with _serve(url, world) as origin:
        yield origin, world


@pytest.fixture(scope="module")
def served_failed(served: tuple[str, World], tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[str]:
    """A second ``por serve`` over a copy of the store whose reserves file of round 2026-11
    is not the attested one (one more ETH): that round's check fails."""
    _, world = served
    base = tmp_path_factory.mktemp("failed")
    copy = base / "por.db"
    with sqlite3.connect(world.rounds_dir.parent / "por.db") as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    engine = open_store(f"sqlite:///{copy}")
    with Session(engine) as session:
        row = session.get(RoundFile, ("2026-11", "reserves"))
        assert row is not None
        doc = json.loads(row.content)
        doc["wallets"][0]["balances"][0]["amount"] = str(
            int(doc["wallets"][0]["balances"][0]["amount"]) + 10**18)
        doc["totals"][1] = str(int(doc["totals"][1]) + 10**18)
        row.content = json.dumps(doc, indent=2).encode() + b"\n"
        session.add(row)
        session.commit()
    engine.dispose()
    with _serve(f"sqlite:///{copy}", world) as origin:
        yield origin


@pytest.fixture(scope="module")
def served_witnessed(served: tuple[str, World], tmp_path_factory: pytest.TempPathFactory
                     ) -> Iterator[str]:
    """A third ``por serve`` over a copy of the store in which two witnesses co-signed
    every round's tree head (``por witness add --db``), given both witnesses' keys."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from por.keys import SigningKey
    from verifier.log.sth import SignedTreeHead
    from verifier.log.witness import sign_cosignature

    _, world = served
    base = tmp_path_factory.mktemp("witnessed")
    copy = base / "por.db"
    with sqlite3.connect(world.rounds_dir.parent / "por.db") as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    extra: list[str] = []
    cosignatures: list[str] = []
    for label in ("Witness A", "Witness B"):
        private = Ed25519PrivateKey.generate()
        key_file = base / f"{label[-1]}.pub.json"
        key_file.write_text(json.dumps(SigningKey(private, label).public.to_dict()))
        extra += ["--witness-key", str(key_file)]
        for round_id, bundle in world.bundles.items():
            head = SignedTreeHead.from_json((bundle / "tree-head.json").read_bytes())
            out = base / f"{label[-1]}-{round_id}.json"
            out.write_text(sign_cosignature(private, head, head.head.timestamp).to_json())
            cosignatures.append(str(out))
    por = Path(sys.executable).parent / "por"
    subprocess.run([str(por), "witness", "add", "--db", f"sqlite:///{copy}", *cosignatures],
                   check=True, capture_output=True)
    with _serve(f"sqlite:///{copy}", world, tuple(extra)) as origin:
        yield origin


playwright = pytest.fixture(scope="module")(playwright_driver)


@pytest.fixture(scope="module")
def browser_page(
    served: tuple[str, World], tmp_path_factory: pytest.TempPathFactory, playwright: Any
) -> Iterator[tuple[Any, list[str], list[str]]]:
    """A Chromium page that may reach only the served origin."""
    origin, _ = served
    profile = tmp_path_factory.mktemp("chromium-profile")  # a new, empty user-data dir
    context = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        viewport={"width": 1280, "height": 900},
    )
    try:
        page, outside, errors = origin_only_page(context, origin)
        page.goto(origin + "/")
        page.wait_for_selector("body[data-ready='true']", timeout=30_000)
        yield page, outside, errors
    finally:
        context.close()


def _painted(page: Any, selector: str) -> int:
    """How many pixels of the canvas are not transparent."""
    return int(page.evaluate(
        """(sel) => {
            const c = document.querySelector(sel);
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n++;
            return n;
        }""",
        selector,
    ))


def test_page_renders_charts_and_wallets_offline(browser_page: Any) -> None:
    page, outside, errors = browser_page
    assert page.get_attribute("#chart-latest", "data-rendered") == "true"
    assert page.get_attribute("#chart-history", "data-rendered") == "true"
    assert _painted(page, "#chart-latest") > 1000
    assert _painted(page, "#chart-history") > 1000
    rows = page.locator("#wallet-table tr.wallet")
    assert rows.count() == 3
    checks = page.locator("#wallet-table .sig-status").all_inner_texts()
    assert [c.strip() for c in checks] == ["✓ verified", "✗ failed", "✗ failed"]
    assert "etherscan.io/address/0x" in (rows.nth(0).locator("a").get_attribute("href") or "")
    assert page.locator("#solvency tbody tr.short").count() == 1  # BTC is short in 2026-11
    assert page.locator("#rounds tbody tr").count() == len(ROUNDS)
    assert outside == [], f"the page tried to reach {outside}"
    assert errors == [], f"console errors (CSP violations show here): {errors}"


def test_page_shows_the_signed_figures_and_checks_the_signature_in_the_browser(
    browser_page: Any, served: tuple[str, World]
) -> None:
    page, _, errors = browser_page
    _, world = served
    payload = json.loads(world.attestation_payloads["2026-11"])
    assert page.get_attribute("#verdict", "data-verdict") == "verified"
    assert page.get_attribute("#solvency", "data-source") == "signed"
    rows = page.locator("#solvency tbody tr")
    assert [rows.nth(k).get_attribute("data-symbol") for k in range(rows.count())] == [
        s["symbol"] for s in payload["solvency"]]
    assert payload["solvency"][0]["ratio"] in rows.nth(0).inner_text()
    assert page.locator("#solvency tr.mismatch").count() == 0
    assert page.inner_text("#att-snapshot-time") == payload["snapshot_time"]
    details = page.inner_text("#attestation-details")
    assert f"{world.exchange_key.public.key_id} (Example Exchange)" in details
    assert f"{world.auditor_key.public.key_id} (Example Auditor)" in details
    # The exchange's and the auditor's Ed25519 signatures, checked by WebCrypto in Chromium.
    page.wait_for_selector("#attestation-browser-check:not([data-check='pending'])")
    assert page.get_attribute("#attestation-browser-check", "data-check") == "verified"
    check = page.inner_text("#attestation-browser-check")
    assert "Checked in your browser" in check and "Example Auditor" in check
    assert errors == [], errors


def _page_with_attestation(page: Any, text: str, envelope: dict[str, Any],
                           keys: list[dict[str, str]]) -> dict[str, Any]:
    return dict(page.evaluate(
        """async ([text, envelope, keys]) => PorVerify.verifyProofText(
            text, () => ({attestation: envelope, keys: keys, auditors: []}))""",
        [text, envelope, keys],
    ))


def test_a_proof_is_checked_against_the_signed_root(
    browser_page: Any, served: tuple[str, World]
) -> None:
    import base64

    page, _, _ = browser_page
    _, world = served
    text = world.prove("2026-11", "user-009")
    data = json.loads(page.inner_text("#por-data"))
    envelope, keys = data["attestations"]["2026-11"], data["keys"]
    good = _page_with_attestation(page, text, envelope, keys)
    assert good["verdict"] == "verified", good
    assert good["report"]["checkedAgainst"] == "the root in the signed attestation"
    assert good["report"]["signature"] == "verified"
    # The same payload with another root but the old signature: the signature fails.
    doc = json.loads(base64.b64decode(envelope["payload"]))
    doc["liabilities"]["root_hash"] = "ab" * 32
    forged = {**envelope, "payload": base64.b64encode(
        json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()).decode()}
    bad = _page_with_attestation(page, text, forged, keys)
    assert bad["verdict"] == "failed" and "does not verify" in bad["reason"], bad
    # A signature by a key the key list does not hold.
    stranger = [{**keys[0], "key_id": "cd" * 32}]
    assert "not in the exchange's published key list" in _page_with_attestation(
        page, text, envelope, stranger)["reason"]
    # A key list entry whose id is not its key's SHA-256.
    other = world.auditor_key.public
    swapped = [{"key_id": keys[0]["key_id"], "label": "x", "public_key": other.raw.hex()}]
    assert "is not the SHA-256" in _page_with_attestation(page, text, envelope, swapped)["reason"]
    # The genuine attestation of the other round: its signed root is not this proof's.
    older = _page_with_attestation(page, text, data["attestations"]["2026-10"], keys)
    assert older["verdict"] == "failed", older


def test_a_token_is_verified_in_the_page(browser_page: Any, served: tuple[str, World]) -> None:
    page, _, errors = browser_page
    _, world = served
    published = world.rounds["2026-11"]
    user = "ünïcode user ✓"
    page.fill("#token", published.tokens[user])
    page.click("#token-form button")
    page.wait_for_selector("#verify-result[data-verdict='verified']", timeout=20_000)
    text = page.inner_text("#verify-result")
    assert "VERIFIED" in text and published.summary.root_hash.hex() in text
    assert "the root in the signed attestation" in text
    assert page.get_attribute("#verify-signature", "data-signature") == "verified"
    assert "Example Auditor, also checked here" in text
    btc, eth = published.balances[user]
    assert f"{btc // 10**8}.{btc % 10**8:08d}" in text
    assert f"{eth // 10**18}.{eth % 10**18:018d}" in text
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page.png"), full_page=True)
    assert (ARTIFACTS / "page.png").stat().st_size > 10_000
    page.fill("#token", "0" * 32)
    page.click("#token-form button")
    page.wait_for_selector("#verify-result[data-verdict='error']", timeout=20_000)
    assert "No proof for this token" in page.inner_text("#verify-result")
    assert errors == [e for e in errors if "404" in e]  # only the refused token's fetch


def test_dropped_proofs_valid_and_tampered(
    browser_page: Any, served: tuple[str, World], tmp_path: Path
) -> None:
    page, _, _ = browser_page
    _, world = served
    good = world.prove("2026-10", "user-003")
    path = tmp_path / "proof.json"
    path.write_text(good)
    page.set_input_files("#proof-file", str(path))
    page.wait_for_selector("#verify-result[data-verdict='verified']", timeout=20_000)
    tampered = json.loads(good)
    tampered["amounts"][1] = str(int(tampered["amounts"][1]) + 10**18)  # one more ETH
    path.write_text(json.dumps(tampered, indent=2))
    page.set_input_files("#proof-file", [])
    page.set_input_files("#proof-file", str(path))
    page.wait_for_selector("#verify-result[data-verdict='failed']", timeout=20_000)
    assert "FAILED" in page.inner_text("#verify-result")
    # A valid proof of a round this page does not publish is not accepted either.
    path.write_text(json.dumps(VECTORS["vectors"][0]["proof"]))
    page.set_input_files("#proof-file", [])
    page.set_input_files("#proof-file", str(path))
    page.wait_for_selector("#verify-result[data-verdict='failed']", timeout=20_000)
    assert "has no signed attestation on this page" in page.inner_text("#verify-result")


def _python_verdict(text: str, root: str | None) -> str:
    try:
        expected = bytes.fromhex(root) if root else None
        verify_proof(InclusionProof.from_json(text), expected_root=expected)
    except VerificationError:
        return "failed"
    except FormatError:
        return "malformed"
    return "verified"


def _page_verdicts(page: Any, cases: list[tuple[str, str | None]]) -> list[str]:
    return list(page.evaluate(
        """async (cases) => {
            const out = [];
            for (const [text, root] of cases) {
                out.push((await PorVerify.verifyProofText(text, root)).verdict);
            }
            return out;
        }""",
        cases,
    ))


def test_every_committed_vector_gets_its_verdict_in_the_page(browser_page: Any) -> None:
    page, _, _ = browser_page
    vectors = VECTORS["vectors"]
    cases = [
        (v["proof_text"] if "proof_text" in v else json.dumps(v["proof"]), v["published_root"])
        for v in vectors
    ]
    got = _page_verdicts(page, cases)
    wrong = [(v["name"], v["expected"], g) for v, g in zip(vectors, got, strict=True)
             if g != v["expected"]]
    assert wrong == []
    assert len(got) == 36


def _mutations(rng: random.Random, text: str) -> list[str]:
    doc = json.loads(text)
    out = []
    for _ in range(40):
        chars = list(text)
        i = rng.randrange(len(chars))
        chars[i] = rng.choice('0123456789abcdef"{}[],: -.eE\\ul')
        out.append("".join(chars))
    out.append(text[: rng.randrange(len(text))])
    for key in doc:
        d = dict(doc)
        del d[key]
        out.append(json.dumps(d))
        d = dict(doc)
        d[key] = rng.choice([None, 1, 1.0, "x", [], {}, True, -0, 10**40, "\u0000"])
        out.append(json.dumps(d))
    for user in ("", " ", "a\u200bb", "\u00a0", "tab\there", "ok-\U0001f600", "é" * 65,
                 "é" * 64, "\ud800", "\u0378", "a\u2028"):
        d = dict(doc)
        d["user_id"] = user
        out.append(json.dumps(d))
    for raw in ('{"version": 1.0}', "[" * 70 + "]" * 70, '{"a":1,"a":2}', "\ufeff" + text,
                text.replace('"version": 1', '"version": -0'),
                text.replace('"version": 1', '"version": 01'),
                text.replace('"decimals": 8', '"decimals": -0'),
                text + " \n\t", text + "x", "NaN", '"' + "\\ud800" + '"'):
        out.append(raw)
    return out


def test_page_and_python_agree_on_mutated_proofs(browser_page: Any) -> None:
    # Generate-then-verify, in two languages: each mutant gets the same verdict from the
    # page's verifier as from verifier/liabilities/proof.py, including every way a file can
    # be malformed.
    page, _, _ = browser_page
    rng = random.Random(2026)
    cases: list[tuple[str, str | None]] = []
    for v in VECTORS["vectors"][:6]:
        text = json.dumps(v["proof"], indent=1)
        for mutant in _mutations(rng, text):
            cases.append((mutant, v["published_root"]))
    got = _page_verdicts(page, cases)
    wrong = [(text[:80], _python_verdict(text, root), g)
             for (text, root), g in zip(cases, got, strict=True)
             if _python_verdict(text, root) != g]
    assert wrong == []
    assert len(cases) > 300


def test_the_nonprintable_table_is_pythons() -> None:
    sys.path.insert(0, str(Path(__file__).parents[2] / "web"))
    import gen_nonprintable

    committed = (Path(__file__).parents[2] / "api" / "static" / "nonprintable.js").read_text()
    assert committed == gen_nonprintable.render()


def test_vendored_chart_js_is_the_locked_version() -> None:
    root = Path(__file__).parents[2]
    lock = json.loads((root / "web" / "package-lock.json").read_text())
    locked = lock["packages"]["node_modules/chart.js"]["version"]
    versions = (root / "api" / "static" / "vendor" / "VERSIONS").read_text().splitlines()[0]
    assert versions == f"chart.js {locked}"
    with contextlib.suppress(FileNotFoundError):
        installed = root / "web" / "node_modules" / "chart.js" / "dist" / "chart.umd.min.js"
        assert installed.read_bytes() == (root / "api/static/vendor/chart.umd.min.js").read_bytes()


# --- the headline, the layout, accessibility, the links -------------------------------------

SCREENSHOTS = ARTIFACTS / "screenshots"  # git-ignored, like every artifact here
WIDTHS = (390, 1400)
HEADLINES = {
    "covered": ("/rounds/2026-10", r"Covered: 2 of 2 assets"),
    "under-reserved": ("/rounds/2026-11",
                       r"Under-reserved: BTC, short [0-9]+(\.[0-9]+)? BTC \(90\.0 % covered\)"),
    "failed": ("/rounds/2026-11", r"Check failed: do not rely on these figures"),
}

# WCAG 2.x contrast of an element's text against the first opaque background behind it.
CONTRAST_JS = """(sel) => {
  const rgb = (c) => (c.match(/[0-9.]+/g) || []).map(Number);
  const lin = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = ([r, g, b]) => 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  const out = [];
  for (const el of document.querySelectorAll(sel)) {
    if (!el.textContent.trim() || !el.offsetParent) continue;
    let bg = null;
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) { bg = c.slice(0, 3); break; }
    }
    bg = bg || [255, 255, 255];
    const fg = rgb(getComputedStyle(el).color).slice(0, 3);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    out.push([el.textContent.trim().slice(0, 40), (a + 0.05) / (b + 0.05)]);
  }
  return out;
}"""


@pytest.fixture(scope="module")
def browser(playwright: Any) -> Iterator[Any]:
    """Another Chromium, for pages at given widths (no persistent profile)."""
    b = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    try:
        yield b
    finally:
        b.close()


def _open(browser: Any, url: str, width: int) -> Any:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(url)
    page.wait_for_selector("body[data-ready='true']", timeout=60_000)
    return page


@pytest.mark.parametrize("state", list(HEADLINES))
def test_headline_and_layout_from_phone_to_wide(
    state: str, browser: Any, served: tuple[str, World], served_failed: str
) -> None:
    origin = served_failed if state == "failed" else served[0]
    path, title = HEADLINES[state]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page = _open(browser, origin + path, width)
        try:
            assert page.get_attribute("#verdict", "data-state") == state
            assert re.fullmatch(title, page.inner_text("#headline-text").strip()), (
                page.inner_text("#headline-text"))
            # No horizontal scroll of the page: wide tables scroll in their box or reflow.
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{state} at {width}px: {overflow}px too wide"
            wide = page.evaluate("""() => [...document.querySelectorAll('main *')]
                .filter((e) => !e.closest('.scroll') && e.getBoundingClientRect().right
                               > document.documentElement.clientWidth + 1)
                .map((e) => e.tagName + '#' + e.id + '.' + e.className)""")
            assert wide == [], f"{state} at {width}px: {wide[:5]}"
            page.screenshot(path=str(SCREENSHOTS / f"{state}-{width}.png"), full_page=True)
            if state == "failed":
                codes = page.locator("#attestation-findings li").evaluate_all(
                    "els => els.map((e) => e.dataset.code)")
                assert {"reserves-file", "reserves-figure"} <= set(codes)
            else:
                marks = page.locator("#headline-checks .mark").all_inner_texts()
                assert marks and all(m.split()[0] in ("✓", "!", "✗") for m in marks)
        finally:
            page.close()


def test_headings_captions_and_contrast(browser: Any, served: tuple[str, World]) -> None:
    page = _open(browser, served[0] + "/", 1400)
    try:
        levels = page.locator("h1, h2, h3, h4").evaluate_all(
            "els => els.map((e) => Number(e.tagName[1]))")
        assert levels[0] == 1 and levels.count(1) == 1
        assert all(b - a <= 1 for a, b in itertools.pairwise(levels)), levels
        tables = page.locator("main table").count()
        assert tables >= 4 and page.locator("main table > caption").count() == tables
        low = [(t, r) for t, r in page.evaluate(
            CONTRAST_JS, ".check .mark, .note, caption, .sig-status, td, th, .round-line, "
            ".summary, #headline-text, .lede, a, .pending") if r < 4.5]
        assert low == [], low
    finally:
        page.close()


def test_token_link_verifies_at_once(browser: Any, served: tuple[str, World]) -> None:
    origin, world = served
    token = world.rounds["2026-11"].tokens["user-007"]
    page = _open(browser, f"{origin}/#token={token}", 390)
    try:
        # body[data-ready] waits for the verification the link started: no click needed.
        assert page.get_attribute("#verify-result", "data-verdict") == "verified"
        assert "VERIFIED" in page.inner_text("#verify-result")
        assert token not in page.url  # taken out of the address bar and the history
    finally:
        page.close()


def test_pinned_key_and_rotation_chain_in_the_browser(
    browser: Any, served: tuple[str, World]
) -> None:
    from datetime import UTC, datetime

    from por.keys import SigningKey, new_key_list, rotate

    origin, world = served
    right = world.exchange_key.public.key_id
    page = _open(browser, f"{origin}/#pin={'ab' * 32}", 1400)
    try:
        assert page.get_attribute("#attestation-browser-check", "data-check") == "failed"
        assert "pinned" in page.inner_text("#attestation-browser-check")
        page.goto("about:blank")  # a new document (a fragment change alone reloads nothing)
        page.goto(f"{origin}/#pin={right}")
        page.wait_for_selector("body[data-ready='true']", timeout=60_000)
        assert page.get_attribute("#attestation-browser-check", "data-check") == "verified"
        assert "It is the key you pinned" in page.inner_text("#attestation-browser-check")
        page.goto("about:blank")
        page.goto(f"{origin}/")  # remembered in this browser
        page.wait_for_selector("body[data-ready='true']", timeout=60_000)
        assert right[:16] in page.inner_text("#pin-state")
        # A rotated key list: the chain checks out; a rotation signed by one key only, or a
        # pin outside the chain, fails.
        first, second = SigningKey.generate("k1"), SigningKey.generate("k2")
        rotated = rotate(new_key_list(EXCHANGE_NAME, first.public), first, second,
                         datetime(2026, 6, 1, tzinfo=UTC))
        text = rotated.to_json()
        read = page.evaluate("async (t) => (await PorVerify.readKeyList(t, null)).keys"
                             ".map((k) => [k.key_id, k.from, k.until])", text)
        assert read == [[first.public.key_id, None, "2026-06-01T00:00:00Z"],
                        [second.public.key_id, "2026-06-01T00:00:00Z", None]]
        doc = json.loads(text)
        doc["rotations"][0]["signatures"] = doc["rotations"][0]["signatures"][:1]
        refused = page.evaluate("""async (t) => { try { await PorVerify.readKeyList(t, null);
            return 'accepted'; } catch (e) { return e.message; } }""", json.dumps(doc))
        assert "not signed by the new key" in refused
        outside = page.evaluate("""async ([t, pin]) => { try { await PorVerify.readKeyList(t, pin);
            return 'accepted'; } catch (e) { return e.message; } }""", [text, "cd" * 32])
        assert "is not in the exchange's key list's rotation chain" in outside
    finally:
        page.evaluate("() => window.localStorage.clear()")
        page.close()


def test_witness_and_freshness_lines(browser: Any, served_witnessed: str) -> None:
    page = _open(browser, served_witnessed + "/", 1280)
    try:
        assert page.get_attribute("#verdict", "data-state") == "under-reserved"
        witnesses = page.inner_text("#headline-checks [data-check-name='Witnesses']")
        assert "co-signed by 2 of 2 known witnesses" in witnesses, witnesses
        assert "Witness A" in witnesses and "Witness B" in witnesses
        assert "✓" in witnesses
        fresh = page.inner_text("#freshness")
        assert "latest signed log head" in fresh or "has not published a fresh" in fresh
        assert "as of its tree head" in page.inner_text("#verdict .summary")
    finally:
        page.close()
