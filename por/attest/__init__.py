"""The operator's round flow after the liabilities and reserves (docs/spec.md §13):
``por round new``, ``por attest sign``/``cosign`` (:mod:`por.attest.rounds`) and
``por publish`` (:mod:`por.attest.publish`). Figures are computed by
``verifier.attestation``; the store keeps the exact bytes that were signed.
"""
