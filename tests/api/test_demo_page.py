"""``por demo`` end to end (moved here from tests/test_cli_core.py when the demo became several
rounds): a margin exchange (users borrow against collateral) publishes four weekly margin
rounds, the latest under-reserved on one asset against its net liabilities, checks each bundle
with ``por-verify bundle`` over JSON-RPC, and ends with the ``por serve`` command and a link;
the page served with exactly those options says what the verifier said, round by round.
"""

from __future__ import annotations

import re
import shlex
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import Settings, create_app
from por.cli import main as por_main
from por.demo.run import SHORT_ROUND


def test_demo_publishes_rounds_the_page_and_the_verifier_agree_on(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    res = CliRunner().invoke(
        por_main, ["demo", "--out", str(out), "--users", "300", "--assets", "3"]
    )
    assert res.exit_code == 0, res.output
    rounds = re.findall(r"^2\. round (\S+): .*: (covered: 3 of 3 assets|UNDER-RESERVED: .*)$",
                        res.output, re.MULTILINE)
    assert len(rounds) == 4, res.output
    states = [("short" if v.startswith("UNDER") else "covered") for _, v in rounds]
    assert states == ["covered", "covered", "covered", "short"]
    assert "UNDER-RESERVED: USDC short" in rounds[SHORT_ROUND][1]
    assert len(list((out / "proofs").glob("*.json"))) == 3
    # The bundle checks re-read the reserves over JSON-RPC, and that server is gone now.
    rpc = re.search(r"--rpc ethereum=http://127\.0\.0\.1:PORT on each round in order: passed, "
                    r"exit 0", res.output)
    assert rpc is not None, res.output
    # It ends by telling the user how to open the page, with the exact paths...
    lines = res.output.splitlines()
    serve = shlex.split(lines[lines.index("Open the public page (verdict per round, charts, "
                                          "wallets, verify my proof):") + 1])
    assert serve[:2] == ["por", "serve"]
    opts = dict(zip(serve[2::2], serve[3::2], strict=True))
    assert opts["--db"] == f"sqlite:///{(out / 'por.db').absolute()}"
    token = re.search(r"http://127\.0\.0\.1:8000/#token=([0-9a-f]{32})", res.output)
    assert token is not None
    # ...and those options serve the demo's rounds, each with the verdict the verifier gave.
    settings = Settings(database_url=opts["--db"], rounds_dir=Path(opts["--rounds"]),
                        keylist=Path(opts["--keylist"]),
                        auditor_keys=(Path(opts["--auditor-key"]),), proof_rate_per_minute=0)
    with TestClient(create_app(settings)) as client:
        served = client.get("/api/v1/rounds").json()["rounds"]
        assert [r["round"] for r in served] == [r for r, _ in reversed(rounds)]
        assert all(r["attestation"]["verdict"] == "verified" for r in served)
        assert [r["headline"]["state"] for r in reversed(served)] == [
            "covered", "covered", "covered", "under-reserved"]
        short = served[len(served) - 1 - SHORT_ROUND]["headline"]
        assert re.fullmatch(r"Under-reserved: USDC, short [0-9.]+ USDC \([0-9]+\.[0-9] % covered\)",
                            short["title"]), short["title"]
        latest = served[0]
        assert latest["headline"]["title"] == short["title"]
        assert [s["role"] for s in latest["attestation"]["signers"]] == ["exchange", "auditor"]
        # A margin round: net liabilities = equity - debt, users did borrow, and each line
        # is the signed one.
        assert latest["liabilities"]["scheme"] == "por-mst-margin"
        for line in latest["attestation"]["solvency"]:
            assert int(line["liabilities"]) == max(
                0, int(line["total_equity"]) - int(line["total_debt"]))
        assert any(int(line["total_debt"]) > 0 for line in latest["attestation"]["solvency"])
        risk = client.get(latest["links"]["risk"])
        assert risk.status_code == 200 and risk.json()["scheme"] == "por-risk"
        html = client.get("/").text
        assert "Under-reserved: USDC" in html and "Demo Auditor" in html
        assert "every debt is covered by the borrower's own collateral" in html
        proof = client.get(f"/api/v1/proofs/{token.group(1)}")
        assert proof.status_code == 200 and proof.json()["round"] == latest["round"]
        # The link's user has borrowed: a margin proof with a debt.
        assert proof.json()["scheme"] == "por-mst-margin"
        assert any(int(p["debt"]) > 0 for p in proof.json()["positions"])
        wallets = client.get(f"/api/v1/rounds/{latest['round']}/wallets").json()["wallets"]
        assert [w["signature_check"] for w in wallets] == ["verified", "verified", "needs-node"]
        assert all(b["counted"] for w in wallets for b in w["balances"])


def test_demo_rpc_server_is_gone_after_the_demo(tmp_path: Path) -> None:
    from por.demo.reserves import DemoReserves, serve_chain
    from verifier.liabilities.mst import Asset

    demo = DemoReserves((Asset("ETH", 18),))
    with serve_chain(demo.chain) as url:
        port = int(url.rsplit(":", 1)[1])
    with socket.socket() as s, pytest.raises(OSError):
        s.connect(("127.0.0.1", port))
