"""Lineage of self-evolution rounds: runs.round, parent_run_id, model, model_sha256; round views.

`journeyforge evolve` runs rounds 0..R-1 under the names `<name>/round-<k>`; every run of a round
records its round, the run it came from and the exact model that grew (explore) or came out of
(train) it. The views `round_trees` and `repeated_mistakes` (db/views.py VIEWS_0006) answer per
problem across rounds: solved or not, the first mistake, and whether a mistake of round k is made
again in round k+1. Runs stored before this revision keep NULL in the new columns.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.views import VIEWS_0006, create_view_statements, drop_view_statements

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy, as 0003): a table copy of `runs` would trip over the views of
    # revision 0002 that read it. Alembic refuses a foreign key on SQLite outside batch mode, but
    # SQLite itself takes an inline REFERENCES on an added column whose default is NULL. No ON DELETE:
    # SQLite's reflection cannot read it from an inline clause, and the schema must compare equal to
    # the models; no stage deletes runs.
    op.add_column("runs", sa.Column("round", sa.Integer(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE runs ADD COLUMN parent_run_id INTEGER REFERENCES runs (id)")
    else:
        op.add_column("runs", sa.Column("parent_run_id", sa.Integer(),
                                        sa.ForeignKey("runs.id"), nullable=True))
    op.add_column("runs", sa.Column("model", sa.String(500), nullable=True))
    op.add_column("runs", sa.Column("model_sha256", sa.String(64), nullable=True))
    for statement in create_view_statements(VIEWS_0006):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_view_statements(VIEWS_0006):
        op.execute(statement)
    # SQLite drops a column in place only when no constraint names it: copy `runs` without the
    # views of 0002 in the way (they are re-created unchanged).
    from db.views import VIEWS_0002

    for statement in drop_view_statements(VIEWS_0002):
        op.execute(statement)
    with op.batch_alter_table("runs") as batch:
        for column in ("model_sha256", "model", "parent_run_id", "round"):
            batch.drop_column(column)
    for statement in create_view_statements(VIEWS_0002):
        op.execute(statement)
