"""The appending side of the transparency log (docs/spec.md §12): RFC 9162 proof
generation (:mod:`por.log.proofs`) and appends with signed tree heads
(:mod:`por.log.appender`). Formats, hashing and checks live in ``verifier.log``.
"""
