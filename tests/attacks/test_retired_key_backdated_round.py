"""Attack (issue 10, 3): the exchange rotated from K1 to K2; someone holding only K1
signs a round and a tree head dated inside K1's old validity window, ships the current key
list, and ``por-verify bundle --pin K2`` passed: key windows were checked only against
times the signer asserts. A bundle must prove the round's inclusion in a tree head signed
by the key list's current key, no older than --max-age, that binds that key list; a head
older than --max-age fails too (spec §12.2, §13.5)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from attest_helpers import build_round, make_world
from trust_world import NOW, publish_history, verify

from por.keys import SigningKey, rotate
from verifier.encoding.canonical import format_time
from verifier.signed.keylist import KeyList


def test_retired_key_signs_a_backdated_round(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    for r in ("r1", "r2"):
        build_round(w, tmp_path, r)
    k1, k2 = w.exchange_key, SigningKey.generate("Example Exchange key 2")
    rotated = rotate(KeyList.from_json(w.keylist), k1, k2, NOW - timedelta(days=20))
    current = rotated.to_json().encode()
    # The thief signs with K1 only, dated before the rotation, then swaps in the current
    # key list (which holds K2, so --pin K2 finds it).
    thief = publish_history(tmp_path, w, "thief", ["r1", "r2"], k1, w.keylist,
                            NOW - timedelta(days=30))
    (thief[1] / "keylist.json").write_bytes(current)
    code, out = verify(thief[1], tmp_path / "state.json", "--pin", k2.public.key_id)
    assert code == 1, out
    assert "[tree-head]" in out and "current key" in out


def test_stale_tree_head_fails(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    build_round(w, tmp_path, "r1")
    pin = ("--pin", w.exchange_key.public.key_id)
    old = publish_history(tmp_path, w, "old", ["r1"], w.exchange_key, w.keylist,
                          NOW - timedelta(days=40))
    code, out = verify(old[0], tmp_path / "state.json", *pin)
    assert code == 1, out
    assert "[stale]" in out
    # An auditor checking what was true then passes the time explicitly.
    then = format_time(NOW - timedelta(days=39))
    code, out = verify(old[0], tmp_path / "state-then.json", *pin, "--now", then)
    assert code == 0, out
    code, out = verify(old[0], tmp_path / "state-50.json", *pin, "--max-age", "50")
    assert code == 0, out
    # A head from the future (beyond the stated skew) is refused as well.
    before = format_time(NOW - timedelta(days=41))
    code, out = verify(old[0], tmp_path / "state-before.json", *pin, "--now", before)
    assert code == 1 and "[tree-head]" in out and "future" in out, out
