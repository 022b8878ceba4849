"""SQLAlchemy 2.x models of the trace store; the same tables on SQLite and PostgreSQL.

The README documents these tables as the SQL interface: names and meanings here are a public API.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


# Nullable JSON columns use JSON(none_as_null=True): Python None is stored as SQL NULL (so that
# `WHERE state IS NULL` works in any SQL client), not as the JSON text 'null'.


class Run(Base):
    """One stage run: `name` groups the stages of one experiment (explore, linearize, ...)."""

    __tablename__ = "runs"
    __table_args__ = (UniqueConstraint("name", "stage", name="uq_runs_name_stage"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    stage: Mapped[str] = mapped_column(String(32))          # explore | linearize | export | train | eval
    config: Mapped[dict] = mapped_column(JSON, default=dict)  # resolved Hydra config of the stage
    versions: Mapped[dict] = mapped_column(JSON, default=dict)  # package versions
    git_sha: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | done | failed
    stats: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Lineage of self-evolution rounds (`journeyforge evolve`), NULL for runs outside one. Migration 0006.
    # An explore run of round k >= 1 came from round k-1's explore run (its trees trained the model that
    # grew these); a round's other runs came from its explore run. `model` is the model that grew the
    # trees (explore) or that training produced (train): a base name or a directory, with the sha256
    # of its files so that a directory overwritten later is told apart.
    round: Mapped[int | None] = mapped_column(Integer, nullable=True)
    parent_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), nullable=True)
    model: Mapped[str | None] = mapped_column(String(500), nullable=True)
    model_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Problem(Base):
    """A problem; `payload` holds the task fields (e.g. a puzzle's numbers and goal, a math question)."""

    __tablename__ = "problems"
    __table_args__ = (UniqueConstraint("dataset", "key", name="uq_problems_dataset_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset: Mapped[str] = mapped_column(String(200))
    split: Mapped[str] = mapped_column(String(32), default="train")
    key: Mapped[str] = mapped_column(String(500))
    payload: Mapped[dict] = mapped_column(JSON)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)


class Tree(Base):
    """A search tree: one problem explored within one explore run."""

    __tablename__ = "trees"
    __table_args__ = (
        UniqueConstraint("run_id", "problem_id", name="uq_trees_run_problem"),
        Index("ix_trees_run_status", "run_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | running | done | failed
    claimed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    stats: Mapped[dict] = mapped_column(JSON, default=dict)  # nodes, solved, waves, ...


class Node(Base):
    """One step of a tree. `seq` is the creation order within the tree (the search's visit order)."""

    __tablename__ = "nodes"
    __table_args__ = (
        UniqueConstraint("tree_id", "seq", name="uq_nodes_tree_seq"),
        Index("ix_nodes_parent", "parent_id"),
        # "Which trees are solved" without scanning every node of a run. Partial, so that it costs
        # inserts nothing but for solutions. Migration 0002 added it and dropped ix_nodes_tree
        # (tree_id), which uq_nodes_tree_seq already serves: each tree-prefixed index costs about
        # one page write per tree per wave, the main insert cost of a large store.
        Index(
            "ix_nodes_solutions", "tree_id",
            sqlite_where=text("label = 'solution'"), postgresql_where=text("label = 'solution'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tree_id: Mapped[int] = mapped_column(ForeignKey("trees.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), nullable=True)
    seq: Mapped[int] = mapped_column(Integer)
    depth: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text, default="")          # the generated line (root: "")
    token_ids: Mapped[list | None] = mapped_column(JSON(none_as_null=True), nullable=True)  # generated ids, for exact prefixes
    state: Mapped[dict | None] = mapped_column(JSON(none_as_null=True), nullable=True)      # task state after the step
    label: Mapped[str] = mapped_column(String(16))   # root | valid | invalid | dead_end | solution
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)  # why invalid / dead_end
    reward: Mapped[float | None] = mapped_column(Float, nullable=True)
    value: Mapped[float] = mapped_column(Float, default=0.0)   # mean backed-up value
    visits: Mapped[int] = mapped_column(Integer, default=0)
    logprob: Mapped[float | None] = mapped_column(Float, nullable=True)
    finish_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    count: Mapped[int] = mapped_column(Integer, default=1)  # identical samples merged into this node
    # Monte-Carlo value (search.value=rollout): share of this node's rollouts that reached a verified
    # answer (soft), 1.0 if any did (hard); NULL where no rollouts were drawn. Migration 0003.
    mc_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    mc_hard: Mapped[float | None] = mapped_column(Float, nullable=True)
    first_error: Mapped[bool] = mapped_column(Boolean, default=False)  # first mistake on its path (OmegaPRM)
    # Step scorer's probability that the step still leads to a correct answer (search.value=prm; the
    # scorer is the explore run's config `search.prm`); NULL where none ran. Migration 0005.
    prm_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    expansions: Mapped[int] = mapped_column(Integer, default=0)  # times this node was expanded (search budget)


class Rollout(Base):
    """One Monte-Carlo completion drawn from a node to a final answer (Math-Shepherd, OmegaPRM):
    a whole solution, right or wrong, that researchers reuse as data."""

    __tablename__ = "rollouts"
    __table_args__ = (Index("ix_rollouts_node", "node_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"))
    tree_id: Mapped[int] = mapped_column(ForeignKey("trees.id", ondelete="CASCADE"))
    idx: Mapped[int] = mapped_column(Integer, default=0)             # 0..M-1 among the node's rollouts
    text: Mapped[str] = mapped_column(Text)                          # the completion after the node's step
    token_ids: Mapped[list | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)  # the final answer it states
    is_correct: Mapped[bool] = mapped_column(Boolean, default=False)  # verified against the gold answer
    n_tokens: Mapped[int] = mapped_column(Integer, default=0)
    finish_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)


class Trajectory(Base):
    """A linearized path through a tree: shortcut, journey or stream."""

    __tablename__ = "trajectories"
    __table_args__ = (
        UniqueConstraint("run_id", "tree_id", "kind", "idx", name="uq_trajectories_run_tree_kind_idx"),
        Index("ix_trajectories_run_kind", "run_id", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tree_id: Mapped[int] = mapped_column(ForeignKey("trees.id", ondelete="CASCADE"))
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))  # the linearize run
    kind: Mapped[str] = mapped_column(String(16))   # shortcut | journey | stream
    idx: Mapped[int] = mapped_column(Integer, default=0)  # several trajectories of one kind per tree
    text: Mapped[str] = mapped_column(Text)         # the rendered completion (<think>...</think> + the task's answer frame)
    messages: Mapped[list | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    node_ids: Mapped[list] = mapped_column(JSON, default=list)  # nodes in the order they appear
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    n_steps: Mapped[int] = mapped_column(Integer, default=0)
    n_backtracks: Mapped[int] = mapped_column(Integer, default=0)
    n_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    is_correct: Mapped[bool] = mapped_column(Boolean, default=False)
    # Character spans of `text` by role, [{"role": "mistake" | "reflection" | "check", "start", "end"}]:
    # what `train.mask_mistakes` masks. NULL for kinds without such parts. Migration 0004.
    spans: Mapped[list | None] = mapped_column(JSON(none_as_null=True), nullable=True)


class Eval(Base):
    """One model's answer to one held-out problem."""

    __tablename__ = "evals"
    __table_args__ = (UniqueConstraint("run_id", "model", "problem_id", name="uq_evals_run_model_problem"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(500))    # "base" or the tuned model's label/path
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id", ondelete="CASCADE"))
    prediction: Mapped[str] = mapped_column(Text)      # the full generated text
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)  # the final answer extracted by the task
    is_correct: Mapped[bool] = mapped_column(Boolean, default=False)
    n_tokens: Mapped[int] = mapped_column(Integer, default=0)


class EvalSample(Base):
    """One sampled answer (temperature > 0) behind an eval row's maj@k / pass@k. Migration 0004."""

    __tablename__ = "eval_samples"
    __table_args__ = (UniqueConstraint("eval_id", "idx", name="uq_eval_samples_eval_idx"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    eval_id: Mapped[int] = mapped_column(ForeignKey("evals.id", ondelete="CASCADE"))
    idx: Mapped[int] = mapped_column(Integer)                # 0..k-1
    prediction: Mapped[str] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    is_correct: Mapped[bool] = mapped_column(Boolean, default=False)
    n_tokens: Mapped[int] = mapped_column(Integer, default=0)


class RunCost(Base):
    """What an explore run spent on its policy (migration 0007): tokens and seconds, summed over every
    invocation of the run (a resumed run adds to them). `gpu_seconds` is the modelled engine's time for
    `policy=simulated`, NULL for a real backend (its `policy_seconds` are the measured time)."""

    __tablename__ = "run_costs"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)   # of those, served from a prefix cache
    generated_tokens: Mapped[int] = mapped_column(Integer, default=0)       # steps and rollouts together
    rollout_tokens: Mapped[int] = mapped_column(Integer, default=0)         # of those, Monte-Carlo rollouts'
    policy_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    gpu_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)


class Contamination(Base):
    """A training problem an export found in a held-out or benchmark set (migration 0007): what it matched
    (`source`, `matched`: the reference's key or file line) and how (`canonical`, `exact` or `ngram`);
    `removed` is false when the export kept it (`export.keep_contaminated`)."""

    __tablename__ = "contamination"
    __table_args__ = (UniqueConstraint("run_id", "problem_id", name="uq_contamination_run_problem"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))   # the export run
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(200))
    matched: Mapped[str] = mapped_column(String(500))
    how: Mapped[str] = mapped_column(String(16))
    removed: Mapped[bool] = mapped_column(Boolean, default=True)


class StepLabel(Base):
    """One step label from a source the search did not write into `nodes` (migration 0008): an LLM
    judge (`source='judge'`, ProcessBench's first-error task) or the task's exact oracle
    (`source='oracle'`), written by a `journeyforge label` run. `label` is `good`, `mistake` or, for a
    judge answer outside the grammar, `unparsed`; `score` the source's probability of `good` where it
    has one; `detail` where it came from (the judge's model, its raw answers, the paths that voted).
    The search's own labels stay in `nodes` (label, mc_value/mc_hard, prm_score): the `step_labels`
    view shows both side by side."""

    __tablename__ = "labels"
    __table_args__ = (
        UniqueConstraint("run_id", "node_id", "source", name="uq_labels_run_node_source"),
        Index("ix_labels_tree", "tree_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))     # the label run
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"))
    tree_id: Mapped[int] = mapped_column(ForeignKey("trees.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))    # judge | oracle
    label: Mapped[str] = mapped_column(String(16))     # good | mistake | unparsed
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    detail: Mapped[dict | None] = mapped_column(JSON(none_as_null=True), nullable=True)
