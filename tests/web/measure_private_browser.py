"""How long the page takes to check a private proof in Chromium (not a test: a measurement,
spec §16.15). Prints the load average and a yardstick taken in the same run, the same
proof checked by the Python verifier (wallycore), beside the browser's figures.

    .venv/bin/python tests/web/measure_private_browser.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import rfc8785
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))
sys.path.insert(0, str(Path(__file__).parent))
from test_private_page import CSP, VECTORS, _open

from verifier.private.proof import PrivateProof, verify_private_proof


def main() -> None:
    vector = next(v for v in VECTORS if v["name"] == "valid-private-proof-alice")
    text = rfc8785.dumps(vector["proof"]).decode()
    runs = 10
    print(f"load average before: {os.getloadavg()}")
    start = time.perf_counter()
    for _ in range(runs):
        verify_private_proof(PrivateProof.from_json(text.encode()),
                             expected_root=bytes.fromhex(vector["root"]))
    python_ms = (time.perf_counter() - start) * 1000 / runs
    with sync_playwright() as p:
        for b in _open(p, CSP):
            first, then = b.page.evaluate(
                """async ([t, r, runs]) => {
                    const t0 = performance.now();
                    const a = await PorVerify.verifyProofText(t, r);
                    if (a.verdict !== "verified") throw new Error(a.reason);
                    const t1 = performance.now();
                    for (let i = 0; i < runs; i++) await PorVerify.verifyProofText(t, r);
                    return [t1 - t0, (performance.now() - t1) / runs];
                }""", [text, vector["root"], runs])
    print(f"proof of 2 levels x 2 assets (4 range proofs, 4 sums, 1 root opening):"
          f" browser first check (load + compile + check) {first:.0f} ms,"
          f" then {then:.1f} ms per proof; yardstick, verifier.private (Python, wallycore)"
          f" {python_ms:.1f} ms per proof")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
