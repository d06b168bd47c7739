"""The exchange's store (docs/spec.md §12.4): rounds, attestations with their exact signed
bytes, signatures, log entries and signed tree heads, in SQLModel tables on SQLite (the
embedded default, a file in the working directory) or PostgreSQL (by database URL), with
Alembic migrations shipped in ``por/store/migrations``. It never holds a round secret or a
private key: only what is published, or will be.
"""
