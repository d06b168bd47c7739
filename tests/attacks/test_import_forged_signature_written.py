"""Attack: a forged wallet signature is imported into the draft and written into the reserves
file; the operator learns of it only when `por-verify` fails, after publication.

Defence (spec §11.5): `por reserves import-signatures` verifies every signature against its
wallet's challenge before anything is written, and lists failures by wallet (exit 1).
"""

from __future__ import annotations

from pathlib import Path

from one_wallet_round import OWNER, THIEF, eip191_signature, one_wallet_round, write_owner_signature
from reserves_helpers import por

from por.reserves.round import DRAFT_FILE


def test_import_forged_signature_written(tmp_path: Path) -> None:
    directory, message = one_wallet_round(tmp_path)
    forged = eip191_signature(message, THIEF)
    sigs = write_owner_signature(tmp_path / "sigs.json", forged)
    before = (directory / DRAFT_FILE).read_bytes()
    result = por("reserves", "import-signatures", str(directory), str(sigs))
    assert result.exit_code == 1, result.output
    assert f"FAILED: wallet 0 (ethereum {OWNER.address})" in result.output
    assert THIEF.address in result.output  # what the signature recovers
    assert (directory / DRAFT_FILE).read_bytes() == before
