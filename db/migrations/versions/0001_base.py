"""Base tables: runs, problems, trees, nodes, trajectories, evals.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Written out column by column (not `Base.metadata.create_all`) so that this revision stays what it
was when later revisions change the models.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # long because: the base schema, one create_table per table as Alembic writes it; split up, it would
    # no longer read as the schema it is.
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("versions", sa.JSON(), nullable=False),
        sa.Column("git_sha", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("name", "stage", name="uq_runs_name_stage"),
    )
    op.create_table(
        "problems",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dataset", sa.String(200), nullable=False),
        sa.Column("split", sa.String(32), nullable=False),
        sa.Column("key", sa.String(500), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.UniqueConstraint("dataset", "key", name="uq_problems_dataset_key"),
    )
    op.create_table(
        "trees",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("problem_id", sa.Integer(), sa.ForeignKey("problems.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("claimed_by", sa.String(200), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.UniqueConstraint("run_id", "problem_id", name="uq_trees_run_problem"),
    )
    op.create_index("ix_trees_run_status", "trees", ["run_id", "status"])
    op.create_table(
        "nodes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tree_id", sa.Integer(), sa.ForeignKey("trees.id", ondelete="CASCADE"), nullable=False),
        sa.Column("parent_id", sa.Integer(), sa.ForeignKey("nodes.id", ondelete="CASCADE"), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("token_ids", sa.JSON(), nullable=True),
        sa.Column("state", sa.JSON(), nullable=True),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("reward", sa.Float(), nullable=True),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("logprob", sa.Float(), nullable=True),
        sa.Column("finish_reason", sa.String(16), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.UniqueConstraint("tree_id", "seq", name="uq_nodes_tree_seq"),
    )
    op.create_index("ix_nodes_tree", "nodes", ["tree_id"])
    op.create_index("ix_nodes_parent", "nodes", ["parent_id"])
    op.create_table(
        "trajectories",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tree_id", sa.Integer(), sa.ForeignKey("trees.id", ondelete="CASCADE"), nullable=False),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("messages", sa.JSON(), nullable=True),
        sa.Column("node_ids", sa.JSON(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("n_steps", sa.Integer(), nullable=False),
        sa.Column("n_backtracks", sa.Integer(), nullable=False),
        sa.Column("n_tokens", sa.Integer(), nullable=True),
        sa.Column("is_correct", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("run_id", "tree_id", "kind", "idx", name="uq_trajectories_run_tree_kind_idx"),
    )
    op.create_index("ix_trajectories_run_kind", "trajectories", ["run_id", "kind"])
    op.create_table(
        "evals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("model", sa.String(500), nullable=False),
        sa.Column("problem_id", sa.Integer(), sa.ForeignKey("problems.id", ondelete="CASCADE"), nullable=False),
        sa.Column("prediction", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("is_correct", sa.Boolean(), nullable=False),
        sa.Column("n_tokens", sa.Integer(), nullable=False),
        sa.UniqueConstraint("run_id", "model", "problem_id", name="uq_evals_run_model_problem"),
    )


def downgrade() -> None:
    for table in ("evals", "trajectories", "nodes", "trees", "problems", "runs"):
        op.drop_table(table)
