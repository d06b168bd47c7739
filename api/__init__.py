"""``api``: the exchange's public proof-of-reserves service (FastAPI): the JSON API under
``/api/v1/``, the public page, and each user's proof by token.

It serves what ``por`` produced (the store, the round directories, the key list) and
imports formats and checks from ``verifier``; neither of them imports it.
"""
