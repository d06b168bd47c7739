"""Private mode, scheme ``por-mst-private`` (docs/spec.md §16): proofs whose siblings are
Pedersen commitments with range proofs, so they reveal no other user's balance.

Needs the ``[private]`` extra (wallycore, which bundles libsecp256k1-zkp); nothing here
imports it before it is used, so the base verifier starts without it.
"""
