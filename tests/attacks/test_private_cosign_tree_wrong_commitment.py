"""Attack: an auditor is handed a private round's tree file in which a leaf's commitment is
not the commitment of its stored value and blinding (here: another leaf's commitment), so
that the sums the auditor adds up are not what the tree commits to. Defence (spec §13.7,
§16.10): `por attest cosign --round-dir` recomputes every commitment, sum and hash of the
tree file and co-signs only when every finding list is empty: exit 1, nothing written."""

from __future__ import annotations

import shutil
from pathlib import Path

from attest_helpers import PASSPHRASE, make_world
from click.testing import CliRunner
from private_attest_world import build_private_round, sign_private

from por.attest.rounds import load_round
from por.cli import main as por_main
from por.store.db import open_store
from verifier.private.treefile import PrivateTreeFile, record_size


def test_private_cosign_tree_wrong_commitment(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    w = make_world(tmp_path)
    r = build_private_round(w, tmp_path, "p1")
    db = f"sqlite:///{tmp_path / 'por.db'}"
    engine = open_store(db)
    try:
        sign_private(engine, w, r, "p1", 0)
    finally:
        engine.dispose()
    bad = tmp_path / "bad-round"
    shutil.copytree(r.directory, bad)
    data = bytearray((bad / "tree.bin").read_bytes())
    tree = PrivateTreeFile(bytes(data))
    start = len(data) - (2 * tree.leaf_count - 1) * record_size(len(tree.assets))
    size = record_size(len(tree.assets))
    # Leaf 0's ETH commitment replaced by leaf 1's: the layout stays well formed.
    data[start + 32:start + 65] = data[start + size + 32:start + size + 65]
    (bad / "tree.bin").write_bytes(bytes(data))

    monkeypatch.setenv("POR_KEY_PASSPHRASE", PASSPHRASE)
    cosign = ["attest", "cosign", "p1", "--key", str(tmp_path / "auditor.pem"), "--keylist",
              str(tmp_path / "keylist.json"), "--db", db, "--round-dir"]
    refused = CliRunner().invoke(por_main, [*cosign, str(bad)])
    assert refused.exit_code == 1, refused.output
    assert "not co-signed" in refused.output and "does not open" in refused.output
    engine = open_store(db)
    try:
        assert len(load_round(engine, "p1").signed.signatures) == 1  # nothing written
    finally:
        engine.dispose()
    done = CliRunner().invoke(por_main, [*cosign, str(r.directory)])
    assert done.exit_code == 0, done.output
