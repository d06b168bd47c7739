"""Read one user's inclusion proof from a built round (spec §8.2), in O(log N) reads.

Leaves are sorted by commitment, so the commitment derived from the user id and the round
secret is the index: a binary search finds the leaf, and one read per level the path.
"""

from __future__ import annotations

from pathlib import Path

from por.errors import InputError
from verifier.artifacts import RootSummary
from verifier.mst import decode_amounts, derive_salt, user_commitment
from verifier.proof import InclusionProof, verify_proof
from verifier.treefile import TreeFile


class Prover:
    """Proofs of one round, read from its tree file."""

    def __init__(self, out_dir: str | Path, secret: bytes) -> None:
        """Open the round built in ``out_dir``.

        Raises:
            InputError: the directory holds no tree or no root summary.
        """
        out = Path(out_dir)
        try:
            self.summary = RootSummary.from_json((out / "root.json").read_bytes())
        except OSError as e:
            raise InputError(f"{out}: no root.json; build the round first") from e
        self.tree = TreeFile(out / "tree.bin")
        self.secret = secret
        self._root = self.tree.root_hash()

    def close(self) -> None:
        """Release the tree file."""
        self.tree.close()

    def prove(self, user_id: str, *, self_check: bool = True) -> InclusionProof:
        """The inclusion proof of ``user_id``; checked before it is returned.

        Raises:
            InputError: the user is not in this round.
            VerificationError: the proof does not verify against the published root (a
                corrupt tree file); nothing is handed out then.
        """
        lay = self.tree.layout
        salt = derive_salt(self.secret, lay.round_id, user_id)
        index = self.tree.find(user_commitment(lay.round_id, user_id, salt))
        if index is None:
            raise InputError(f"user {user_id!r} is not in round {lay.round_id}")
        _, amounts = self.tree.record(0, index)
        _, top_sums = self.tree.top()
        proof = InclusionProof(
            round_id=lay.round_id,
            assets=lay.assets,
            user_id=user_id,
            salt=salt,
            amounts=tuple(decode_amounts(amounts)),
            path=self.tree.path(index),
            root_hash=self._root,
            root_sums=tuple(decode_amounts(top_sums)),
            leaf_count=lay.leaf_count,
        )
        if self_check:
            verify_proof(proof, summary=self.summary)
        return proof
