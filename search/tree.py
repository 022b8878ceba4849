"""The in-memory search tree the explorer grows and the algorithms read.

Each `SearchNode` mirrors one `nodes` row; `id` is the row id once the wave holding the node has
been written, so a tree can be rebuilt from the store and continued after a crash.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from search.tasks.base import ROOT, SOLUTION, StepResult


@dataclass(eq=False, slots=True)
class SearchNode:
    seq: int
    parent: SearchNode | None
    depth: int
    text: str
    label: str
    state: dict[str, Any] | None
    terminal: bool
    reason: str | None = None
    reward: float | None = None
    token_ids: list[int] | None = None
    logprob: float | None = None
    finish_reason: str | None = None
    count: int = 1
    # Monte-Carlo estimate (search/values.py): fraction of rollouts that reached a verified answer
    # (soft), whether any did (hard), and whether this is the first mistake on its path (OmegaPRM).
    mc_value: float | None = None
    mc_hard: float | None = None
    first_error: bool = False
    prm_score: float | None = None   # the step scorer's value of this node (search.value=prm)
    times_expanded: int = 0   # expansions of this node (MCTS samples a node again when its children all failed)
    visits: int = 0
    value_sum: float = 0.0
    children: list[SearchNode] = field(default_factory=list)
    expanded: bool = False
    exhausted: bool = False   # nothing left to expand below this node (set by algorithms)
    id: int | None = None     # `nodes.id` once written
    dirty: bool = False       # visits/value/count changed since the last write

    @property
    def value(self) -> float:
        return self.value_sum / self.visits if self.visits else 0.0

    def path(self) -> list[SearchNode]:
        """Root .. self."""
        out = []
        node: SearchNode | None = self
        while node is not None:
            out.append(node)
            node = node.parent
        return out[::-1]


def _normalise(text: str) -> str:
    return " ".join(text.split())


class SearchTree:
    """One problem's tree: nodes in creation order, plus what the explorer needs to prompt them."""

    def __init__(self, tree_id: int, problem: Any, prompt: str, prompt_ids: list[int] | None,
                 root_state: dict[str, Any], delimiter: str):
        self.tree_id = tree_id
        self.delimiter = delimiter   # the task's step delimiter: what follows each step in a prompt
        self.problem = problem
        self.prompt = prompt
        self.prompt_ids = prompt_ids
        self.nodes: list[SearchNode] = []
        self.root = self._append(SearchNode(seq=0, parent=None, depth=0, text="", label=ROOT,
                                            state=root_state, terminal=False))
        self.expansions = 0   # expansions made (simulations), restored from the store on resume
        self.algo: dict[str, Any] = {}  # per-tree algorithm bookkeeping (beam, chains)

    def _append(self, node: SearchNode) -> SearchNode:
        self.nodes.append(node)
        return node

    @property
    def solved(self) -> bool:
        return any(n.label == SOLUTION for n in self.nodes)

    def add_child(self, parent: SearchNode, text: str, result: StepResult, *, token_ids=None,
                  logprob=None, finish_reason=None) -> tuple[SearchNode, bool]:
        """Attach one generated step; an identical sibling absorbs it (count += 1).

        Returns (node, is_new). Merging duplicates keeps trees readable and stops the same mistake
        from being counted as several trials in journeys.
        """
        key = _normalise(text)
        for sib in parent.children:
            if _normalise(sib.text) == key:
                sib.count += 1
                sib.dirty = True
                return sib, False
        node = SearchNode(
            seq=len(self.nodes), parent=parent, depth=parent.depth + 1, text=text.strip(),
            # a step without a state (illegal) has nothing to continue from, whatever the task said
            label=result.label, state=result.state, terminal=result.terminal or result.state is None, reason=result.reason,
            reward=result.reward, token_ids=token_ids, logprob=logprob, finish_reason=finish_reason,
        )
        parent.children.append(node)
        return self._append(node), True

    def prompt_for(self, node: SearchNode) -> str:
        """Prompt text that makes the policy write the step after `node`: each step so far followed
        by the task's step delimiter."""
        return self.prompt + "".join(n.text + self.delimiter for n in node.path()[1:])

    def prompt_ids_for(self, node: SearchNode) -> list[int] | None:
        """Token-exact prompt: the prompt's ids followed by every ancestor step's generated ids."""
        if self.prompt_ids is None:
            return None
        ids = list(self.prompt_ids)
        for n in node.path()[1:]:
            if n.token_ids is None:
                return None
            ids.extend(n.token_ids)
        return ids

    def row(self, node: SearchNode) -> dict[str, Any]:
        """The `nodes` row of a node (parent must already have its id)."""
        return {
            "tree_id": self.tree_id,
            "parent_id": node.parent.id if node.parent is not None else None,
            "seq": node.seq, "depth": node.depth, "text": node.text, "token_ids": node.token_ids,
            "state": node.state, "label": node.label, "reason": node.reason, "reward": node.reward,
            "value": node.value, "visits": node.visits, "logprob": node.logprob,
            "finish_reason": node.finish_reason, "count": node.count, "mc_value": node.mc_value,
            "mc_hard": node.mc_hard, "first_error": node.first_error, "expansions": node.times_expanded,
            "prm_score": node.prm_score,
        }

    @classmethod
    def from_rows(cls, tree_id: int, problem: Any, prompt: str, prompt_ids: list[int] | None,
                  rows: list[dict[str, Any]], terminal_of, delimiter: str) -> SearchTree:
        """Rebuild a stored tree (rows ordered by seq). `terminal_of(row)` says if a row is a leaf.

        The budget continues where it stopped: each node's stored expansion count (MCTS expands a
        node again when all its children failed) sums to the tree's expansions."""
        root_row = rows[0]
        tree = cls(tree_id, problem, prompt, prompt_ids, root_row["state"], delimiter)
        tree.root.id = root_row["id"]
        tree.root.times_expanded = root_row.get("expansions") or 0
        tree.root.visits = root_row["visits"] or 0
        tree.root.value_sum = (root_row["value"] or 0.0) * tree.root.visits
        by_id = {root_row["id"]: tree.root}
        for r in rows[1:]:
            parent = by_id[r["parent_id"]]
            node = SearchNode(
                seq=r["seq"], parent=parent, depth=r["depth"], text=r["text"], label=r["label"],
                state=r["state"], terminal=terminal_of(r), reason=r["reason"], reward=r["reward"],
                token_ids=r["token_ids"], logprob=r["logprob"], finish_reason=r["finish_reason"],
                count=r.get("count") or 1, visits=r["visits"] or 0,
                value_sum=(r["value"] or 0.0) * (r["visits"] or 0), id=r["id"],
                mc_value=r.get("mc_value"), mc_hard=r.get("mc_hard"), first_error=bool(r.get("first_error")),
                times_expanded=r.get("expansions") or 0, prm_score=r.get("prm_score"),
            )
            parent.children.append(node)
            parent.expanded = True
            tree.nodes.append(node)
            by_id[r["id"]] = node
        for n in tree.nodes:
            # Migration 0003 counted one expansion for every node that had children before counts
            # were stored; a node with children but no expansion lies on a grafted rollout.
            n.expanded = n.times_expanded > 0 or bool(n.children)
        tree.expansions = sum(n.times_expanded for n in tree.nodes)
        return tree
