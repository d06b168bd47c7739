"""A margin round's page in a real browser (Debian's Chromium driven by Playwright, against
``por serve`` on loopback over a real store and a real margin round), and the page's own
margin verifier (api/static/verify.js) against the library and the CLI.

Every committed margin vector (tests/vectors/margin.json) gets the same verdict from
``verifier.liabilities.proof``, from ``por-verify proof`` and from the page; mutants of the
valid ones get the same verdict from the page as from the library. A token link opens a
borrower's proof, which the page checks at once (path, both sums per node, the user's own
rule at the round's prices and haircuts) against the signed version 3 attestation. No request
may leave the server's origin. Screenshots at 360 and 1280 px go to tests/web/artifacts/
(git-ignored).
"""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_setup import (
    chromium_browser,
    origin_only_page,
    por_serve,
)
from click.testing import CliRunner
from margin_attest_world import ServedMargin, served_margin

from verifier.cli import main as verify_main
from verifier.errors import FormatError, VerificationError
from verifier.liabilities.proof import MarginInclusionProof, verify_margin_proof

SCREENSHOTS = Path(__file__).parent / "artifacts" / "screenshots"
VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "margin.json").read_text())
EXIT = {"verified": 0, "failed": 1, "malformed": 2}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ServedMargin]]:
    m = served_margin(tmp_path_factory.mktemp("margin-served"))
    keys = (m.keylist, m.auditor_key_file)
    with por_serve(m.database_url, m.rounds_dir, keys, m.tokens.values) as origin:
        yield origin, m


browser = pytest.fixture(scope="module")(chromium_browser)


@contextlib.contextmanager
def _page(browser: Any, origin: str, path: str = "/", width: int = 1280) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page, outside, errors = origin_only_page(context, origin)
    try:
        page.goto(origin + path)
        page.wait_for_selector("body[data-ready='true']", timeout=60_000)
        yield page
        assert outside == [], outside
        assert [e for e in errors if "favicon" not in e and "404" not in e] == [], errors
    finally:
        context.close()


def _library(text: str, root: str | None) -> str:
    try:
        verify_margin_proof(MarginInclusionProof.from_json(text),
                            expected_root=bytes.fromhex(root) if root else None)
    except VerificationError:
        return "failed"
    except FormatError:
        return "malformed"
    return "verified"


def _cli(text: str, root: str, tmp: Path) -> str:
    path = tmp / "proof.json"
    path.write_text(text)
    code = CliRunner().invoke(verify_main, ["proof", str(path), "--root", root]).exit_code
    return {v: k for k, v in EXIT.items()}.get(code, f"exit {code}")


def _page_verdicts(page: Any, cases: list[tuple[str, str | None]]) -> list[str]:
    return list(page.evaluate(
        """async (cases) => {
            const out = [];
            for (const [text, root] of cases) {
                out.push((await PorVerify.verifyProofText(text, root)).verdict);
            }
            return out;
        }""", cases))


def test_margin_vectors_same_verdict_library_cli_browser(
        browser: Any, served: tuple[str, ServedMargin], tmp_path: Path) -> None:
    origin, _ = served
    cases = [(json.dumps(v["proof"]), v["root"]) for v in VECTORS["vectors"]]
    with _page(browser, origin) as page:
        in_page = _page_verdicts(page, cases)  # type: ignore[arg-type]
    table = [(v["name"], v["expected"], _library(text, root), _cli(text, root, tmp_path), got)
             for v, (text, root), got in zip(VECTORS["vectors"], cases, in_page, strict=True)]
    wrong = [row for row in table if len(set(row[1:])) != 1]
    assert wrong == []
    assert {v for _, v, *_ in table} == {"verified", "failed", "malformed"}
    assert len(table) == 11


def _mutants(rng: random.Random, text: str) -> list[str]:
    doc = json.loads(text)
    out = []
    for _ in range(60):
        chars = list(text)
        i = rng.randrange(len(chars))
        chars[i] = rng.choice('0123456789abcdef"{}[],: -.eE')
        out.append("".join(chars))
    for key in doc:
        d = dict(doc)
        del d[key]
        out.append(json.dumps(d))
        d = dict(doc)
        d[key] = rng.choice([None, 1, "x", [], {}, True, 10**40])
        out.append(json.dumps(d))
    risk = doc["risk"]
    for change in ({"value_decimals": 39}, {"quote": ""}, {"version": 2},
                   {"assets": risk["assets"][:1]}, {"extra": 1}):
        d = json.loads(text)
        d["risk"] = {**risk, **change}
        out.append(json.dumps(d))
    for price in ("0", "01", "1.0", "1e3", "-5", "30000.50", "0.000000000000000000001"):
        d = json.loads(text)
        d["risk"]["assets"][0]["price"] = price
        out.append(json.dumps(d))
    for tiers in ([], [{"up_to": "10", "ratio": 101}], [{"up_to": "0", "ratio": 50}],
                  [{"up_to": "20", "ratio": 50}, {"up_to": "20", "ratio": 40}]):
        d = json.loads(text)
        d["risk"]["assets"][0]["tiers"] = tiers
        out.append(json.dumps(d))
    for field in ("equity", "debt", "collateral"):
        for value in ("0", "1", str(2**128), "-1"):
            d = json.loads(text)
            d["positions"][0][field] = value
            out.append(json.dumps(d))
    return out


def test_page_and_library_agree_on_margin_mutants(
        browser: Any, served: tuple[str, ServedMargin]) -> None:
    origin, _ = served
    rng = random.Random(2027)
    cases: list[tuple[str, str | None]] = []
    for v in VECTORS["vectors"][:3]:
        text = json.dumps(v["proof"], indent=1)
        cases += [(mutant, v["root"]) for mutant in _mutants(rng, text)]
    with _page(browser, origin) as page:
        got = _page_verdicts(page, cases)
    wrong = [(text[:60], _library(text, root), g)
             for (text, root), g in zip(cases, got, strict=True) if _library(text, root) != g]
    assert wrong == []
    assert len(cases) > 250 and {"verified", "failed", "malformed"} <= set(got)


def test_token_link_checks_the_borrowers_rule_and_path(
        browser: Any, served: tuple[str, ServedMargin]) -> None:
    origin, m = served
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in (360, 1280):
        with _page(browser, origin, f"/#token={m.tokens['m-borrower-2']}", width) as page:
            assert page.get_attribute("#verify-result", "data-verdict") == "verified"
            rule = page.inner_text("#verify-rule")
            assert "Your debt is covered by your own collateral" in rule
            assert "36,000.00 USD ≥ debt 30,000.00 USD" in rule  # 20 ETH at 90 %, 0.5 BTC
            rows = page.locator("#verify-balances tbody tr").all_inner_texts()
            assert "BTC" in rows[1] and "0.50000000" in rows[1]
            assert page.get_attribute("#verify-signature", "data-signature") == "verified"
            assert page.get_attribute("#solvency", "data-margin") == "true"
            assert "every debt is covered by the borrower's own collateral" in page.inner_text(
                "#margin-note")
            short = page.locator("#solvency tr.short").all_inner_texts()
            assert len(short) == 1 and "BTC" in short[0] and "short 2.50000000" in short[0]
            assert page.locator("#margin-totals tbody tr").count() == 2
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{width}px: {overflow}px too wide"
            page.screenshot(path=str(SCREENSHOTS / f"margin-{width}.png"), full_page=True)
        with _page(browser, origin, f"/#token={m.tokens['m-saver']}", width) as page:
            assert page.get_attribute("#verify-result", "data-verdict") == "verified"
            assert "You owe nothing" in page.inner_text("#verify-rule")


def test_tampered_margin_proof_fails_against_the_signed_root(
        browser: Any, served: tuple[str, ServedMargin], tmp_path: Path) -> None:
    origin, m = served
    honest = json.loads(m.round.proof.to_json())
    debtless = json.loads(m.round.proof.to_json())
    debtless["positions"][1]["debt"] = "0"  # hide the debt: another leaf, another root
    other_prices = json.loads(m.round.proof.to_json())
    other_prices["risk"]["assets"][1]["price"] = "1"  # BTC nearly free: the debt vanishes
    with _page(browser, origin) as page:
        for doc, verdict, reason in ((honest, "verified", ""),
                                     (debtless, "failed", "root"),
                                     (other_prices, "failed", "root")):
            path = tmp_path / "proof.json"
            path.write_text(json.dumps(doc))
            page.set_input_files("#proof-file", [])
            page.set_input_files("#proof-file", str(path))
            page.wait_for_selector(f"#verify-result[data-verdict='{verdict}']", timeout=20_000)
            assert reason in page.inner_text("#verify-result")
