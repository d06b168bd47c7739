"""Generator of the committed trust vectors, ``tests/log/vectors/trust_rules.json``
(spec §12.2, §12.3): key lists and tree heads signed by fixed test keys (Ed25519 is
deterministic), each case named after the rule or attack it stands for, with its verdict.

Generate-then-verify: this file writes the vectors with the exchange side's signing code;
``test_trust_vectors.py`` checks them with the verifier alone. Run
``python tests/log/trust_vectorgen.py`` to rewrite the file (the test checks it is current).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from por.keys import SigningKey, new_key_list, rotate
from verifier.encoding.canonical import format_time
from verifier.log.sth import TreeHead
from verifier.signed.keylist import KeyList, keylist_sha256

OUT = Path(__file__).parent / "vectors" / "trust_rules.json"
T0 = datetime(2026, 11, 1, tzinfo=UTC)
ROTATION = T0 + timedelta(days=10)
EXCHANGE = "Vector Exchange"


def _key(n: int, label: str) -> SigningKey:
    return SigningKey(Ed25519PrivateKey.from_private_bytes(bytes([n]) * 32), label)


K1, K2, THIEF = _key(1, "K1"), _key(2, "K2"), _key(9, "thief")


def _head(key: SigningKey, keylist: str, at: datetime, **changes: Any) -> str:
    head = TreeHead("vector-log", 3, bytes(range(32)), at, key.public.key_id,
                    exchange=EXCHANGE, keylist_sha256=keylist_sha256(keylist))
    document = head.to_dict() | changes
    for name in [k for k, v in changes.items() if v is None]:
        del document[name]
    return key.sign_document(document).to_json()


def cases() -> list[dict[str, Any]]:
    """Every case, in a fixed order."""
    single = new_key_list(EXCHANGE, K1.public).to_json()
    rotated = rotate(KeyList.from_json(single), K1, K2, ROTATION).to_json()
    forked = rotate(KeyList.from_json(single), K1, THIEF, ROTATION).to_json()
    out: list[dict[str, Any]] = []

    def keylist_case(name: str, text: str, want: str, **extra: Any) -> None:
        out.append({"name": name, "kind": "keylist", "keylist": text, "want": want} | extra)

    keylist_case("rotated-list", rotated, "ok")
    keylist_case("rotation-instant-belongs-to-new-key", rotated, "ok",
                 key_at=[[K1.public.key_id, format_time(ROTATION), "fail"],
                         [K2.public.key_id, format_time(ROTATION), "ok"],
                         [K1.public.key_id, format_time(ROTATION - timedelta(seconds=1)),
                          "ok"]])
    data = json.loads(rotated)
    data["keys"][1] = THIEF.public.to_dict()
    keylist_case("new-key-not-the-next-listed-key", json.dumps(data), "fail")
    data = json.loads(rotated)
    data["exchange"] = "Other Exchange"
    keylist_case("rotation-of-another-exchange", json.dumps(data), "fail")
    data = json.loads(rotated)
    data["keys"].append(THIEF.public.to_dict())
    keylist_case("key-without-rotation", json.dumps(data), "fail")
    data = json.loads(single)
    data["keys"][0]["key_id"] = "00" * 32
    keylist_case("key-id-not-sha256-of-key", json.dumps(data), "malformed")
    keylist_case("forked-by-rotated-out-key", forked, "fail",
                 remembered_key_ids=[K1.public.key_id, K2.public.key_id])
    keylist_case("cut-back-to-old-key", single, "fail",
                 remembered_key_ids=[K1.public.key_id, K2.public.key_id])

    def head_case(name: str, keylist: str, head: str, now: datetime, want: list[str]) -> None:
        out.append({"name": name, "kind": "tree-head", "keylist": keylist, "tree_head": head,
                    "now": format_time(now), "max_age_days": 35, "want": want})

    fresh = ROTATION + timedelta(days=5)
    head_case("current-key-fresh-head", rotated, _head(K2, rotated, fresh),
              fresh + timedelta(days=1), [])
    head_case("retired-key-backdated-head", rotated,
              _head(K1, rotated, ROTATION - timedelta(days=1)), fresh, ["tree-head"])
    head_case("stale-head", rotated, _head(K2, rotated, fresh), fresh + timedelta(days=36),
              ["stale"])
    head_case("head-at-max-age", rotated, _head(K2, rotated, fresh),
              fresh + timedelta(days=35), [])
    head_case("future-head-beyond-skew", rotated, _head(K2, rotated, fresh),
              fresh - timedelta(minutes=6), ["tree-head"])
    head_case("future-head-within-skew", rotated, _head(K2, rotated, fresh),
              fresh - timedelta(minutes=5), [])
    head_case("head-binds-another-key-list", rotated, _head(K2, single, fresh), fresh,
              ["tree-head"])
    head_case("head-of-another-exchange", rotated,
              _head(K2, rotated, fresh, exchange="Other Exchange"), fresh, ["tree-head"])
    head_case("version-1-head-in-a-bundle", rotated,
              _head(K2, rotated, fresh, version=1, exchange=None, keylist_sha256=None),
              fresh, ["tree-head"])
    head_case("head-dated-before-current-key", rotated,
              _head(K2, rotated, ROTATION - timedelta(days=1)), fresh, ["tree-head"])
    return out


def render() -> str:
    """The vector file's exact text."""
    return json.dumps({"scheme": "por-test-vectors", "version": 1, "rules": "docs/spec.md "
                       "§12.2, §12.3", "cases": cases()}, indent=1) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")
