"""Witnesses' co-signatures of the log's signed tree heads (docs/spec.md §14.3), kept as the
exact bytes of each co-signature file, so every bundle written from the store carries them.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "witness_cosignatures",
        sa.Column("tree_size", sa.Integer(), sa.ForeignKey("tree_heads.tree_size"),
                  primary_key=True),
        sa.Column("witness_key_id", sa.String(length=64), primary_key=True),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("witness_cosignatures")
