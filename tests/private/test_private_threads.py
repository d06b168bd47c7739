"""Range proofs made and checked on threads (spec §16.10, §16.13): the same proof bytes and
the same verdict, with the same first error, as one after the other."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from por.liabilities.private import build_private_tree, prove, write_private_round
from verifier.errors import VerificationError
from verifier.liabilities.mst import Asset
from verifier.private import commitments as pc
from verifier.private.proof import PrivateProof, verify_private_proof

SECRET = bytes(range(32))
ASSETS = [Asset("BTC", 8), Asset("ETH", 18)]
USERS = [(f"user-{i}", [i * 1_000_000, i * 10**17]) for i in range(1, 9)]


@pytest.fixture(scope="module")
def round_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("threads") / "round"
    write_private_round(build_private_tree("r-t", ASSETS, SECRET, USERS), out)
    return out


def _error(proof: PrivateProof) -> str:
    with pytest.raises(VerificationError) as caught:
        verify_private_proof(proof)
    return str(caught.value)


def test_threads_make_the_same_proof(round_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pc, "THREADS", 3)
    threaded = prove(round_dir, SECRET, "user-3").to_bytes()
    monkeypatch.setattr(pc, "THREADS", 1)
    assert prove(round_dir, SECRET, "user-3").to_bytes() == threaded


def test_first_failure_in_path_order_whatever_the_threads(
        round_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proof = prove(round_dir, SECRET, "user-3")
    path = list(proof.path)
    # level 2: a range proof moved from asset 0 to asset 1 (fails); level 0: a wrong parent.
    path[2] = dataclasses.replace(path[2], range_proofs=(path[2].range_proofs[1],
                                                         path[2].range_proofs[1]))
    bad_parent = dataclasses.replace(path[0], parents=(path[1].parents[0],
                                                       path[0].parents[1]))
    late = dataclasses.replace(proof, path=tuple(path))
    both = dataclasses.replace(proof, path=(bad_parent, *path[1:]))
    verdicts = {}
    for threads in (1, 2, 4):
        monkeypatch.setattr(pc, "THREADS", threads)
        verify_private_proof(proof)  # the honest proof verifies on any number of threads
        verdicts[threads] = (_error(late), _error(both))
    assert verdicts[1] == verdicts[2] == verdicts[4]
    assert "path[2] asset BTC" in verdicts[1][0] and "range proof" in verdicts[1][0]
    assert "path[0] asset BTC" in verdicts[1][1] and "not the sum" in verdicts[1][1]
