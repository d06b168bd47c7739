"""Attack: the auditor's round directory holds a root.json other than the attested one (a
tree and root.json of another round, or the attested root.json re-encoded), so the tree
the auditor recomputes is not the tree the exchange signed. Defence (spec §13.7): `por
attest cosign --round-dir` requires the directory's root.json to be byte for byte the
attested one and the tree to recompute to the attested root hash: exit 1, nothing
written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from attest_helpers import make_world
from private_attest_world import build_private_round, sign_private

from por.attest.rounds import cosign_round, load_round
from por.errors import VerificationError
from por.store.db import open_store


def test_private_cosign_root_json_not_attested(tmp_path: Path) -> None:
    w = make_world(tmp_path)
    r1 = build_private_round(w, tmp_path, "p1")
    r2 = build_private_round(w, tmp_path, "p2")
    engine = open_store(f"sqlite:///{tmp_path / 'por.db'}")
    try:
        sign_private(engine, w, r1, "p1", 0)
        # Another round's files.
        with pytest.raises(VerificationError, match=r"not the attested root\.json"):
            cosign_round(engine, "p1", w.auditor_key, w.keys(), r2.directory)
        # The attested bytes re-encoded: the same values, other bytes.
        reencoded = tmp_path / "reencoded"
        shutil.copytree(r1.directory, reencoded)
        (reencoded / "root.json").write_text(json.dumps(json.loads(r1.root_bytes), indent=2))
        with pytest.raises(VerificationError, match=r"not the attested root\.json"):
            cosign_round(engine, "p1", w.auditor_key, w.keys(), reencoded)
        # The attested root.json beside another round's tree.
        mixed = tmp_path / "mixed"
        shutil.copytree(r2.directory, mixed)
        shutil.copy(r1.directory / "root.json", mixed / "root.json")
        with pytest.raises(VerificationError, match="finding"):
            cosign_round(engine, "p1", w.auditor_key, w.keys(), mixed)
        assert len(load_round(engine, "p1").signed.signatures) == 1  # nothing written
        cosign_round(engine, "p1", w.auditor_key, w.keys(), r1.directory)
        assert len(load_round(engine, "p1").signed.signatures) == 2
    finally:
        engine.dispose()
