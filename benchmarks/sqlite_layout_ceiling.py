"""What SQLite itself costs for a search wave with the nodes table's layout, without journeyforge's
Python: raw `sqlite3` executemany of prebuilt rows, 200,000 nodes in waves of 2,000 over 1,000 trees
(store_scale.py's pattern: parents drawn anywhere in their tree, one visit/value UPDATE per parent),
the store's own tables (db/models.py) and pragmas (db/engine.py). A variant switches parts off, to
see what each costs:

    python benchmarks/sqlite_layout_ceiling.py base          # the layout as it is
    python benchmarks/sqlite_layout_ceiling.py noup          # no visit/value updates
    python benchmarks/sqlite_layout_ceiling.py nofk_nopar    # no foreign keys, no parent_id index
    python benchmarks/sqlite_layout_ceiling.py side          # visits/value in a narrow table of their own
    (parts, joined with _: noup, nofk, nopar, nouq, ckpt0, ckptbig, syncoff, excl, v05, side)

`side` is the layout benchmarks/README.md proposes for issue 28: each node's mutable counters in a
narrow `node_counters (node_id INTEGER PRIMARY KEY, visits, value)` table, one row inserted with
each node and the wave's UPDATEs landing there, so a wave dirties a few narrow pages instead of
~1,800 pages of wide node rows.

Prints the seconds spent in UPDATEs, INSERTs and COMMITs over all waves and the nodes per wall-second.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db.engine import make_engine  # noqa: E402
from db.models import Base  # noqa: E402

PARTS = {"noup", "nofk", "nopar", "nouq", "ckpt0", "ckptbig", "syncoff", "excl", "v05", "side", "base"}
COLUMNS = ("tree_id", "parent_id", "seq", "depth", "text", "token_ids", "state", "label", "reason", "reward", "value",
           "visits", "logprob", "finish_reason", "count", "mc_value", "mc_hard", "first_error", "prm_score", "expansions")
INSERT = f"INSERT INTO nodes ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
UPDATE = "UPDATE nodes SET visits = ?, value = ? WHERE id = ?"
SIDE_TABLE = "CREATE TABLE node_counters (node_id INTEGER PRIMARY KEY, visits INTEGER NOT NULL, value FLOAT NOT NULL)"
SIDE_INSERT = "INSERT INTO node_counters (node_id, visits, value) VALUES (?, ?, ?)"
SIDE_UPDATE = "UPDATE node_counters SET visits = ?, value = ? WHERE node_id = ?"
# a math-shaped step of about the length of a real one
STEP_TEXT = "She sells 16 - 3 - 4 = 9 eggs."


def open_store(path: Path, parts: set[str]):
    """The store's tables made by its own models, then a raw driver connection with the store's
    pragmas, less the parts the variant switches off."""
    Base.metadata.create_all(create_engine(f"sqlite:///{path}"))
    raw = make_engine(f"sqlite:///{path}").raw_connection()  # the store's pragmas are set on connect
    conn = raw.driver_connection
    conn.isolation_level = None  # explicit BEGIN / COMMIT below
    pragmas = {"ckpt0": "wal_autocheckpoint=0", "ckptbig": "wal_autocheckpoint=100000",
               "syncoff": "synchronous=OFF", "excl": "locking_mode=EXCLUSIVE", "nofk": "foreign_keys=OFF"}
    for part in parts & pragmas.keys():
        conn.execute(f"PRAGMA {pragmas[part]}")
    if "nopar" in parts:
        conn.execute("DROP INDEX ix_nodes_parent")
    if "nouq" in parts:  # a table constraint: rebuild the table without it
        ddl = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'nodes'").fetchone()[0]
        conn.execute("DROP TABLE nodes")
        conn.execute(ddl.replace(", \n\tCONSTRAINT uq_nodes_tree_seq UNIQUE (tree_id, seq)", ""))
        conn.execute("CREATE INDEX ix_nodes_solutions ON nodes (tree_id) WHERE label = 'solution'")
        if "nopar" not in parts:
            conn.execute("CREATE INDEX ix_nodes_parent ON nodes (parent_id)")
    if "side" in parts:
        conn.execute(SIDE_TABLE)
    return raw, conn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", help="base, or parts joined with _ (see the docstring)")
    parser.add_argument("--nodes", type=int, default=200_000)
    parser.add_argument("--trees", type=int, default=1000)
    args = parser.parse_args()
    parts = set(args.variant.split("_"))
    if parts - PARTS:
        parser.error(f"variant {args.variant!r}: unknown parts {sorted(parts - PARTS)}; known: {sorted(PARTS)}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ceiling.db"
        raw, conn = open_store(path, parts)
        phases, nodes_per_s = run(conn, parts, args.nodes, args.trees)
        size_mb = path.stat().st_size / 1e6
        raw.close()
    print(f"update {phases[0]:.2f} s, insert {phases[1]:.2f} s, commit {phases[2]:.2f} s")
    print(f"{args.variant:20s} {nodes_per_s:8.0f} nodes/s wall  size {size_mb:.0f} MB")


def run(conn, parts: set[str], n_nodes: int, n_trees: int) -> tuple[list[float], float]:
    """Waves of two new nodes per tree plus their parents' updates; returns the phase seconds
    [update, insert, commit] and nodes per wall-second."""
    rng = random.Random(0)
    conn.execute("INSERT INTO runs (name, stage, config, versions, status, stats, created_at) "
                 "VALUES ('ceiling', 'explore', '{}', '{}', 'running', '{}', '2026-01-01')")
    conn.executemany("INSERT INTO problems (id, dataset, split, key, payload) VALUES (?, 'ceiling', 'train', ?, '{}')",
                     [(t, f"p{t}") for t in range(1, n_trees + 1)])
    conn.executemany("INSERT INTO trees (id, run_id, problem_id, status, stats) VALUES (?, 1, ?, 'running', '{}')",
                     [(t, t) for t in range(1, n_trees + 1)])
    conn.executemany(INSERT, [(t, None, 0, 0, "", None, '{"step":0}', "root", None, None, 0.0, 0, None, None, 1,
                               None, None, 0, None, 0) for t in range(1, n_trees + 1)])
    side = "side" in parts
    if side:
        conn.executemany(SIDE_INSERT, [(t, 0, 0.0) for t in range(1, n_trees + 1)])
    # v05: values that do not grow when updated (SQLite stores 0.0 and 0 in no bytes): no page splits
    value, visits = (0.5, 100) if "v05" in parts else (0.0, 0)
    frontier = {t: [t] for t in range(1, n_trees + 1)}
    next_seq = dict.fromkeys(frontier, 1)
    phases, wall, written, last_id = [0.0, 0.0, 0.0], 0.0, 0, n_trees
    while written < n_nodes:
        rows, updates = [], []
        for t in rng.sample(range(1, n_trees + 1), n_trees):
            for _ in range(2):
                parent = rng.choice(frontier[t])
                tokens = json.dumps([rng.randrange(49152) for _ in range(14)], separators=(",", ":"))
                rows.append((t, parent, next_seq[t], 1, STEP_TEXT, tokens, '{"step":1,"left":[3,7,12]}', "valid", None,
                             None, value, visits, -1.2, "stop", 1, None, None, 0, None, 0))
                next_seq[t] += 1
                updates.append((1, rng.random(), parent))
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        if "noup" not in parts:
            conn.executemany(SIDE_UPDATE if side else UPDATE, updates)
        updated = time.perf_counter()
        conn.executemany(INSERT, rows)
        if side:  # the new nodes' ids follow the last one: rowids are assigned in order in one transaction
            conn.executemany(SIDE_INSERT, [(last_id + 1 + i, visits, value) for i in range(len(rows))])
        inserted = time.perf_counter()
        conn.execute("COMMIT")
        done = time.perf_counter()
        for i, phase in enumerate((updated - start, inserted - updated, done - inserted)):
            phases[i] += phase
        wall += done - start
        for row in rows:
            last_id += 1
            if rng.random() < 0.6:  # about the share of valid steps that may get children
                frontier[row[0]].append(last_id)
        written += len(rows)
    return phases, written / wall


if __name__ == "__main__":
    main()
