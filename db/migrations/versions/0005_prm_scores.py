"""Process reward model scores on nodes (`search.value=prm`).

`nodes.prm_score` is the step scorer's probability that the step is still on a way to a correct
answer; the scorer that gave it is the explore run's `search.prm` (its directory and the sha256 of its
files, in `runs.config`). NULL where no scorer ran.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("nodes", sa.Column("prm_score", sa.Float(), nullable=True))


def downgrade() -> None:
    # In place (SQLite >= 3.35): a batch copy of `nodes` would trip over the views that read it.
    op.drop_column("nodes", "prm_score")
