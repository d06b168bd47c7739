"""A proof token opens the reference prover's exact proof: ``TokenIndex.proof_text`` and
``TokenIndex.proof`` go through the one helper that makes a proof from the tree file
(``por.liabilities.prove.served_proof_text``), byte for byte ``Prover.prove(..).to_json()``
for every user, odd ids and a one-leaf round included, and refuse a record that is not
the leaf's.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from test_api_proof_bytes import SECRET, _round

from por.liabilities.prove import Prover
from por.liabilities.tokens import TokenIndex
from verifier.errors import VerificationError


@pytest.mark.parametrize("users", [1, 2, 37])
def test_token_index_proof_is_the_reference_bytes(tmp_path: Path, users: int) -> None:
    round_dir, tokens = _round(tmp_path, users)
    prover = Prover(round_dir, SECRET)
    index = TokenIndex(round_dir)
    try:
        for user, token in tokens.items():
            record = index.lookup(token)
            assert record is not None and record.user_id == user
            want = prover.prove(user).to_json().encode()
            assert index.proof_text(record) == want
            assert index.proof(record).to_json().encode() == want
        record = index.lookup(next(iter(tokens.values())))
        assert record is not None
        wrong = dataclasses.replace(record, salt=bytes(32))
        with pytest.raises(VerificationError):
            index.proof_text(wrong)
        with pytest.raises(VerificationError):
            index.proof(wrong)
    finally:
        index.close()
        prover.close()
