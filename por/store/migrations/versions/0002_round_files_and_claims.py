"""A round's snapshot time, its attested files (exact bytes) and its wallet claims.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("rounds", sa.Column("snapshot_time", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "round_files",
        sa.Column(
            "round_id",
            sa.String(length=64),
            sa.ForeignKey("rounds.round_id"),
            primary_key=True,
        ),
        sa.Column("kind", sa.String(length=16), primary_key=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "wallet_claims",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("round_id", sa.String(length=64), sa.ForeignKey("rounds.round_id"),
                  nullable=False),
        sa.Column("chain", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("custody", sa.String(length=16), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.String(length=39), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_wallet_claims_round_id", "wallet_claims", ["round_id"])


def downgrade() -> None:
    op.drop_index("ix_wallet_claims_round_id", "wallet_claims")
    op.drop_table("wallet_claims")
    op.drop_table("round_files")
    with op.batch_alter_table("rounds") as batch:
        batch.drop_column("snapshot_time")
