"""Attack: the exchange stops signing log heads (it hides a newer history, or a collapse)
while its page keeps saying its last round verified. The page judges each round as of its
own tree head (a past round's head is old by design), so without more it would show a
VERIFIED a user's ``por-verify bundle`` (the clock as now) calls stale.
Defence (docs/threat-model.md section 4, spec §12.2's max-age): the round's verdict is stated
"as of its tree head DATE", and a separate freshness line at the top fails, in words for the
public, when the log's latest signed head is older than the verifier's maximum age, exactly
when ``por-verify bundle`` reports ``stale``.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parents[1] / "api"))
from api_world import ROUNDS, build_world

from api.app import Settings, create_app, headline
from por.store.db import open_store
from verifier.cli import main as verify_main
from verifier.encoding.canonical import format_time
from verifier.log.sth import SignedTreeHead
from verifier.signed.keylist import KeyList


def test_stale_log_shown_verified_on_page(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'por.db'}"
    engine = open_store(url)
    world = build_world(tmp_path, engine)
    latest = ROUNDS[-1]
    bundle = world.bundles[latest]
    head = SignedTreeHead.from_json((bundle / "tree-head.json").read_bytes())
    later = head.head.timestamp + timedelta(days=60)  # no head signed for 60 days
    result = CliRunner().invoke(verify_main, [
        "bundle", str(bundle), "--skip-chain", "--auditor-key", str(world.auditor_key_file),
        "--pin", KeyList.from_json(world.keylist.read_bytes()).identity,
        "--state", str(tmp_path / "state.json"), "--now", format_time(later)])
    assert result.exit_code == 1 and "stale" in result.output

    app = create_app(Settings(database_url=url, rounds_dir=world.rounds_dir,
                              keylist=world.keylist,
                              auditor_keys=(world.auditor_key_file,)
                              if world.auditor_key_file else (),
                              proof_rate_per_minute=0))
    pub = app.state.publication
    check = pub.attestation_check(latest)
    assert check.check.verdict == "verified"  # as of its own tree head
    line = headline(check, [], None, pub.freshness(later))
    assert line.as_of == format_time(head.head.timestamp)
    assert f"as of its tree head {line.as_of}" in line.summary
    assert line.freshness is not None and line.freshness.status == "fail"
    assert "has not published a fresh signed log head for 60 days" in line.freshness.text
    engine.dispose()
