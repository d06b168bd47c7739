"""Liabilities: the Merkle-sum tree's bytes (spot and margin), inclusion proofs, the tree
file and the published root summary, and the margin rule's risk parameters."""
