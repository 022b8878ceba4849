"""A stored search tree as a read model: nodes by id, children, root-to-node paths, solutions, the problem.

`TraceStore.tree_graphs` returns each tree as a `networkx.DiGraph` (node keys are node ids, node
attributes the `nodes` columns, `G.graph` holds `tree_id`, `root` and `problem`, the `problems` row).
`StoredTree` wraps such a graph (or a hand-built one of the same shape) and answers the questions every
reader asks of it, with one set of conventions: children in creation (`seq`) order, which solution is
"best". It holds plain dicts and the graph only, so that `db` imports no other project package; turning
the problem row into a task's problem, or a node's text into a trajectory line, is the reader's job.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import networkx as nx

SOLUTION = "solution"  # the `nodes.label` of a step that reaches a verified final answer (db/models.py)
_PROBLEM_FIELDS = ("key", "payload")


class StoredTree:
    """One tree of the trace store, read-only (the graph is shared, never copied)."""

    __slots__ = ("graph", "_solved")

    def __init__(self, graph: nx.DiGraph):
        self.graph = graph
        self._solved: set[int] | None = None

    @classmethod
    def of(cls, tree: StoredTree | nx.DiGraph) -> StoredTree:
        """`tree` as a StoredTree: itself when it is one, else its graph wrapped."""
        return tree if isinstance(tree, cls) else cls(tree)

    def __repr__(self) -> str:
        return f"StoredTree(tree_id={self.tree_id!r}, nodes={len(self.graph)})"

    def __contains__(self, node: Any) -> bool:
        return node in self.graph

    # -- the tree ---------------------------------------------------------------------------------

    @property
    def tree_id(self) -> Any:
        """The tree id recorded in `G.graph` (None when a hand-built graph has none)."""
        return self.graph.graph.get("tree_id")

    @property
    def root(self) -> int:
        """The root node id from `G.graph["root"]`; a clear error when it is missing or wrong."""
        root = self.graph.graph.get("root")
        if root is None or root not in self.graph:
            raise ValueError(f"tree {self.tree_id!r}: G.graph['root'] is {root!r}, not a node of the tree")
        return root

    @property
    def has_root(self) -> bool:
        """Whether `G.graph["root"]` names a node (a tree with no stored nodes has none)."""
        return self.graph.graph.get("root") in self.graph

    @property
    def problem(self) -> dict[str, Any]:
        """The tree's `problems` row (`G.graph["problem"]`), checked to carry `key` and `payload`."""
        row = self.graph.graph.get("problem")
        if not isinstance(row, dict):
            raise ValueError(f"tree {self.tree_id!r}: G.graph['problem'] must be a dict, got {type(row).__name__}")
        missing = [f for f in _PROBLEM_FIELDS if row.get(f) is None]
        if missing:
            raise ValueError(f"tree {self.tree_id!r}: G.graph['problem'] lacks field(s) {missing} "
                             f"(got fields {sorted(row)})")
        return row

    # -- nodes ------------------------------------------------------------------------------------

    def node(self, n: int) -> dict[str, Any]:
        """Node `n`'s columns (the graph's attribute dict itself: read it, do not write it)."""
        return self.graph.nodes[n]

    def seq(self, n: int) -> int:
        """The node's creation order (`seq`); the node id when a hand-built graph has no seq."""
        seq = self.graph.nodes[n].get("seq")
        return n if seq is None else seq

    def label(self, n: int) -> str | None:
        """The node's label (`root`, `valid`, `invalid`, `dead_end`, `solution`, `wrong_answer`)."""
        return self.graph.nodes[n].get("label")

    def ordered_nodes(self) -> list[int]:
        """Every node id in creation (`seq`) order: the search's visit order."""
        return sorted(self.graph, key=self.seq)

    # -- structure --------------------------------------------------------------------------------

    def children(self, n: int) -> list[int]:
        """Children of `n` in creation (`seq`) order, so that every reader sees siblings alike."""
        return sorted(self.graph.successors(n), key=self.seq)

    def parent(self, n: int) -> int | None:
        """The parent of `n`, None at the root."""
        preds = list(self.graph.predecessors(n))
        return preds[0] if preds else None

    def path(self, n: int) -> list[int]:
        """Node ids from the root down to `n`, both included (networkx's NetworkXNoPath when a store
        holds a node cut off from the root)."""
        return nx.shortest_path(self.graph, self.root, n)

    def leaf_paths(self) -> list[list[int]]:
        """Every root-to-leaf path (root excluded), leaves in visit order; none for a lone root."""
        paths, stack = [], [(self.root, [])]
        while stack:
            node, path = stack.pop()
            kids = self.children(node)
            if not kids and path:
                paths.append(path)
            stack.extend((kid, path + [kid]) for kid in reversed(kids))
        return paths

    # -- solutions --------------------------------------------------------------------------------

    def solutions(self) -> list[int]:
        """All solution nodes in creation order."""
        return sorted((n for n in self.graph if self.label(n) == SOLUTION), key=self.seq)

    def solved_nodes(self) -> set[int]:
        """Nodes that are a solution or have one below them (computed once per StoredTree)."""
        if self._solved is None:
            out: set[int] = set()
            for n in self.graph:
                if self.label(n) == SOLUTION:
                    out |= nx.ancestors(self.graph, n) | {n}
            self._solved = out
        return self._solved

    def best_solutions(self) -> list[int]:
        """Solution nodes best first: fewest steps, then highest value, then earliest (`seq`)."""
        def key(n: int):
            return (len(self.path(n)), -(self.node(n).get("value") or 0.0), self.seq(n))

        return sorted(self.solutions(), key=key)


def path_to(tree: StoredTree | nx.DiGraph, n: int) -> list[int]:
    """Node ids from the root down to `n` of a stored tree or its graph (`StoredTree.path`)."""
    return StoredTree.of(tree).path(n)


class _GraphSource(Protocol):
    def tree_graphs(self, tree_ids: Iterable[int]) -> dict[int, nx.DiGraph]: ...


def load_trees(store: _GraphSource, tree_ids: Iterable[int]) -> dict[int, StoredTree]:
    """Many stored trees at once, by id in the order given (unknown ids are absent): the store's bulk
    `tree_graphs` read, three queries per 500 trees with their problems, instead of three per tree."""
    return {tid: StoredTree(graph) for tid, graph in store.tree_graphs(list(tree_ids)).items()}


__all__ = ["SOLUTION", "StoredTree", "load_trees", "path_to"]
