"""The first tables: rounds, attestations, signatures, log entries, tree heads.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rounds",
        sa.Column("round_id", sa.String(length=64), primary_key=True),
        sa.Column("exchange", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "attestations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "round_id",
            sa.String(length=64),
            sa.ForeignKey("rounds.round_id"),
            nullable=False,
            unique=True,
        ),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False, unique=True),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "attestation_signatures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("attestation_id", sa.Integer(), sa.ForeignKey("attestations.id"), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.UniqueConstraint("attestation_id", "key_id"),
    )
    op.create_index(
        "ix_attestation_signatures_attestation_id", "attestation_signatures", ["attestation_id"]
    )
    op.create_table(
        "log_entries",
        sa.Column("leaf_index", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False, unique=True),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("appended_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "tree_heads",
        sa.Column("tree_size", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("root_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tree_heads")
    op.drop_table("log_entries")
    op.drop_index("ix_attestation_signatures_attestation_id", "attestation_signatures")
    op.drop_table("attestation_signatures")
    op.drop_table("attestations")
    op.drop_table("rounds")
