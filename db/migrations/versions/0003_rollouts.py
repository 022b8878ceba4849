"""Monte-Carlo values: the rollouts table; nodes.mc_value, mc_hard, first_error, expansions.

`rollouts` keeps every completion drawn to estimate a node's value (search.value=rollout): complete
solutions, right and wrong, that researchers reuse. `nodes.expansions` persists how often a node
was expanded, so that a resumed tree keeps the search budget an uninterrupted one would.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy): SQLite adds a column with a constant default in place, and
    # a table copy would trip over the views of revision 0002 that read `nodes`.
    op.add_column("nodes", sa.Column("mc_value", sa.Float(), nullable=True))
    op.add_column("nodes", sa.Column("mc_hard", sa.Float(), nullable=True))
    op.add_column("nodes", sa.Column("first_error", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("nodes", sa.Column("expansions", sa.Integer(), nullable=False, server_default="0"))
    # Nodes stored before this revision: a node with children was expanded (at least) once.
    op.execute("UPDATE nodes SET expansions = 1 WHERE id IN (SELECT DISTINCT parent_id FROM nodes "
               "WHERE parent_id IS NOT NULL)")
    op.create_table(
        "rollouts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("node_id", sa.Integer(), sa.ForeignKey("nodes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("tree_id", sa.Integer(), sa.ForeignKey("trees.id", ondelete="CASCADE"), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("token_ids", sa.JSON(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("is_correct", sa.Boolean(), nullable=False),
        sa.Column("n_tokens", sa.Integer(), nullable=False),
        sa.Column("finish_reason", sa.String(16), nullable=True),
    )
    op.create_index("ix_rollouts_node", "rollouts", ["node_id"])


def downgrade() -> None:
    op.drop_index("ix_rollouts_node", table_name="rollouts")
    op.drop_table("rollouts")
    for column in ("expansions", "first_error", "mc_hard", "mc_value"):
        op.drop_column("nodes", column)
