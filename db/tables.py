"""The store's tables as SQLAlchemy Core handles, and the fields each kind of row may carry.

The parts of `TraceStore` (db/store.py) write Core statements against these handles, never ORM
objects: the explorer writes thousands of nodes per wave. The defaults here are what a row gets
for an optional field it leaves out.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Table

from db.models import Eval, EvalSample, Node, Problem, Rollout, Run, Trajectory, Tree

RUNS: Table = Run.__table__
PROBLEMS: Table = Problem.__table__
TREES: Table = Tree.__table__
NODES: Table = Node.__table__
TRAJECTORIES: Table = Trajectory.__table__
EVALS: Table = Eval.__table__
ROLLOUTS: Table = Rollout.__table__
EVAL_SAMPLES: Table = EvalSample.__table__

TREE_STATUSES = ("pending", "running", "done", "failed")
RUN_STATUSES = ("running", "done", "failed")

# Values of optional fields when a row leaves them out.
NODE_DEFAULTS: dict[str, Any] = {
    "parent_id": None, "text": "", "token_ids": None, "state": None, "reason": None, "reward": None,
    "value": 0.0, "visits": 0, "logprob": None, "finish_reason": None, "count": 1,
    "mc_value": None, "mc_hard": None, "first_error": False, "expansions": 0, "prm_score": None,
}
NODE_REQUIRED = ("tree_id", "seq", "depth", "label")
# `parent_index` (write_wave only): the parent is the wave's row at that index, not yet stored.
NODE_FIELDS = frozenset(NODE_REQUIRED) | NODE_DEFAULTS.keys() | {"parent_index"}
# Optional columns a wave may revise on a stored node besides visits and value.
NODE_REVISABLE = ("count", "label", "reason", "mc_value", "mc_hard", "first_error", "expansions")
TRAJECTORY_DEFAULTS: dict[str, Any] = {
    "messages": None, "node_ids": [], "answer": None, "n_steps": 0, "n_backtracks": 0,
    "n_tokens": None, "is_correct": False, "spans": None,
}
TRAJECTORY_FIELDS = frozenset({"idx", "text"}) | TRAJECTORY_DEFAULTS.keys()
ROLLOUT_DEFAULTS: dict[str, Any] = {"idx": 0, "token_ids": None, "answer": None, "is_correct": False,
                                    "n_tokens": 0, "finish_reason": None}
# A rollout names its node by id, or (in `write_wave`) by its index among the wave's new nodes.
ROLLOUT_FIELDS = frozenset({"node_id", "node_index", "tree_id", "text"}) | ROLLOUT_DEFAULTS.keys()
EVAL_DEFAULTS: dict[str, Any] = {"answer": None, "is_correct": False, "n_tokens": 0}
# `samples` (replace_evals only): the sampled answers behind maj@k / pass@k, stored in eval_samples.
EVAL_FIELDS = frozenset({"problem_id", "prediction", "samples"}) | EVAL_DEFAULTS.keys()
EVAL_SAMPLE_FIELDS = frozenset({"prediction", "answer", "is_correct", "n_tokens"})

# Tables and views `TraceStore.count` may name (its SQL is built from the name, so only these).
COUNTABLE = frozenset(
    {"runs", "problems", "trees", "nodes", "rollouts", "trajectories", "evals",
     "node_paths", "solved_trees", "mistakes_per_tree", "run_stats"}
)
