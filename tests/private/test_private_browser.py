"""The page's verifier (api/static/verify.js) in Chromium on every private vector, on a
page that cannot load its private-proof libraries (about:blank): it never passes a private
proof and says, for each, to use ``por-verify`` (spec §16.15; where they load, the page
checks private proofs: tests/web/test_private_page.py). ``por-verify``'s verdicts on the
same vectors are tests/private/test_private_vectors.py's."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rfc8785

CHROMIUM = "/usr/bin/chromium"
STATIC = Path(__file__).parents[2] / "api" / "static"
DOC = json.loads((Path(__file__).parents[1] / "vectors" / "private.json").read_text())


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: scripts/services.d/chromium.sh installs it")
        pytest.skip("chromium is not installed (run scripts/setup-services.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox"])
        try:
            pg = browser.new_page()
            pg.set_content("<!doctype html><title>t</title>")
            pg.add_script_tag(path=str(STATIC / "nonprintable.js"))
            pg.add_script_tag(path=str(STATIC / "verify.js"))
            yield pg
        finally:
            browser.close()


def _text(vector: dict[str, Any]) -> str:
    return str(vector["proof_text"]) if "proof_text" in vector else rfc8785.dumps(
        vector["proof"]).decode()


def test_no_private_vector_passes_in_the_page_and_each_says_por_verify(page: Any) -> None:
    cases = [(_text(v), v["root"]) for v in DOC["vectors"] if "proof_text" not in v]
    results = page.evaluate(
        """async (cases) => {
            const out = [];
            for (const [text, root] of cases) out.push(await PorVerify.verifyProofText(text, root));
            return out;
        }""", cases)
    vectors = [v for v in DOC["vectors"] if "proof_text" not in v]
    assert len(results) == len(cases) == len(vectors) >= 17
    for vector, result in zip(vectors, results, strict=True):
        # Never a pass; malformed only where por-verify says so too (a wrong top-level shape).
        if result["verdict"] == "malformed":
            assert vector.get("final", vector["expected"]) == "malformed", vector["name"]
            continue
        assert result["verdict"] == "unsupported", (vector["name"], result)
        assert "por-verify proof" in result["reason"]
    assert {r["verdict"] for v, r in zip(vectors, results, strict=True)
            if v["expected"] == "verified"} == {"unsupported"}
