"""The transparency log's formats and checks (docs/spec.md §12): RFC 6962 hashing, RFC 9162
inclusion and consistency proofs, signed tree heads, and the verifier's memory of the last
tree head it saw. The appending side lives in ``por.log``; this package never writes a log.
"""
