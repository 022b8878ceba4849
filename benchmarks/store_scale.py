"""Trace store at scale: insert N nodes through `TraceStore.write_wave` in waves, then time queries.

    python benchmarks/store_scale.py                   # 1,000,000 nodes, SQLite (+ PostgreSQL if reachable)
    python benchmarks/store_scale.py --nodes 100000 --no-postgres

Each wave adds `--wave` nodes spread over `--trees` trees (the explorer's pattern: every active
tree grows a little per wave) and backs up visits/values of their parents, all in one
`write_wave` call. Prints nodes/s (store time only; building the row dicts is not counted), the
root-to-leaf `path()` time and the `solved()` time at full size, and `sqlite_nodes_per_s=<x>` last.
On a shared machine also read the per-CPU-second rate: wall-clock rates drop with other load.
Goals: >= 50,000 nodes/s on SQLite; path query < 10 ms.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db import TraceStore  # noqa: E402

LABELS = ["valid", "invalid", "dead_end", "solution"]
LABEL_WEIGHTS = [0.6, 0.2, 0.15, 0.05]
MAX_DEPTH = 12


def run_backend(url: str, n_nodes: int, wave: int, n_trees: int, seed: int) -> dict:
    """Fill the store at `url` with `n_nodes` nodes and time inserts and queries; returns the numbers."""
    rng = random.Random(seed)
    store = TraceStore(url)
    try:
        run = store.start_run("bench", "explore", config={"nodes": n_nodes})
        problems = store.add_problems(
            [{"dataset": "bench", "key": f"p{i}", "payload": {"nums": [i, 2, 3, 4], "target": 24}} for i in range(n_trees)]
        )
        tree_ids = store.create_trees(run, problems)
        roots = store.add_nodes(
            [{"tree_id": t, "seq": 0, "depth": 0, "label": "root", "state": {"nums": [1, 2, 3, 4], "target": 24}} for t in tree_ids]
        )
        # per tree: (node id, depth) of nodes that may get children, and the next seq
        frontier = {t: [(r, 0)] for t, r in zip(tree_ids, roots)}
        next_seq = dict.fromkeys(tree_ids, 1)
        visits: dict[int, int] = {}
        written, store_s, store_cpu_s = len(roots), 0.0, 0.0
        per_tree = max(1, wave // n_trees)
        while written < n_nodes:
            rows, parents = [], []
            for t in rng.sample(tree_ids, min(n_trees, max(1, wave // per_tree))):
                for _ in range(per_tree):
                    parent, depth = rng.choice(frontier[t])
                    label = rng.choices(LABELS, LABEL_WEIGHTS)[0]
                    rows.append({
                        "tree_id": t, "parent_id": parent, "seq": next_seq[t], "depth": depth + 1,
                        "text": f"{rng.randint(1, 99)} + {rng.randint(1, 99)} = {rng.randint(2, 198)} (left: 3, 7, 12)",
                        "token_ids": [rng.randrange(49152) for _ in range(14)],
                        "state": {"nums": [3, 7, 12], "target": 24},
                        "label": label, "logprob": -rng.random() * 5, "finish_reason": "stop",
                        "reward": 1.0 if label == "solution" else None,
                    })
                    next_seq[t] += 1
                    parents.append(parent)
            updates = []
            for parent in dict.fromkeys(parents):
                visits[parent] = visits.get(parent, 0) + 1
                updates.append({"id": parent, "visits": visits[parent], "value": rng.random()})
            start, start_cpu = time.perf_counter(), time.process_time()
            ids = store.write_wave(rows, updates, [])
            store_s += time.perf_counter() - start
            store_cpu_s += time.process_time() - start_cpu
            written += len(ids)
            for row, node_id in zip(rows, ids):
                if row["label"] == "valid" and row["depth"] < MAX_DEPTH:
                    frontier[row["tree_id"]].append((node_id, row["depth"]))
        inserted = written - len(roots)

        # deepest nodes: the longest root-to-leaf paths
        deepest = sorted(((d, n) for nodes in frontier.values() for n, d in nodes), reverse=True)[:200]
        times = []
        for _, node_id in deepest:
            start = time.perf_counter()
            path = store.path(node_id)
            times.append(time.perf_counter() - start)
            assert path[-1]["id"] == node_id and path[0]["parent_id"] is None
        start = time.perf_counter()
        solved = store.solved(run)
        solved_s = time.perf_counter() - start
        return {
            "nodes": written, "nodes_per_s": inserted / store_s, "store_s": store_s,
            "nodes_per_cpu_s": inserted / store_cpu_s,
            "path_depth": deepest[0][0] if deepest else 0,
            "path_ms_median": 1000 * statistics.median(times), "path_ms_max": 1000 * max(times),
            "solved_ms": 1000 * solved_s, "solved_trees": len(solved),
        }
    finally:
        store.close()


def print_result(backend: str, result: dict) -> None:
    """One block of numbers per backend."""
    print(f"[{backend}] {result['nodes']:,} nodes in {result['store_s']:.1f} s of store time: "
          f"{result['nodes_per_s']:,.0f} nodes/s "
          f"({result['nodes_per_cpu_s']:,.0f} per CPU-second of this process; for SQLite that is the rate on an idle core)")
    print(f"[{backend}] path() root->leaf (depth {result['path_depth']}): median {result['path_ms_median']:.2f} ms, "
          f"max {result['path_ms_max']:.2f} ms")
    print(f"[{backend}] solved(run): {result['solved_ms']:.1f} ms ({result['solved_trees']} trees)")


def postgres_scratch(admin_url: str):
    """(url of a new scratch database, function dropping it), or None when the server is unreachable."""
    import psycopg

    conninfo = admin_url.replace("postgresql+psycopg://", "postgresql://")
    base, _, _ = conninfo.rpartition("/")
    name = f"journeyforge_bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        print(f"[postgresql] skipped: server unreachable ({exc})".strip())
        return None

    def drop():
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return admin_url.rpartition("/")[0] + f"/{name}", drop


def main() -> None:
    """Parse options, run SQLite (and PostgreSQL), print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--wave", type=int, default=2000, help="nodes per write_wave call")
    parser.add_argument("--trees", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--postgres", default=os.environ.get("JOURNEYFORGE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
                        help="server URL; a scratch database is created next to it and dropped")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    if not args.no_postgres:
        scratch = postgres_scratch(args.postgres)
        if scratch:
            url, drop = scratch
            try:
                print_result("postgresql", run_backend(url, args.nodes, args.wave, args.trees, args.seed))
            finally:
                drop()
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = run_backend(f"sqlite:///{tmp}/bench.db", args.nodes, args.wave, args.trees, args.seed)
        size_mb = Path(tmp, "bench.db").stat().st_size / 1e6
    print_result("sqlite", sqlite)
    print(f"[sqlite] file size {size_mb:,.0f} MB")
    print(f"sqlite_nodes_per_s={sqlite['nodes_per_s']:.0f}")


if __name__ == "__main__":
    main()
