"""The store's tables. They are the store's own records; nothing here is returned as a
published artifact (those are built from the exact bytes the tables keep)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel


class Round(SQLModel, table=True):
    """One proof-of-reserves round."""

    __tablename__ = "rounds"

    round_id: str = Field(primary_key=True, max_length=64)
    exchange: str = Field(max_length=128)
    created_at: datetime
    snapshot_time: datetime | None = None  # migration 0002


class Attestation(SQLModel, table=True):
    """A round's attestation: the exact RFC 8785 payload bytes that were signed."""

    __tablename__ = "attestations"

    id: int | None = Field(default=None, primary_key=True)
    round_id: str = Field(foreign_key="rounds.round_id", unique=True, max_length=64)
    payload_sha256: str = Field(unique=True, max_length=64)
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime


class AttestationSignature(SQLModel, table=True):
    """One signature (the exchange's or an auditor's) over an attestation's payload."""

    __tablename__ = "attestation_signatures"
    __table_args__ = (UniqueConstraint("attestation_id", "key_id"),)

    id: int | None = Field(default=None, primary_key=True)
    attestation_id: int = Field(foreign_key="attestations.id", index=True)
    key_id: str = Field(max_length=64)
    signature: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LogEntry(SQLModel, table=True):
    """A leaf of the transparency log: its index, exact bytes and RFC 6962 leaf hash."""

    __tablename__ = "log_entries"

    leaf_index: int = Field(primary_key=True)
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    entry: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    appended_at: datetime


class TreeHeadRecord(SQLModel, table=True):
    """A signed tree head: the exact signed payload and the log's signature over it."""

    __tablename__ = "tree_heads"

    tree_size: int = Field(primary_key=True)
    root_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False))
    timestamp: datetime
    key_id: str = Field(max_length=64)
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    signature: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class RoundFile(SQLModel, table=True):
    """A round's published input file, kept as its exact bytes: ``root.json`` (kind
    ``root``) and the reserves file (kind ``reserves``), as attested (migration 0002)."""

    __tablename__ = "round_files"

    round_id: str = Field(foreign_key="rounds.round_id", primary_key=True, max_length=64)
    kind: str = Field(primary_key=True, max_length=16)
    sha256: str = Field(max_length=64)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class WalletClaim(SQLModel, table=True):
    """One wallet's balance of one asset as the attested reserves file claims it, and
    whether the attestation counts it (spec §13.3). Amounts are decimal strings: a u128
    does not fit a database integer (migration 0002)."""

    __tablename__ = "wallet_claims"

    id: int | None = Field(default=None, primary_key=True)
    round_id: str = Field(foreign_key="rounds.round_id", index=True, max_length=64)
    chain: str = Field(max_length=32)
    address: str = Field(max_length=128)
    custody: str = Field(max_length=16)
    asset: str = Field(max_length=16)
    amount: str = Field(max_length=39)
    source: str = Field(max_length=16)
    counted: bool


class WitnessCosignature(SQLModel, table=True):
    """A witness's co-signature of one signed tree head, as the exact bytes of its file
    (``witnesses/<key id>.json`` in every bundle of that head; spec §14.3, migration 0003).
    Stored only after it was found to name that head's exact payload."""

    __tablename__ = "witness_cosignatures"

    tree_size: int = Field(foreign_key="tree_heads.tree_size", primary_key=True)
    witness_key_id: str = Field(primary_key=True, max_length=64)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    stored_at: datetime
