"""SQL views (node_paths, solved_trees, mistakes_per_tree, run_stats) and the nodes (tree_id, label) index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
from __future__ import annotations

from alembic import op

from db.views import VIEWS_0002, create_view_statements, drop_view_statements

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_nodes_tree_label", "nodes", ["tree_id", "label"])
    for statement in create_view_statements(VIEWS_0002):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_view_statements(VIEWS_0002):
        op.execute(statement)
    op.drop_index("ix_nodes_tree_label", table_name="nodes")
