"""Private proofs checked in the browser (docs/spec.md §16.15): api/static/verify.js and
verify-private.js, with the vendored libsecp256k1-zkp (WebAssembly) and noble's secp256k1
points, in Debian's Chromium driven by Playwright, against the Python verifier.

The page's files are served exactly as ``por serve`` serves them, under its
Content-Security-Policy (``api.app.CSP``), from a fake origin that Playwright answers from
api/static/ (no server process: the real page under ``por serve`` is
test_private_page_served.py's); every other request is refused and recorded.

- every committed private vector (tests/vectors/private.json) gets the verdict the vector
  states, which tests/private/test_private_vectors.py checks for ``por-verify``;
- a few hundred mutants of the valid ones (bytes flipped in commitments, range proofs,
  hashes, sums, blindings, levels, amounts, the encoding) get the same verdict from the page
  as from ``verifier.private.proof``;
- the libraries load only when a private proof is checked, and need exactly the CSP's
  'wasm-unsafe-eval' (without it the page says it cannot check, never VERIFIED);
- app.js, loaded as on the page, shows the verdicts of proofs chosen in the page's file
  input; screenshots at 390 and 1400 px go to tests/web/artifacts/screenshots/
  (git-ignored).
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import os
import random
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from browser_setup import CHROMIUM, CHROMIUM_ARGS, playwright_driver, require_chromium

from api.app import CSP
from verifier.errors import FormatError, VerificationError

pytest.importorskip("wallycore")  # the Python side of every comparison: the [private] extra
from verifier.private.proof import PrivateProof, verify_private_proof

ROOT = Path(__file__).parents[2]
STATIC = ROOT / "api" / "static"
# Never reached (Playwright answers it); loopback is a secure context, so WebCrypto works.
ORIGIN = "http://127.0.0.1:9"
SCREENSHOTS = Path(__file__).parent / "artifacts" / "screenshots"
DOC = json.loads((ROOT / "tests" / "vectors" / "private.json").read_text())
VECTORS = DOC["vectors"]
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".html": "text/html; charset=utf-8", ".wasm": "application/wasm"}

# The page's verify section, as api/templates/index.html lays it out (its file input and
# result), with the scripts the page loads, app.js last: the verdict is shown by the page's
# own code. Its data block (no inline script: the CSP forbids it; a JSON block is data) has
# no round, chart or attestation: app.js then draws nothing, and a private proof it checks
# can at best FAIL for want of a signed attestation (the VERIFIED page, attested, is
# test_private_page_served.py's).
HARNESS = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Verify a private proof</title><link rel="stylesheet" href="/static/style.css"></head>
<body><main><section id="verify"><h2>Verify your proof</h2>
<div id="drop-zone"><label for="proof-file">…or drop your proof file here, or choose it:</label>
<input id="proof-file" type="file" accept=".json,application/json"></div>
<div id="verify-result" aria-live="polite" data-verdict="none"></div></section></main>
<script type="application/json" id="por-data">{"attestations": {}, "current": null,
"history": []}</script>
<script src="/static/nonprintable.js"></script><script src="/static/verify.js"></script>
<script src="/static/app.js"></script></body></html>"""


def _text(vector: dict[str, Any]) -> str:
    return str(vector["proof_text"]) if "proof_text" in vector else rfc8785.dumps(
        vector["proof"]).decode()


def python_verdict(text: str, root: str | None) -> str:
    """``verifier.private.proof``'s verdict, as ``por-verify proof --root`` gives it (a
    proof without an anchor is "verified" here, as the vectors state, and UNANCHORED there)."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        return "malformed"
    try:
        proof = PrivateProof.from_json(data)
        verify_private_proof(proof, expected_root=bytes.fromhex(root) if root else None)
    except VerificationError:
        return "failed"
    except FormatError:
        return "malformed"
    return "verified"


class Browser:
    """A Chromium page on the fake origin; what it fetched, and what it refused."""

    def __init__(self, page: Any, fetched: list[str], outside: list[str], errors: list[str]):
        self.page, self.fetched, self.outside, self.errors = page, fetched, outside, errors

    def verdicts(self, cases: list[tuple[str, str | None]]) -> list[dict[str, Any]]:
        return list(self.page.evaluate(
            """async (cases) => {
                const out = [];
                for (const [text, root] of cases) {
                    out.push(await PorVerify.verifyProofText(text, root));
                }
                return out;
            }""", cases))


def _open(playwright: Any, csp: str, width: int = 1280) -> Iterator[Browser]:
    require_chromium()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=CHROMIUM_ARGS)
    fetched: list[str] = []
    outside: list[str] = []
    errors: list[str] = []

    def route(r: Any) -> None:
        url = r.request.url
        if not url.startswith(ORIGIN + "/"):
            outside.append(url)
            r.abort()
            return
        path = url[len(ORIGIN):].split("?")[0]
        fetched.append(path)
        if path == "/":
            body, kind = HARNESS.encode(), TYPES[".html"]
        elif path.startswith("/static/") and ".." not in path:
            file = STATIC / path[len("/static/"):]
            if not file.is_file():
                r.fulfill(status=404, body=b"")
                return
            body, kind = file.read_bytes(), TYPES.get(file.suffix, "application/octet-stream")
        else:
            r.fulfill(status=404, body=b"")
            return
        r.fulfill(status=200, body=body, headers={
            "Content-Type": kind, "Content-Security-Policy": csp,
            "X-Content-Type-Options": "nosniff"})

    try:
        context = browser.new_context(viewport={"width": width, "height": 900})
        context.route("**/*", route)
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(ORIGIN + "/")
        page.wait_for_function("() => typeof PorVerify === 'object'")
        yield Browser(page, fetched, outside, errors)
    finally:
        browser.close()


playwright = pytest.fixture(scope="module")(playwright_driver)


@pytest.fixture(scope="module")
def browser(playwright: Any) -> Iterator[Browser]:
    yield from _open(playwright, CSP)


def test_the_libraries_load_only_when_a_private_proof_is_checked(playwright: Any) -> None:
    for b in _open(playwright, CSP):
        assert b.page.evaluate("() => typeof PorZkp") == "undefined"
        assert not [f for f in b.fetched if "por-zkp" in f or "verify-private" in f]
        spot = json.loads((ROOT / "tests" / "vectors" / "liabilities.json").read_text())
        v = spot["vectors"][0]
        assert b.verdicts([(json.dumps(v["proof"]), v["published_root"])])[0]["verdict"] == (
            v["expected"])
        assert not [f for f in b.fetched if "por-zkp" in f], "a spot proof loaded the libraries"
        valid = VECTORS[0]
        assert b.verdicts([(_text(valid), valid["root"])])[0]["verdict"] == "verified"
        assert b.fetched.count("/static/vendor/por-zkp.js") == 1
        assert b.fetched.count("/static/verify-private.js") == 1
        assert b.verdicts([(_text(valid), valid["root"])])[0]["verdict"] == "verified"
        assert b.fetched.count("/static/vendor/por-zkp.js") == 1  # loaded once
        assert b.outside == [] and b.errors == []


def test_without_wasm_unsafe_eval_the_page_says_it_cannot_check(playwright: Any) -> None:
    # The CSP's 'wasm-unsafe-eval' is what the WebAssembly module needs, and all it needs:
    # without it the module does not compile, and the verdict is never a pass.
    strict = CSP.replace(" 'wasm-unsafe-eval'", "")
    assert strict != CSP
    for b in _open(playwright, strict):
        valid = VECTORS[0]
        result = b.verdicts([(_text(valid), valid["root"])])[0]
        assert result["verdict"] == "unsupported", result
        assert "por-verify proof" in result["reason"]


def test_every_private_vector_gets_its_verdict_in_the_page(browser: Browser) -> None:
    cases = [(_text(v), v["root"]) for v in VECTORS]
    got = browser.verdicts(cases)
    wrong = [(v["name"], v["expected"], g) for v, g in zip(VECTORS, got, strict=True)
             if g["verdict"] != v["expected"]]
    assert wrong == []
    assert len(got) == len(VECTORS) >= 18
    assert {v["expected"] for v in VECTORS} == {"verified", "failed", "malformed"}
    # And the same as the Python verifier's, case by case.
    assert [python_verdict(t, r) for t, r in cases] == [g["verdict"] for g in got]
    reports: dict[str, Any] = {
        v["name"]: g.get("report") for v, g in zip(VECTORS, got, strict=True)}
    alice = reports["valid-private-proof-alice"]
    assert alice["rangeProofsChecked"] == 2 * 2 and alice["checkedAgainst"] == "the published root"
    hybrid = reports["valid-hybrid-proof-alice-hidden-2"]
    assert hybrid["hiddenLevels"] == 2 and hybrid["rangeProofsChecked"] == 2 * 2
    assert hybrid["reveals"].startswith("hybrid, L = 2")
    dave = reports["valid-private-proof-dave-unit-exponent"]
    eth = dave["assets"][1]
    assert eth["unitExponent"] == 1
    assert int(dave["values"][1]) == -(-int(dave["amounts"][1]) // 10)
    assert browser.errors == [] and browser.outside == []


def _flip_hex(rng: random.Random, value: str) -> str:
    i = rng.randrange(len(value))
    return value[:i] + rng.choice([c for c in "0123456789abcdef" if c != value[i]]) + value[i + 1:]


def _flip_b64(rng: random.Random, value: str) -> str:
    raw = bytearray(base64.b64decode(value))
    i = rng.randrange(len(raw))
    raw[i] ^= 1 << rng.randrange(8)
    return base64.b64encode(bytes(raw)).decode()


Path_ = tuple[str | int, ...]


def _get(doc: Any, path: Path_) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _mutants(rng: random.Random, proof: dict[str, Any]) -> list[str]:
    """Mutants of a valid proof: each field a verifier reads, changed one way or another."""
    edits: list[tuple[Path_, Callable[..., Any]]] = []
    hex_flip = functools.partial(_flip_hex, rng)
    n = len(proof["assets"])
    levels = len(proof["path"])
    for level, step in enumerate(proof["path"]):
        at: Path_ = ("path", level)
        for j in range(n):
            if "commitments" in step:
                edits += [
                    ((*at, "commitments", j), hex_flip),
                    # the prefix flipped: the negated point (valid, but not the sibling)
                    ((*at, "commitments", j), lambda c: ("09" if c[:2] == "08" else "08") + c[2:]),
                    ((*at, "range_proofs", j), functools.partial(_flip_b64, rng)),
                    ((*at, "range_proofs", j), lambda r: r[:-8]),
                    ((*at, "range_proofs"), lambda rs, a=j: [*rs[:a], rs[(a + 1) % n],
                                                              *rs[a + 1:]]),
                ]
            else:
                edits += [
                    ((*at, "sums", j), lambda v: str(int(v) + rng.choice([1, 2**64]))),
                    ((*at, "sums", j), lambda v: str(max(int(v) - 1, 0) if int(v) else 1)),
                    ((*at, "blindings", j), hex_flip),
                ]
            edits.append(((*at, "parents", j), hex_flip))
        edits += [
            ((*at, "hash"), hex_flip),
            ((*at, "side"), lambda side: "left" if side == "right" else "right"),
            (("path",), lambda path, lv=level: [*path[:lv], path[(lv + 1) % levels],
                                                *path[lv + 1:]]),
        ]
    edits += [(("path",), lambda path: path[:-1]), (("path",), lambda path: path[::-1])]
    for j in range(n):
        e = proof["assets"][j]["unit_exponent"]
        edits += [
            (("amounts", j), lambda v: str(int(v) + 1)),
            (("amounts", j), lambda v: str(2**128)),
            (("amounts", j), lambda v, e=e: str(2**64 * 10**e + 1)),
            (("blindings", j), hex_flip),
            (("blindings", j), lambda v: "f" * 64),
            (("root", "totals", j), lambda v: str(int(v) + 1)),
            (("root", "totals", j), lambda v: str(2**64)),
            (("root", "blindings", j), hex_flip),
            (("assets", j, "unit_exponent"), lambda v: v + 1),
            (("assets", j, "unit_exponent"), lambda v: 39),
            (("assets", j, "decimals"), lambda v: v + 1),
        ]
    edits += [
        (("salt",), hex_flip), (("user_id",), lambda v: v + "x"), (("round",), lambda v: v + "x"),
        (("root", "hash"), hex_flip), (("root", "leaf_count"), lambda v: v * 2),
        (("root",), lambda r: {**r, "hidden_levels": 1}),
        (("root",), lambda r: {k: v for k, v in r.items() if k != "hidden_levels"}),
        (("version",), lambda v: 3 - v), (("scheme",), lambda v: "por-mst"),
    ]
    texts = []
    for path, change in edits:
        doc = copy.deepcopy(proof)
        _get(doc, path[:-1])[path[-1]] = change(_get(doc, path))
        texts.append(rfc8785.dumps(doc).decode())
    canonical = rfc8785.dumps(proof).decode()
    texts += [json.dumps(proof), canonical + "\n", " " + canonical, canonical[:-1],
              canonical.replace('"version":', '"version":0', 1),
              canonical.replace('"leaf_count":', '"leaf_count":-0+', 1),
              canonical[:-1] + ',"extra":1}',
              json.dumps({**proof, "version": 2**53}, sort_keys=True, separators=(",", ":"))]
    for _ in range(12):  # a character anywhere
        i = rng.randrange(len(canonical))
        texts.append(canonical[:i] + rng.choice('0123456789abcdef"{}[],:x') + canonical[i + 1:])
    return texts


def test_page_and_python_agree_on_private_mutants(browser: Browser) -> None:
    rng = random.Random(2026_14)
    cases: list[tuple[str, str | None]] = []
    for v in VECTORS:
        if v["expected"] == "verified":
            for text in _mutants(rng, v["proof"]):
                cases.append((text, v["root"]))
    got = [g["verdict"] for g in browser.verdicts(cases)]
    wanted = [python_verdict(t, r) for t, r in cases]
    wrong = [(t[:120], w, g) for (t, _), w, g in zip(cases, wanted, got, strict=True) if w != g]
    assert wrong == []
    assert len(cases) >= 300
    assert "verified" not in {g for g, w in zip(got, wanted, strict=True) if w != "verified"}
    assert {"failed", "malformed"} <= set(got)
    assert browser.errors == [] and browser.outside == []


@pytest.mark.parametrize("width", [390, 1400])
def test_screenshots_of_private_proofs_shown_by_the_page(
    playwright: Any, tmp_path: Path, width: int
) -> None:
    """app.js itself shows the verdicts, the proof chosen in the page's file input: a valid
    proof, with no signed attestation on this page, FAILS saying its own checks held; a
    tampered one FAILS saying why. The page does not scroll sideways at either width."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    cases = (
        ("unattested", "valid-hybrid-proof-alice-hidden-2",
         "has no signed attestation on this page: nothing to check the proof's root against"
         " (its path, 4 range proofs, commitment sums and root opening hold in this browser)"),
        ("failed", "range-proof-moved-to-another-level",
         "the range proof does not verify for this commitment at this position"),
    )
    for b in _open(playwright, CSP, width):
        b.page.wait_for_selector("body[data-ready='true']", timeout=60_000)
        for state, name, reason in cases:
            vector = next(v for v in VECTORS if v["name"] == name)
            proof = tmp_path / f"{state}.json"
            proof.write_text(_text(vector))
            b.page.set_input_files("#proof-file", [])
            b.page.set_input_files("#proof-file", str(proof))
            b.page.wait_for_selector("#verify-result[data-verdict='failed']", timeout=60_000)
            text = b.page.inner_text("#verify-result")
            assert text.startswith("FAILED") and reason in text, text
            overflow = b.page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"the page scrolls sideways at {width} px"
            path = SCREENSHOTS / f"private-{state}-{width}.png"
            b.page.screenshot(path=str(path), full_page=True)
            assert path.stat().st_size > 5_000
        assert b.errors == [] and b.outside == []


def test_vendored_private_libraries_are_the_locked_versions(tmp_path: Path) -> None:
    web = ROOT / "web"
    package = json.loads((web / "package.json").read_text())
    lock = json.loads((web / "package-lock.json").read_text())["packages"]
    pinned = {**package["dependencies"], **package["devDependencies"]}
    for name in ("@vulpemventures/secp256k1-zkp", "@noble/curves", "esbuild"):
        assert pinned[name] == lock[f"node_modules/{name}"]["version"], name  # exact pins
    version = {name: lock[f"node_modules/{name}"]["version"] for name in (
        "chart.js", "@vulpemventures/secp256k1-zkp", "@noble/curves", "@noble/hashes", "long",
        "esbuild")}
    vendor = STATIC / "vendor"
    assert (vendor / "VERSIONS").read_text().splitlines() == [
        f"chart.js {version['chart.js']}",
        f"por-zkp.js: @vulpemventures/secp256k1-zkp {version['@vulpemventures/secp256k1-zkp']},"
        f" @noble/curves {version['@noble/curves']}, @noble/hashes {version['@noble/hashes']},"
        f" long {version['long']}, bundled by esbuild {version['esbuild']}"]
    assert (vendor / "por-zkp.wasm").read_bytes()[:4] == b"\0asm"
    assert b";base64,AGFzbQ" not in (vendor / "por-zkp.js").read_bytes()  # no inlined module
    for licence in ("secp256k1-zkp.LICENSE", "libsecp256k1-zkp.COPYING", "noble-curves.LICENSE",
                    "noble-hashes.LICENSE", "long.LICENSE"):
        assert (vendor / licence).stat().st_size > 500
    if not (web / "node_modules" / ".bin" / "esbuild").exists():
        return  # `npm ci` in web/ was not run here: the committed files are checked above
    # Rebuilt from the locked packages, the committed files come out byte for byte.
    subprocess.run(["sh", str(web / "vendor.sh")], check=True, env={
        **os.environ, "VENDOR_DEST": str(tmp_path)})
    for name in ("por-zkp.js", "por-zkp.wasm", "VERSIONS"):
        assert (tmp_path / name).read_bytes() == (vendor / name).read_bytes(), name


def test_the_webassembly_library_answers_as_known(browser: Browser) -> None:
    # Known answers of the vendored libsecp256k1-zkp build, so a rebuilt or swapped module
    # that verifies anything, or nothing, fails here loudly: one release of the wrapper's C
    # code returned from rangeproof_verify right after parsing the generator, without
    # verifying the proof (a missing `if (!ret)`); the committed build verifies.
    vector = next(v for v in VECTORS if v["name"] == "valid-private-proof-alice")
    proof = vector["proof"]
    step = proof["path"][0]
    answers = browser.page.evaluate(
        """async ([text, proofB64, otherB64, commitment, parent, round, leafIndex]) => {
            await PorVerify.verifyProofText(text, null); // loads the libraries
            const bytes = (h) => Uint8Array.from(h.match(/../g).map((x) => parseInt(x, 16)));
            const zkp = await PorZkp.load();
            const enc = new TextEncoder();
            const seed = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array([
                ...enc.encode("POR-PRV-V1:GENR:"), 0, 3, ...enc.encode("BTC"), 8])));
            const gen = zkp.generator.generate(seed);
            const position = (level, index, asset) => new Uint8Array([
                ...enc.encode("POR-PRV-V1:RNGE:"), 0, round.length, ...enc.encode(round), level,
                0, 0, 0, 0, 0, 0, 0, index, asset]);
            const proof = Uint8Array.from(atob(proofB64), (c) => c.charCodeAt(0));
            const flipped = proof.slice(); flipped[100] ^= 1;
            const other = Uint8Array.from(atob(otherB64), (c) => c.charCodeAt(0));
            const here = position(0, leafIndex ^ 1, 0);
            const check = (p, c, at) => zkp.rangeproof.verify(p, bytes(c), gen, at);
            return {
                genHex: Array.from(gen, (b) => b.toString(16).padStart(2, "0")).join(""),
                valid: check(proof, commitment, here),
                otherLevel: check(proof, commitment, position(1, leafIndex ^ 1, 0)),
                otherAsset: check(proof, commitment, position(0, leafIndex ^ 1, 1)),
                flipped: check(flipped, commitment, here),
                otherCommitment: check(proof, parent, here),
                otherProof: check(other, commitment, here),
                info: zkp.rangeproof.info(proof),
            };
        }""", [_text(vector), step["range_proofs"][0], step["range_proofs"][1],
               step["commitments"][0],
               step["parents"][0], proof["round"],
               sum(1 << i for i, s in enumerate(proof["path"]) if s["side"] == "left")])
    from verifier.private import commitments as pc
    from verifier.private.scheme import PrivateAsset, generator_seed

    assert answers["genHex"] == pc.generator(generator_seed(PrivateAsset("BTC", 8, 0))).hex()
    assert answers["valid"] is True
    assert not any(answers[k] for k in (
        "otherLevel", "otherAsset", "flipped", "otherCommitment", "otherProof"))
    assert answers["info"] == {"exp": "0", "mantissa": "64", "minValue": "0",
                               "maxValue": str(2**64 - 1)}
