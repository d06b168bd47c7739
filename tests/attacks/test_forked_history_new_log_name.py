"""Attack (issue 10, 2): the exchange rewrites its history and publishes it as a new log
under another name ("Example Exchange log2"), signed with its same key. A verifier that
remembered tree heads by the log's name saw "a first tree head" and passed it. The memory
is keyed by the exchange's identity (its key list's first key), so a second log of a known
exchange fails unless the user explicitly accepts it (spec §12.2)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from attest_helpers import build_round, make_world
from trust_world import NOW, publish_history, verify


def test_forked_history_under_a_new_log_name_fails(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    for r in ("r1", "r2"):
        build_round(w, tmp_path, r)
    pin = ("--pin", w.exchange_key.public.key_id)
    state = tmp_path / "state.json"
    honest = publish_history(tmp_path, w, "honest", ["r1", "r2"], w.exchange_key, w.keylist,
                             NOW - timedelta(days=10))
    code, out = verify(honest[1], state, *pin)
    assert code == 0, out
    # Round 1 rewritten (signed at another time: another entry), the whole history
    # re-published as a second log of the same exchange, same key.
    forked = publish_history(tmp_path, w, "forked", ["r1", "r2"], w.exchange_key, w.keylist,
                             NOW - timedelta(days=5), log_name="Example Exchange log2")
    code, out = verify(forked[1], state, *pin)
    assert code == 1, out
    assert "[new-log]" in out and "Example Exchange log2" in out
    code, out = verify(forked[1], state)  # no pin: the memory alone catches it
    assert code == 1 and "[new-log]" in out, out
    # The memory is keyed by the exchange's first key, never by a name it chose.
    saved = json.loads(state.read_text())
    assert list(saved["exchanges"]) == [w.exchange_key.public.key_id]
    # Accepting a new log is the user's explicit decision, and the report says so.
    code, out = verify(forked[1], state, *pin, "--accept-new-log")
    assert code == 0, out
    assert "accepted a NEW log" in out
