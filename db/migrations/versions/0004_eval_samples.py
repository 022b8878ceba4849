"""Experiments: sampled eval answers (`eval_samples`) and the loss-relevant spans of trajectories.

`eval_samples` keeps every sampled answer behind maj@k / pass@k (one row per sample of one
greedy `evals` row), so a report's sampled accuracies can be recomputed from the store.
`trajectories.spans` marks which characters of a trajectory's text are mistaken steps,
reflections or checks, so a trainer can mask the loss on mistakes (`train.mask_mistakes`).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("trajectories", sa.Column("spans", sa.JSON(), nullable=True))
    op.create_table(
        "eval_samples",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("eval_id", sa.Integer(), sa.ForeignKey("evals.id", ondelete="CASCADE"), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("prediction", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("is_correct", sa.Boolean(), nullable=False),
        sa.Column("n_tokens", sa.Integer(), nullable=False),
        sa.UniqueConstraint("eval_id", "idx", name="uq_eval_samples_eval_idx"),
    )


def downgrade() -> None:
    op.drop_table("eval_samples")
    op.drop_column("trajectories", "spans")
