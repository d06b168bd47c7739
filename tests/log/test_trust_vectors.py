"""The committed trust vectors (``vectors/trust_rules.json``): each named case gets its
verdict from the verifier alone (key windows at the rotation instant, the next-key and
same-exchange rules, chains cut back or forked, and every date and binding rule of a tree
head); and the generator still writes the committed file."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import trust_vectorgen

from verifier.encoding.canonical import parse_time
from verifier.errors import FormatError, VerificationError
from verifier.log.sth import SignedTreeHead
from verifier.log.trust import tree_head_findings
from verifier.signed.keylist import KeyList, keylist_sha256

VECTORS = Path(__file__).parent / "vectors" / "trust_rules.json"
CASES = json.loads(VECTORS.read_text())["cases"]


def test_the_committed_vectors_are_current() -> None:
    assert VECTORS.read_text() == trust_vectorgen.render()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_vector(case: dict[str, Any]) -> None:
    if case["kind"] == "keylist":
        if case["want"] == "malformed":
            with pytest.raises(FormatError):
                KeyList.from_json(case["keylist"])
            return
        if case["want"] == "fail" and "remembered_key_ids" not in case:
            with pytest.raises(VerificationError):
                KeyList.from_json(case["keylist"])
            return
        keys = KeyList.from_json(case["keylist"])
        if "remembered_key_ids" in case:
            with pytest.raises(VerificationError):
                keys.check_extends(tuple(case["remembered_key_ids"]))
        for key_id, at, verdict in case.get("key_at", []):
            if verdict == "ok":
                keys.key(key_id, parse_time(at, "at"))
            else:
                with pytest.raises(VerificationError):
                    keys.key(key_id, parse_time(at, "at"))
        return
    keys = KeyList.from_json(case["keylist"])
    head = SignedTreeHead.from_json(case["tree_head"])
    found = tree_head_findings(head, keys, keylist_sha256(case["keylist"]),
                               parse_time(case["now"], "now"),
                               timedelta(days=case["max_age_days"]))
    assert sorted({f.code for f in found}) == case["want"], [str(f) for f in found]
