"""Trace store at scale: insert N nodes through `TraceStore.write_wave` in waves, then time queries;
then store N trajectories and time exporting them to a dataset.

    python benchmarks/store_scale.py                   # 1,000,000 nodes + 100,000 trajectories, SQLite (+ PostgreSQL if reachable)
    python benchmarks/store_scale.py --nodes 100000 --no-postgres
    python benchmarks/store_scale.py --nodes 0 --trajectories 100000 --no-postgres   # the export part only
    python benchmarks/store_scale.py --nodes 20000 --rollouts 16 --trajectories 0   # 16 rollouts per node in the same waves

Nodes: each wave adds `--wave` nodes spread over `--trees` trees (the explorer's pattern: every
active tree grows a little per wave) and backs up visits/values of their parents, all in one
`write_wave` call; rows and updates have the explorer's shape (every column; counters with
`count` and `expansions`). Prints nodes/s (store time only; building the row dicts is not counted), the
root-to-leaf `path()` time and the `solved()` time at full size, and `sqlite_nodes_per_s=<x>`.
On a shared machine also read the per-CPU-second rate: wall-clock rates drop with other load.

Trajectories (`--trajectories`, 0 skips): N/2 new small solved Countdown trees (root, 2-5 wrong
first steps, a three-step solution), then one shortcut and one journey trajectory per tree
(~300 characters in the verified `<think>`/`<answer>` frame), stored with `replace_trajectories`
one call per (tree, kind) as the linearize stage does (timed), then `traces.export.export_run`
into a temp directory (timed; `--profile` prints a pyinstrument profile of it). Also times the
`store.tree()` reads export_run makes against a bulk read of the same graphs. Prints `export_s=<x>` last.
Goals: >= 50,000 nodes/s on SQLite; path query < 10 ms; 100,000 trajectories exported in < 60 s.
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
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db import TraceStore  # noqa: E402
from db.models import Node, Problem as ProblemRow, Tree  # noqa: E402
from search.tasks.base import Problem  # noqa: E402
from search.tasks.countdown.generator import problem_key  # noqa: E402
from search.tasks.countdown.prompts import step_lines  # noqa: E402
from search.tasks.countdown.solver import after, combine, render_solution  # noqa: E402

LABELS = ["valid", "invalid", "dead_end", "solution"]
LABEL_WEIGHTS = [0.6, 0.2, 0.15, 0.05]
MAX_DEPTH = 12
# a GSM8K-length completion (~160 characters, 40 token ids) for `--rollouts`
ROLLOUT_TEXT = "She sells 16 - 3 - 4 = 9 eggs.\nShe makes 9 * 2 = $18 every day.\n</think>\nThe answer is \\boxed{18}."
ROLLOUT_IDS = [(7919 * i) % 151_936 for i in range(40)]


def run_backend(url: str, args: argparse.Namespace) -> dict:
    """Run the node part (`--nodes`) and then the export part (`--trajectories`) on one store;
    returns {"nodes": numbers or None, "export": numbers or None}."""
    store = TraceStore(url)
    try:
        nodes = run_nodes(store, args.nodes, args.wave, args.trees, args.seed, args.rollouts) if args.nodes > 0 else None
        export = run_export(store, args.trajectories, args.seed, args.profile) if args.trajectories > 0 else None
        return {"nodes": nodes, "export": export}
    finally:
        store.close()


def run_nodes(store: TraceStore, n_nodes: int, wave: int, n_trees: int, seed: int, rollouts: int = 0) -> dict:
    """Fill `store` with `n_nodes` nodes (and `rollouts` Monte-Carlo completions per new node, in the
    same waves) and time inserts and queries; returns the numbers."""
    rng = random.Random(seed)
    run = store.start_run("bench", "explore", config={"nodes": n_nodes})
    problems = store.add_problems(
        [{"dataset": "bench", "key": f"p{i}", "payload": {"nums": [i, 2, 3, 4], "target": 24}} for i in range(n_trees)]
    )
    tree_ids = store.create_trees(run, problems)
    roots = store.add_nodes(
        [{"tree_id": t, "seq": 0, "depth": 0, "label": "root", "state": {"nums": [1, 2, 3, 4], "target": 24}} for t in tree_ids]
    )
    # per tree: (node id, depth) of nodes that may get children, and the next seq
    grow = _Growth(rng, tree_ids, {t: [(r, 0)] for t, r in zip(tree_ids, roots)}, dict.fromkeys(tree_ids, 1), {})
    written, store_s, store_cpu_s, server_cpu_s = len(roots), 0.0, 0.0, 0.0
    rollouts_written = 0
    server_cpu = server_cpu_reader(store)
    while written < n_nodes:
        rows, updates, completions = grow.wave(n_trees, wave, rollouts)
        start_server = server_cpu()
        start, start_cpu = time.perf_counter(), time.process_time()
        ids = store.write_wave(rows, updates, [], rollouts=completions)
        store_s += time.perf_counter() - start
        store_cpu_s += time.process_time() - start_cpu
        server_cpu_s += server_cpu() - start_server
        written += len(ids)
        rollouts_written += len(completions)
        grow.written(rows, ids)
    inserted = written - len(roots)
    return {
        "nodes": written, "nodes_per_s": inserted / store_s, "store_s": store_s,
        "rollouts": rollouts_written, "rows_per_s": (inserted + rollouts_written) / store_s,
        "nodes_per_cpu_s": inserted / store_cpu_s,
        # client + server CPU (PostgreSQL's backends on this machine): the rate on idle cores, which on a
        # loaded shared machine says more than wall-clock time
        "nodes_per_total_cpu_s": inserted / (store_cpu_s + server_cpu_s), "server_cpu_s": server_cpu_s,
        **_time_queries(store, run, grow.frontier),
    }


@dataclass
class _Growth:
    """Random trees grown wave by wave: which nodes may get children (`frontier`, per tree), each
    tree's next `seq` and each parent's visits."""

    rng: random.Random
    tree_ids: list[int]
    frontier: dict[int, list[tuple[int, int]]]
    next_seq: dict[int, int]
    visits: dict[int, int]

    def wave(self, n_trees: int, wave: int, rollouts: int) -> tuple[list[dict], list[dict], list[dict]]:
        """One wave's node rows, the parents' update rows and `rollouts` completions per new node."""
        rng, per_tree = self.rng, max(1, wave // n_trees)
        rows, parents = [], []
        for t in rng.sample(self.tree_ids, min(n_trees, max(1, wave // per_tree))):
            for _ in range(per_tree):
                parent, depth = rng.choice(self.frontier[t])
                label = rng.choices(LABELS, LABEL_WEIGHTS)[0]
                # every column, as the explorer's rows (SearchTree.row) give them
                rows.append({
                    "tree_id": t, "parent_id": parent, "seq": self.next_seq[t], "depth": depth + 1,
                    "text": f"{rng.randint(1, 99)} + {rng.randint(1, 99)} = {rng.randint(2, 198)} (left: 3, 7, 12)",
                    "token_ids": [rng.randrange(49152) for _ in range(14)],
                    "state": {"nums": [3, 7, 12], "target": 24},
                    "label": label, "reason": None, "reward": 1.0 if label == "solution" else None,
                    "value": 0.0, "visits": 0, "logprob": -rng.random() * 5, "finish_reason": "stop",
                    "count": 1, "mc_value": None, "mc_hard": None, "first_error": False,
                    "expansions": 0, "prm_score": None,
                })
                self.next_seq[t] += 1
                parents.append(parent)
        updates = []
        for parent, tree_id in dict.fromkeys(zip(parents, (row["tree_id"] for row in rows))):
            self.visits[parent] = self.visits.get(parent, 0) + 1
            # the explorer's update rows: counters plus the revisable count and expansions
            updates.append({"id": parent, "tree_id": tree_id, "visits": self.visits[parent], "value": rng.random(),
                            "count": 1, "expansions": self.visits[parent]})
        completions = [{"node_index": i, "tree_id": row["tree_id"], "idx": j, "text": ROLLOUT_TEXT, "answer": "24",
                        "is_correct": j % 4 == 0, "n_tokens": 40, "token_ids": ROLLOUT_IDS, "finish_reason": "stop"}
                       for i, row in enumerate(rows) for j in range(rollouts)]
        return rows, updates, completions

    def written(self, rows: list[dict], ids: list[int]) -> None:
        """The stored ids of a wave's `rows`: valid nodes above MAX_DEPTH may get children."""
        for row, node_id in zip(rows, ids):
            if row["label"] == "valid" and row["depth"] < MAX_DEPTH:
                self.frontier[row["tree_id"]].append((node_id, row["depth"]))


def _time_queries(store: TraceStore, run: int, frontier: dict[int, list[tuple[int, int]]]) -> dict:
    """Time the path of the 200 deepest nodes (root to leaf) and the solved-trees query."""
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
    return {"path_depth": deepest[0][0] if deepest else 0,
            "path_ms_median": 1000 * statistics.median(times), "path_ms_max": 1000 * max(times),
            "solved_ms": 1000 * solved_s, "solved_trees": len(solved)}


def server_cpu_reader(store: TraceStore):
    """A function giving the CPU seconds used so far by the PostgreSQL backends of `store`'s database,
    read from /proc (the server must run on this machine); for SQLite (in-process) always 0."""
    if store.dialect != "postgresql" or not Path("/proc/self/stat").exists():
        return lambda: 0.0
    from sqlalchemy import text

    tick = os.sysconf("SC_CLK_TCK")

    def cpu() -> float:
        with store.engine.connect() as conn:
            pids = list(conn.scalars(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")))
        total = 0.0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # not on this machine, or gone
                continue
            total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        return total

    return cpu


def print_result(backend: str, result: dict) -> None:
    """One block of numbers per backend."""
    print(f"[{backend}] {result['nodes']:,} nodes in {result['store_s']:.1f} s of store time: "
          f"{result['nodes_per_s']:,.0f} nodes/s "
          f"({result['nodes_per_cpu_s']:,.0f} per CPU-second of this process; for SQLite that is the rate on an idle core)")
    if result["server_cpu_s"]:
        print(f"[{backend}] with the server's CPU ({result['server_cpu_s']:.1f} s): "
              f"{result['nodes_per_total_cpu_s']:,.0f} nodes per CPU-second (client + server)")
    if result["rollouts"]:
        print(f"[{backend}] with {result['rollouts']:,} rollouts in the same waves: "
              f"{result['rows_per_s']:,.0f} rows/s (nodes + rollouts)")
    print(f"[{backend}] path() root->leaf (depth {result['path_depth']}): median {result['path_ms_median']:.2f} ms, "
          f"max {result['path_ms_max']:.2f} ms")
    print(f"[{backend}] solved(run): {result['solved_ms']:.1f} ms ({result['solved_trees']} trees)")


# ------------------------------------------------------------------------------ trajectory export

TREES, PROBLEMS, NODES = Tree.__table__, ProblemRow.__table__, Node.__table__
KINDS = ("shortcut", "journey")
PER_TREE = len(KINDS)  # one trajectory of each kind per tree, as a linearize run of both kinds makes
TREE_CHUNK = 1000  # trees per write_wave call while building the export's trees (untimed setup)
REFLECTIONS = ("Wait, {reason}. That step is wrong.", "Hmm, {reason}. I made a mistake there.",
               "Let me check that: {reason}. That is an error.")
RETURNS = ("Let me go back to {state}.", "Back to {state}: let me try a different operation.",
           "Going back to {state} and trying something else.")


def countdown_case(rng: random.Random, taken: set[str]) -> dict:
    """A new four-number Countdown problem built from a random three-step solution, with 2-5 wrong
    first steps (wrong products) for the journey; `taken` holds keys already used."""
    while True:
        nums = [rng.randint(2, 60) for _ in range(4)]
        current, steps = list(nums), []
        for x in nums[1:]:
            step = rng.choice(combine(current[-1] if steps else nums[0], x))
            steps.append(step)
            current = after(current, step)
        target = current[0]
        key = problem_key(nums, target)
        if target < 1000 and key not in taken:
            taken.add(key)
            break
    lines = step_lines(nums, steps)
    answer = render_solution(nums, steps)
    mistakes = []
    for a, b in rng.sample([(nums[i], nums[j]) for i in range(4) for j in range(i + 1, 4)], rng.randint(2, 5)):
        wrong = a * b + rng.choice((-2, -1, 1, 2, 10))
        mistakes.append((f"{a} * {b} = {wrong}", f"{a} * {b} is {a * b}, not {wrong}"))
    return {"nums": nums, "target": target, "key": key, "lines": lines, "answer": answer, "mistakes": mistakes}


def journey_lines(case: dict, rng: random.Random) -> list[str]:
    """The journey's step lines: every wrong trial, its reflection and the return, then the solution."""
    state = ", ".join(map(str, case["nums"]))
    out = []
    for line, reason in case["mistakes"]:
        out += [line, rng.choice(REFLECTIONS).format(reason=reason), rng.choice(RETURNS).format(state=state)]
    return out + case["lines"]


def build_export_trees(store: TraceStore, n_trees: int, rng: random.Random, task) -> tuple[int, list[dict]]:
    """An explore run of `n_trees` small solved trees (root, 2-5 invalid first steps, a three-step
    solution path), one new Countdown problem each; returns (linearize run id, cases with ids)."""
    explore = store.start_run("bench-export", "explore", config={"trees": n_trees})
    taken: set[str] = set()
    cases = [countdown_case(rng, taken) for _ in range(n_trees)]
    problem_ids = store.add_problems([
        {"dataset": "bench-countdown", "key": c["key"], "payload": {"nums": c["nums"], "target": c["target"]},
         "answer": c["answer"]} for c in cases
    ])
    for case, tree_id in zip(cases, store.create_trees(explore, problem_ids)):
        case["tree_id"] = tree_id
    for start in range(0, n_trees, TREE_CHUNK):
        chunk = cases[start:start + TREE_CHUNK]
        roots = store.write_wave([
            {"tree_id": c["tree_id"], "seq": 0, "depth": 0, "label": "root",
             "state": {"nums": c["nums"], "target": c["target"]}} for c in chunk
        ])
        parents = roots
        for c in chunk:
            c["node_ids"] = []
        # depth 1 carries the mistakes (siblings of the first good step), then one good step per depth
        for depth in range(1, 4):
            rows, owners = [], []
            for c, parent in zip(chunk, parents):
                if depth == 1:
                    for i, (line, reason) in enumerate(c["mistakes"]):
                        rows.append({"tree_id": c["tree_id"], "parent_id": parent, "seq": 1 + i, "depth": 1,
                                     "text": line, "label": "invalid", "reason": reason})
                        owners.append((c, "mistake"))
                rows.append({"tree_id": c["tree_id"], "parent_id": parent, "seq": len(c["mistakes"]) + depth,
                             "depth": depth, "text": c["lines"][depth - 1],
                             "label": "solution" if depth == 3 else "valid",
                             "reward": 1.0 if depth == 3 else None})
                owners.append((c, "good"))
            ids = store.write_wave(rows)
            parents = []
            for (c, role), node_id in zip(owners, ids):
                c["node_ids"].append((role, node_id))
                if role == "good":
                    parents.append(node_id)
    return store.start_run("bench-export", "linearize", config={"kinds": list(KINDS)}), cases


def trajectory_rows(case: dict, kind: str, rng: random.Random, task) -> list[dict]:
    """One stored trajectory row of `kind` for `case`, shaped as the linearizers write them."""
    good = [n for role, n in case["node_ids"] if role == "good"]
    if kind == "shortcut":
        lines, node_ids, backtracks = case["lines"], good, 0
    else:
        lines, node_ids, backtracks = journey_lines(case, rng), [n for _, n in case["node_ids"]], len(case["mistakes"])
    text = task.render_completion(lines, case["answer"])
    problem = Problem(key=case["key"], payload={"nums": case["nums"], "target": case["target"]})
    if not task.verify(problem, task.extract_answer(text)):
        raise AssertionError(f"benchmark bug: the {kind} text of {case['key']} does not verify: {text!r}")
    return [{
        "text": text,
        "messages": [{"role": "user", "content": task.instructions(problem)}, {"role": "assistant", "content": text}],
        "node_ids": node_ids, "answer": case["answer"], "n_steps": len(case["lines"]),
        "n_backtracks": backtracks, "is_correct": True,
    }]


def run_export(store: TraceStore, n_trajectories: int, seed: int, profile: bool) -> dict:
    """Store `n_trajectories` trajectories (shortcut/journey alternating, one of each per tree),
    timing `replace_trajectories`, then time `export_run` of them into a temp directory."""
    import datasets

    from search.tasks import make_task
    from traces.export import export_run

    datasets.disable_progress_bars()  # one bar per split and configuration would bury the numbers
    rng = random.Random(seed + 1)
    task = make_task({"name": "countdown"})
    n_trees = -(-n_trajectories // PER_TREE)
    start = time.perf_counter()
    run, cases = build_export_trees(store, n_trees, rng, task)
    setup_s = time.perf_counter() - start

    calls = [(case, KINDS[i % PER_TREE]) for i in range(n_trajectories) for case in [cases[i // PER_TREE]]]
    payloads = [trajectory_rows(case, kind, rng, task) for case, kind in calls]
    chars = [len(p[0]["text"]) for p in payloads]
    start = time.perf_counter()
    for (case, kind), rows in zip(calls, payloads):
        store.replace_trajectories(run, case["tree_id"], kind, rows)
    insert_s = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        profiler = None
        if profile:
            from pyinstrument import Profiler
            profiler = Profiler()
            profiler.start()
        start, start_cpu = time.perf_counter(), time.process_time()
        summary = export_run(store, run, list(KINDS), Path(tmp, "export"), task,
                             {"export": {"test_fraction": 0.1, "seed": seed}})
        export_s, export_cpu_s = time.perf_counter() - start, time.process_time() - start_cpu
        if profiler is not None:
            profiler.stop()
            print(profiler.output_text(unicode=True, color=False, show_all=False))
        exported = sum(summary["configs"][f"sft_{k}"][s] for k in KINDS for s in ("train", "test"))
        size_mb = sum(f.stat().st_size for f in Path(tmp).rglob("*") if f.is_file()) / 1e6
    if exported != n_trajectories:
        raise AssertionError(f"export wrote {exported} SFT rows for {n_trajectories} trajectories")

    # The graph read alone: one store.tree() per tree (as export_run did before) against the bulk
    # store.tree_graphs() export_run uses now; the two are checked equal.
    tree_ids = [case["tree_id"] for case in cases]
    start = time.perf_counter()
    one_by_one = {t: store.tree(t) for t in tree_ids}
    tree_s = time.perf_counter() - start
    start = time.perf_counter()
    bulk = store.tree_graphs(tree_ids)
    bulk_s = time.perf_counter() - start
    for t in tree_ids[:: max(1, len(tree_ids) // 50)]:
        a, b = one_by_one[t], bulk[t]
        if a.graph != b.graph or dict(a.nodes(data=True)) != dict(b.nodes(data=True)) or set(a.edges) != set(b.edges):
            raise AssertionError(f"store.tree_graphs differs from store.tree() for tree {t}")
    return {
        "trajectories": n_trajectories, "trees": n_trees, "setup_s": setup_s, "mean_chars": statistics.mean(chars),
        "insert_s": insert_s, "export_s": export_s, "export_cpu_s": export_cpu_s, "tree_s": tree_s, "bulk_s": bulk_s,
        "export_mb": size_mb, "configs": summary["configs"],
    }


def print_export(backend: str, result: dict) -> None:
    """The trajectory insert and export numbers of one backend."""
    n, trees = result["trajectories"], result["trees"]
    print(f"[{backend}] {n:,} trajectories ({result['mean_chars']:.0f} chars of text on average) over {trees:,} "
          f"trees (built in {result['setup_s']:.1f} s, untimed)")
    print(f"[{backend}] replace_trajectories, one call per (tree, kind) as the linearize stage makes them: "
          f"{result['insert_s']:.1f} s, {n / result['insert_s']:,.0f} rows/s")
    print(f"[{backend}] export_run: {result['export_s']:.1f} s ({result['export_cpu_s']:.1f} s CPU), "
          f"{n / result['export_s']:,.0f} rows/s, {result['export_mb']:,.1f} MB written; "
          f"configs {result['configs']}")
    print(f"[{backend}] reading the {trees:,} trees: one store.tree() at a time {result['tree_s']:.1f} s "
          f"({1000 * result['tree_s'] / trees:.2f} ms per tree); store.tree_graphs (500 trees a query, "
          f"what export_run uses) {result['bulk_s']:.1f} s")


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


def print_backend(backend: str, result: dict) -> None:
    """Whichever parts ran on one backend."""
    if result["nodes"] is not None:
        print_result(backend, result["nodes"])
    if result["export"] is not None:
        print_export(backend, result["export"])


def main() -> None:
    """Parse options, run SQLite (and PostgreSQL), print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1_000_000, help="nodes to insert in waves (0: skip that part)")
    parser.add_argument("--wave", type=int, default=2000, help="nodes per write_wave call")
    parser.add_argument("--trees", type=int, default=1000)
    parser.add_argument("--rollouts", type=int, default=0, help="Monte-Carlo rollouts per new node, written in its wave")
    parser.add_argument("--trajectories", type=int, default=100_000,
                        help="trajectories to store and export with export_run (0: skip that part)")
    parser.add_argument("--profile", action="store_true", help="print a pyinstrument profile of export_run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--postgres", default=os.environ.get("JOURNEYFORGE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
                        help="server URL; a scratch database is created next to it and dropped")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    for name in ("nodes", "trajectories"):
        if getattr(args, name) < 0:
            parser.error(f"--{name} must be >= 0, got {getattr(args, name)}")

    # SQLite first: each backend's run leaves the kernel 100-300 MB of written pages to flush, and
    # the next run's fsyncs wait behind them (measured: SQLite 45-50k nodes/s right after a
    # PostgreSQL run, 52-55k alone; PostgreSQL 24-26k after SQLite, 26-30k alone). SQLite's goal is
    # the tighter one.
    sqlite, size_mb = None, 0.0
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            sqlite = run_backend(f"sqlite:///{tmp}/bench.db", args)
            size_mb = Path(tmp, "bench.db").stat().st_size / 1e6
    if not args.no_postgres:
        scratch = postgres_scratch(args.postgres)
        if scratch:
            url, drop = scratch
            try:
                print_backend("postgresql", run_backend(url, args))
            finally:
                drop()
    if sqlite is None:
        return
    print_backend("sqlite", sqlite)
    print(f"[sqlite] file size {size_mb:,.0f} MB")
    if sqlite["nodes"] is not None:
        print(f"sqlite_nodes_per_s={sqlite['nodes']['nodes_per_s']:.0f}")
    if sqlite["export"] is not None:
        print(f"export_s={sqlite['export']['export_s']:.1f}")


if __name__ == "__main__":
    main()
