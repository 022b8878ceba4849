"""Data you can publish: what an explore run spent (`run_costs`) and the contaminated training problems
an export found (`contamination`), with the views `trajectory_costs` and `contaminated_problems`.

Stores of earlier revisions upgrade with every row kept; their runs have no cost row (the view then
has no row for them) and their exports found no contamination.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.views import VIEWS_0007, create_view_statements, drop_view_statements

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_costs",
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("cached_prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("generated_tokens", sa.Integer(), nullable=False),
        sa.Column("rollout_tokens", sa.Integer(), nullable=False),
        sa.Column("policy_seconds", sa.Float(), nullable=False),
        sa.Column("gpu_seconds", sa.Float(), nullable=True),
    )
    op.create_table(
        "contamination",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("problem_id", sa.Integer(), sa.ForeignKey("problems.id", ondelete="CASCADE"), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("matched", sa.String(500), nullable=False),
        sa.Column("how", sa.String(16), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("run_id", "problem_id", name="uq_contamination_run_problem"),
    )
    for statement in create_view_statements(VIEWS_0007):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_view_statements(VIEWS_0007):
        op.execute(statement)
    op.drop_table("contamination")
    op.drop_table("run_costs")
