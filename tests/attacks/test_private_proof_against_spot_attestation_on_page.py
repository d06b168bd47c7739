"""Attack: on the page, a private proof checked against a spot attestation that names its
round and its root hash (version confusion).

The exchange signs a spot (version 2) attestation whose ``liabilities.root_hash`` is a
private round's root, with the private round's id: the spot figures it states are then read
as the private round's, whose totals are committed units of 10^e base units, not base units.
The page checks private proofs whole in the browser (spec §16.15); a private proof is
anchored on the page only by a private round's attestation (version 4, §13.7), so the
verdict must be FAILED whatever spot or margin attestation stands beside it, never VERIFIED
(the proof is consistent with its own root, which is all the page would otherwise compare).
Against a version 4 attestation it is VERIFIED only when the attested totals, blindings,
leaf count and root hash are those of the root the proof reaches. Chromium, the page's own
files, real Ed25519 signatures.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

sys.path.insert(0, str(Path(__file__).parents[1] / "web"))
from test_private_page import CSP, VECTORS, _open, playwright  # noqa: F401  (the fixture)


def _signed(liabilities: dict[str, Any], version: int, round_id: str
            ) -> tuple[dict[str, Any], list[dict[str, str]]]:
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key_id = hashlib.sha256(raw).hexdigest()
    payload = json.dumps({
        "scheme": "por-attestation", "version": version, "round": round_id, "key_id": key_id,
        "exchange": "Example Exchange", "attested_at": "2026-11-28T12:00:00Z",
        "liabilities": liabilities,
    }, sort_keys=True, separators=(",", ":")).encode()
    envelope = {"payload": base64.b64encode(payload).decode(),
                "signatures": [{"key_id": key_id, "signature": key.sign(payload).hex()}]}
    return envelope, [{"key_id": key_id, "label": "Example Exchange", "public_key": raw.hex()}]


def _spot_attestation(round_id: str, root_hash: str, proof: dict[str, Any]
                      ) -> tuple[dict[str, Any], list[dict[str, str]]]:
    return _signed({"assets": [{"symbol": a["symbol"], "decimals": a["decimals"]}
                               for a in proof["assets"]],
                    "root_hash": root_hash, "leaf_count": proof["root"]["leaf_count"],
                    "totals": proof["root"]["totals"]}, 2, round_id)


def _private_attestation(proof: dict[str, Any], root: str, **change: Any
                         ) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """A version 4 attestation (spec §13.7) of the proof's root, with ``change`` applied."""
    liabilities = {"scheme": "por-mst-private", "version": proof["version"],
                   "assets": proof["assets"], "leaf_count": proof["root"]["leaf_count"],
                   "root_hash": root, "totals": proof["root"]["totals"],
                   "blindings": proof["root"]["blindings"], "top_hash": "00" * 32}
    if "hidden_levels" in proof["root"]:
        liabilities["hidden_levels"] = proof["root"]["hidden_levels"]
    return _signed({**liabilities, **change}, 4, proof["round"])


def test_private_proof_against_spot_attestation_on_page(playwright: Any) -> None:  # noqa: F811
    pytest.importorskip("wallycore")
    for name in ("valid-private-proof-alice", "valid-hybrid-proof-alice-hidden-2"):
        vector = next(v for v in VECTORS if v["name"] == name)
        proof = vector["proof"]
        envelope, keys = _spot_attestation(proof["round"], vector["root"], proof)
        for b in _open(playwright, CSP):
            # The same proof against its published root: VERIFIED (the proof is genuine).
            assert b.verdicts([(rfc8785.dumps(proof).decode(), vector["root"])])[0][
                "verdict"] == "verified"
            result = dict(b.page.evaluate(
                """async ([text, envelope, keys]) => PorVerify.verifyProofText(
                    text, () => ({attestation: envelope, keys: keys, auditors: []}))""",
                [rfc8785.dumps(proof).decode(), envelope, keys]))
            assert result["verdict"] == "failed", result
            assert "not one of a private round" in result["reason"], result
            # Against the round's version 4 attestation: VERIFIED; against one whose totals,
            # blindings, L or leaf count are not the root's the proof reaches: FAILED.
            totals = [str(int(t) - 1) for t in proof["root"]["totals"]]
            for change, verdict in (({}, "verified"), ({"totals": totals}, "failed"),
                                    ({"blindings": ["11" * 32] * len(totals)}, "failed"),
                                    ({"leaf_count": 2 * proof["root"]["leaf_count"]}, "failed"),
                                    ({"root_hash": "ab" * 32}, "failed")):
                envelope, keys = _private_attestation(proof, vector["root"], **change)
                got = dict(b.page.evaluate(
                    """async ([text, envelope, keys]) => PorVerify.verifyProofText(
                        text, () => ({attestation: envelope, keys: keys, auditors: []}))""",
                    [rfc8785.dumps(proof).decode(), envelope, keys]))
                assert got["verdict"] == verdict, (change, got)
