"""Signed documents (docs/spec.md §12.3): RFC 8785 canonical JSON payloads carried with
Ed25519 signatures over their exact bytes, public keys with ids, and the exchange's key
list with its rotations. Attestations, tree heads and rotation statements all use it.
"""
