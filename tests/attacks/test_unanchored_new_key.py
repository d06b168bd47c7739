"""Attack (issue 10, 4): a bundle signed by a brand-new key for the same exchange passed
without --pin, even when the verifier's memory held the real exchange's key. Trust on
first use is recorded per exchange identity; a later key must chain to it by signed
rotations; without a pin and without memory the verdict is UNANCHORED, exit 1 (spec
§12.2)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from attest_helpers import build_round, make_world
from trust_world import NOW, publish_history, verify

from por.keys import SigningKey, new_key_list, rotate
from verifier.signed.keylist import KeyList


def test_a_new_key_for_a_known_exchange_fails_without_a_chain(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    for r in ("r1", "r2", "r3"):
        build_round(w, tmp_path, r)
    state = tmp_path / "state.json"
    honest = publish_history(tmp_path, w, "honest", ["r1", "r2"], w.exchange_key, w.keylist,
                             NOW - timedelta(days=10))
    code, out = verify(honest[1], state)
    assert code == 1, out
    assert "UNANCHORED" in out and "trust on first use" in out
    code, out = verify(honest[1], state)  # now anchored by the first use
    assert code == 0, out
    assert "anchored by first use" in out
    # An impostor: a brand-new key, a key list of its own under the same exchange name.
    impostor = SigningKey.generate("Example Exchange key")
    own_list = new_key_list("Example Exchange", impostor.public).to_json().encode()
    fake = publish_history(tmp_path, w, "impostor", ["r1", "r2"], impostor, own_list,
                           NOW - timedelta(days=3), log_name="Example Exchange (new)")
    code, out = verify(fake[1], state)
    assert code == 1, out
    assert "[key-anchor]" in out and "does not chain" in out
    # The real exchange rotates K1 -> K2 by a signed statement: its next round passes.
    k2 = SigningKey.generate("Example Exchange key 2")
    rotated = rotate(KeyList.from_json(w.keylist), w.exchange_key, k2,
                     NOW - timedelta(days=2)).to_json().encode()
    later = publish_history(tmp_path, w, "honest", ["r3"], k2, rotated,
                            NOW - timedelta(days=1))
    code, out = verify(later[0], state)
    assert code == 0, out
