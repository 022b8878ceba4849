"""SQL views (node_paths, solved_trees, mistakes_per_tree, run_stats); nodes indexes for large stores.

Adds the partial index ix_nodes_solutions and drops ix_nodes_tree, which uq_nodes_tree_seq
(tree_id, seq) already serves (see db/models.py).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.views import VIEWS_0002, create_view_statements, drop_view_statements

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SOLUTION = sa.text("label = 'solution'")


def upgrade() -> None:
    op.drop_index("ix_nodes_tree", table_name="nodes")
    op.create_index("ix_nodes_solutions", "nodes", ["tree_id"], sqlite_where=SOLUTION, postgresql_where=SOLUTION)
    for statement in create_view_statements(VIEWS_0002):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_view_statements(VIEWS_0002):
        op.execute(statement)
    op.drop_index("ix_nodes_solutions", table_name="nodes")
    op.create_index("ix_nodes_tree", "nodes", ["tree_id"])
