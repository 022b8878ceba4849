"""Step labels from sources beside the search: an LLM judge and the task's oracle (`labels`), and the
`step_labels` view, which shows them beside the labels the search stored in `nodes`.

The search's own labels (`nodes.label`, `mc_value`/`mc_hard`, `prm_score`) are not copied into
`labels`: the explorer keeps writing them into `nodes` in its wave transaction, so a copy would be a
second truth to keep in step (and a second write per node on the hot path). Stores of earlier revisions
upgrade with every row kept; their steps have the labels they had, and no judge or oracle rows.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.views import VIEWS_0008, create_view_statements, drop_view_statements

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "labels",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("node_id", sa.Integer(), sa.ForeignKey("nodes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("tree_id", sa.Integer(), sa.ForeignKey("trees.id", ondelete="CASCADE"), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("detail", sa.JSON(none_as_null=True), nullable=True),
        sa.UniqueConstraint("run_id", "node_id", "source", name="uq_labels_run_node_source"),
    )
    op.create_index("ix_labels_tree", "labels", ["tree_id"])
    for statement in create_view_statements(VIEWS_0008):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_view_statements(VIEWS_0008):
        op.execute(statement)
    op.drop_index("ix_labels_tree", table_name="labels")
    op.drop_table("labels")
