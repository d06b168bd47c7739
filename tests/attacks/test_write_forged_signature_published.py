"""Attack: a forged wallet signature reaches the published reserves file through the draft
(kept by `import-signatures --allow-failed`, or written into draft.json by hand or by a
compromised step), because `por reserves write` only checked that a signature was present;
the operator learns of it only when `por-verify` fails, after publication.

Defence (spec §11.5): `por reserves write` verifies every wallet's signature against its
challenge with the function `import-signatures` and `por-verify` use
(`verifier.signatures.wallet.verify_wallet_signature`) and writes nothing if one fails
(exit 1), unless `--allow-failed`.
"""

from __future__ import annotations

import json
from pathlib import Path

from one_wallet_round import OWNER, THIEF, eip191_signature, one_wallet_round, write_owner_signature
from reserves_helpers import por

from por.reserves.round import DRAFT_FILE, load_draft, read_balances, save_draft


def test_write_forged_signature_published(tmp_path: Path) -> None:
    directory, message = one_wallet_round(tmp_path)
    good = eip191_signature(message, OWNER)
    sigs = write_owner_signature(tmp_path / "sigs.json", good)
    assert por("reserves", "import-signatures", str(directory), str(sigs)).exit_code == 0
    save_draft(directory, read_balances(load_draft(directory), {},
                                        {("ethereum", OWNER.address.lower(), "ETH"): 10**18}))
    # The draft is rewritten after the import: the signature is now the thief's.
    data = json.loads((directory / DRAFT_FILE).read_text())
    data["wallets"][0]["signature"]["value"] = eip191_signature(message, THIEF)
    (directory / DRAFT_FILE).write_text(json.dumps(data))
    out = tmp_path / "reserves.json"
    result = por("reserves", "write", str(directory), "--out", str(out))
    assert result.exit_code == 1, result.output
    assert f"FAILED: wallet 0 (ethereum {OWNER.address})" in result.output
    assert THIEF.address in result.output  # what the signature recovers
    assert not out.exists()
