"""What SQLite itself costs for a search wave with the nodes table's layout, without journeyforge's
Python: raw `sqlite3` executemany of prebuilt rows, 200,000 nodes in waves of 2,000 over 1,000 trees
(store_scale.py's pattern: parents drawn anywhere in their tree, one visit/value UPDATE per parent),
the store's pragmas. A variant name switches parts off, to see what each costs:

    python benchmarks/sqlite_layout_ceiling.py base          # the layout as it is
    python benchmarks/sqlite_layout_ceiling.py noup          # no visit/value updates
    python benchmarks/sqlite_layout_ceiling.py nofk_nopar    # no foreign keys, no parent_id index
    (tokens: noup, nofk, nopar, nouq, ckpt0, ckptbig, syncoff, excl, v05; combine with _)

Prints [update s, insert s, commit s] over all waves and the nodes per wall-second.
"""
import json
import os
import random
import sqlite3
import sys
import tempfile
import time

variant = sys.argv[1]
path = os.path.join(tempfile.gettempdir(), f"layout_ceiling_{variant}.db")
for s in ("", "-wal", "-shm"):
    try: os.remove(path + s)
    except FileNotFoundError: pass
c = sqlite3.connect(path, isolation_level=None)
for p in ["journal_mode=WAL", "synchronous=NORMAL", "cache_size=-65536", "mmap_size=268435456", "wal_autocheckpoint=16384"]:
    c.execute("PRAGMA " + p)
if "ckpt0" in variant: c.execute("PRAGMA wal_autocheckpoint=0")
if "ckptbig" in variant: c.execute("PRAGMA wal_autocheckpoint=100000")
if "syncoff" in variant: c.execute("PRAGMA synchronous=OFF")
if "excl" in variant: c.execute("PRAGMA locking_mode=EXCLUSIVE")
c.execute("PRAGMA foreign_keys=" + ("OFF" if "nofk" in variant else "ON"))
c.execute("CREATE TABLE trees (id INTEGER PRIMARY KEY)")
uq = "" if "nouq" in variant else ", CONSTRAINT uq UNIQUE (tree_id, seq)"
c.execute(f"""CREATE TABLE nodes (id INTEGER NOT NULL, tree_id INTEGER NOT NULL, parent_id INTEGER, seq INTEGER NOT NULL,
 depth INTEGER NOT NULL, text TEXT NOT NULL, token_ids JSON, state JSON, label VARCHAR(16) NOT NULL, reason TEXT, reward FLOAT,
 value FLOAT NOT NULL, visits INTEGER NOT NULL, logprob FLOAT, finish_reason VARCHAR(16), count INTEGER NOT NULL, mc_value FLOAT,
 mc_hard FLOAT, first_error BOOLEAN NOT NULL, prm_score FLOAT, expansions INTEGER NOT NULL, PRIMARY KEY (id){uq},
 FOREIGN KEY(tree_id) REFERENCES trees (id) ON DELETE CASCADE, FOREIGN KEY(parent_id) REFERENCES nodes (id) ON DELETE CASCADE)""")
c.execute("CREATE INDEX sol ON nodes (tree_id) WHERE label = 'solution'")
if "nopar" not in variant:
    c.execute("CREATE INDEX par ON nodes (parent_id)")
rng = random.Random(0)
T = 1000
c.executemany("INSERT INTO trees VALUES (?)", [(i,) for i in range(1, T+1)])
ins = "INSERT INTO nodes (tree_id,parent_id,seq,depth,text,token_ids,state,label,reason,reward,value,visits,logprob,finish_reason,count,mc_value,mc_hard,first_error,prm_score,expansions) VALUES (" + ",".join("?"*20) + ")"
c.executemany(ins, [(t, None, 0, 0, "", None, '{"nums":[1,2,3,4]}', "root", None, None, 0.0, 0, None, None, 1, None, None, 0, None, 0) for t in range(1, T+1)])
frontier = {t: [t] for t in range(1, T+1)}; seq = dict.fromkeys(frontier, 1)
ph=[0,0,0]; nid = T; tot = 0.0; n = 0
while n < 200000:
    rows, ups = [], []
    for t in rng.sample(range(1, T+1), T):
        for _ in range(2):
            p = rng.choice(frontier[t])
            tok = json.dumps([rng.randrange(49152) for _ in range(14)], separators=(",", ":"))
            rows.append((t, p, seq[t], 1, "12 + 7 = 19 (left: 3, 7, 12)", tok, '{"nums":[3,7,12],"target":24}', "valid", None, None, (0.5 if "v05" in variant else 0.0), (100 if "v05" in variant else 0), -1.2, "stop", 1, None, None, 0, None, 0))
            seq[t] += 1; ups.append((1, rng.random(), p))
    s = time.process_time(); w = time.perf_counter()
    c.execute("BEGIN IMMEDIATE")
    a=time.perf_counter()
    if "noup" not in variant:
        c.executemany("UPDATE nodes SET visits=?, value=? WHERE id=?", ups)
    b=time.perf_counter()
    c.executemany(ins, rows)
    d=time.perf_counter()
    c.execute("COMMIT")
    e=time.perf_counter(); ph[0]+=b-a; ph[1]+=d-b; ph[2]+=e-d
    tot += time.perf_counter() - w
    for i, r in enumerate(rows):
        nid += 1
        if rng.random() < 0.6: frontier[r[0]].append(nid)
    n += len(rows)
print(ph); print(f"{variant:20s} {n/tot:8.0f} nodes/s wall  size {os.path.getsize(path)/1e6:.0f} MB")
