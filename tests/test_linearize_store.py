"""Linearizers on a tree read back from a real SQLite trace store (`TraceStore.tree`)."""
from __future__ import annotations

import networkx as nx

from db import TraceStore
from tests.linearize_trees import countdown_task, tree_1357
from traces.linearize import linearize_tree

COLUMNS = ("seq", "depth", "text", "token_ids", "state", "label", "reason", "reward", "value", "visits",
           "logprob", "finish_reason", "count")


def _store_tree(store: TraceStore, G: nx.DiGraph) -> int:
    """Write a hand-built tree into the store (parents before children); returns the tree id."""
    problem = G.graph["problem"]
    [pid] = store.add_problems([{k: problem[k] for k in ("dataset", "key", "payload", "split", "answer")}])
    run = store.start_run("lin", "explore", {})
    [tid] = store.create_trees(run, [pid])
    new_id = {}
    for n in nx.topological_sort(G):
        attrs = G.nodes[n]
        row = {k: attrs[k] for k in COLUMNS}
        parent = attrs["parent_id"]
        [new_id[n]] = store.add_nodes([{**row, "tree_id": tid, "parent_id": new_id.get(parent)}])
    return tid


def test_linearizers_read_trees_as_the_store_returns_them(sqlite_url):
    store = TraceStore(sqlite_url)
    try:
        tid = _store_tree(store, tree_1357())
        G = store.tree(tid)
        task = countdown_task()
        by_seq = {G.nodes[n]["seq"]: n for n in G}
        [short], _ = linearize_tree(G, task, "shortcut", None)
        assert short["node_ids"] == [by_seq[2], by_seq[7], by_seq[8]]
        assert short["tree_id"] == tid and short["answer"] == "((3 * 5) + 7) * 1"
        [journey], _ = linearize_tree(G, task, "journey", {"select": "plausible"})
        assert journey["node_ids"] == [by_seq[s] for s in (3, 2, 6, 7, 9, 8)]
        [stream], _ = linearize_tree(G, task, "stream", None)
        assert stream["lines"][-1] == "22,22 equal: Goal Reached"
        # The rows go back into the store as `trajectories` (less the `lines` helper field).
        lin = store.start_run("lin", "linearize", {})
        for traj in (short, journey, stream):
            store.replace_trajectories(lin, tid, traj["kind"], [{k: v for k, v in traj.items() if k != "lines"}])
        stored = {t["kind"]: t for t in store.trajectories(run_id=lin)}
        assert stored["journey"]["text"] == journey["text"] and stored["journey"]["n_backtracks"] == 3
    finally:
        store.close()
