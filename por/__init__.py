"""The exchange side of por-toolkit: ingest snapshots, build trees, write proofs.

Formats and hashing rules come from :mod:`verifier`, so producer and checker cannot drift.
"""

__version__ = "0.1.0"
