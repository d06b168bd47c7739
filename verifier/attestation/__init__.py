"""A round's signed attestation (docs/spec.md §13): the solvency statement of one round, its
arithmetic (:mod:`verifier.attestation.model`), and the check of a whole published bundle
(:mod:`verifier.attestation.bundle`). The exchange side (``por.attest``) builds attestations
with the same functions, so the producer and the checker cannot disagree on a figure.
"""
