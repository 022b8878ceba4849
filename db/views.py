"""SQL views of the trace store and the example queries that docs/store.md quotes.

The SQL is plain enough to run unchanged on SQLite, PostgreSQL and DuckDB (WITH RECURSIVE, `||`,
COUNT/GROUP BY), so researchers can use whichever client they like.

Views are created by migrations, which must not change once released: migration 0002 creates
`VIEWS_0002`. To change a view, add `VIEWS_0003` (or one entry) and a migration that drops and
re-creates it, and point `VIEWS` at the new set. Migration 0006 adds `VIEWS_0006` (rounds), 0007 `VIEWS_0007`
(contaminated problems, trajectory costs), 0008 `VIEWS_0008` (every step label with its source).
"""
from __future__ import annotations

VIEWS_0002: dict[str, str] = {
    # Every node with its depth and the step texts from the root down to it, ' | '-separated.
    # The recursion starts at every root, so filter on tree_id for big stores; for one node's
    # path the bottom-up NODE_PATH_QUERY below is much faster.
    "node_paths": """
WITH RECURSIVE walk(node_id, tree_id, depth, path) AS (
    SELECT id, tree_id, depth, text FROM nodes WHERE parent_id IS NULL
    UNION ALL
    SELECT n.id, n.tree_id, n.depth,
           CASE WHEN w.path = '' THEN n.text ELSE w.path || ' | ' || n.text END
    FROM nodes n JOIN walk w ON n.parent_id = w.node_id
)
SELECT node_id, tree_id, depth, path FROM walk
""",
    # Trees with at least one `solution` node, with how many and the shallowest one's depth.
    "solved_trees": """
SELECT t.run_id, t.id AS tree_id, t.problem_id,
       COUNT(*) AS solutions, MIN(n.depth) AS min_depth
FROM trees t JOIN nodes n ON n.tree_id = t.id
WHERE n.label = 'solution'
GROUP BY t.run_id, t.id, t.problem_id
""",
    # Mistakes (invalid steps and dead ends) per tree and label.
    "mistakes_per_tree": """
SELECT tree_id, label, COUNT(*) AS n
FROM nodes
WHERE label IN ('invalid', 'dead_end')
GROUP BY tree_id, label
""",
    # One row per run: its trees, how many are done, their nodes, how many are solved.
    "run_stats": """
SELECT r.id AS run_id, r.name, r.stage, r.status,
       (SELECT COUNT(*) FROM trees t WHERE t.run_id = r.id) AS trees,
       (SELECT COUNT(*) FROM trees t WHERE t.run_id = r.id AND t.status = 'done') AS done,
       (SELECT COUNT(*) FROM nodes n JOIN trees t ON n.tree_id = t.id WHERE t.run_id = r.id) AS nodes,
       (SELECT COUNT(*) FROM solved_trees s WHERE s.run_id = r.id) AS solved
FROM runs r
""",
}

# A mistake, as the round views read it: a step labelled invalid or a dead end, or one the value
# estimator marked the first error on its path (Monte-Carlo rollouts: no rollout rescued it).
_MISTAKE = "({n}.label IN ('invalid', 'dead_end') OR {n}.first_error)"

VIEWS_0006: dict[str, str] = {
    # One row per tree of a self-evolution round (explore runs with a round): the run, its round, the
    # run it came from and the model that grew it; whether the tree is solved, its nodes, and its
    # first mistake in search order (depth and step text; NULL when it made none).
    "round_trees": f"""
SELECT r.id AS run_id, r.name, r.round, r.parent_run_id, r.model, r.model_sha256,
       t.id AS tree_id, t.problem_id, t.status,
       CASE WHEN EXISTS (SELECT 1 FROM nodes s WHERE s.tree_id = t.id AND s.label = 'solution')
            THEN 1 ELSE 0 END AS solved,
       (SELECT COUNT(*) FROM nodes a WHERE a.tree_id = t.id) AS nodes,
       (SELECT m.depth FROM nodes m WHERE m.tree_id = t.id AND {_MISTAKE.format(n="m")}
        ORDER BY m.seq LIMIT 1) AS first_error_depth,
       (SELECT m.text FROM nodes m WHERE m.tree_id = t.id AND {_MISTAKE.format(n="m")}
        ORDER BY m.seq LIMIT 1) AS first_error_text
FROM runs r JOIN trees t ON t.run_id = r.id
WHERE r.stage = 'explore' AND r.round IS NOT NULL
""",
    # One row per mistake of round k on a problem that round k+1 grew again (the explore run whose
    # parent_run_id is round k's): `repeated` is 1 when round k+1's tree of the same problem has a
    # mistake with the same step text, or the same task state (compared as JSON text).
    "repeated_mistakes": f"""
SELECT r1.id AS run_id, r1.round, r2.id AS next_run_id, r2.round AS next_round,
       t1.problem_id, m1.id AS node_id, m1.depth, m1.label, m1.text,
       CASE WHEN EXISTS (
           SELECT 1 FROM trees t2 JOIN nodes m2 ON m2.tree_id = t2.id
           WHERE t2.run_id = r2.id AND t2.problem_id = t1.problem_id AND {_MISTAKE.format(n="m2")}
             AND (m2.text = m1.text
                  OR (m1.state IS NOT NULL AND CAST(m2.state AS TEXT) = CAST(m1.state AS TEXT))))
            THEN 1 ELSE 0 END AS repeated
FROM runs r1
JOIN runs r2 ON r2.parent_run_id = r1.id AND r2.stage = 'explore'
JOIN trees t1 ON t1.run_id = r1.id
JOIN nodes m1 ON m1.tree_id = t1.id
WHERE r1.stage = 'explore' AND {_MISTAKE.format(n="m1")}
  AND EXISTS (SELECT 1 FROM trees t3 WHERE t3.run_id = r2.id AND t3.problem_id = t1.problem_id)
""",
}

VIEWS_0007: dict[str, str] = {
    # One row per training problem an export found in a held-out or benchmark set: the export run,
    # the problem, what it matched (`source`: `held-out`, a benchmark or a file; `matched`: its key or
    # file line), how (`canonical`, `exact`, `ngram`) and whether the export left it out.
    "contaminated_problems": """
SELECT c.run_id AS export_run_id, r.name, p.id AS problem_id, p.dataset, p.key AS problem, p.split,
       c.source, c.matched, c.how, c.removed
FROM contamination c
JOIN runs r ON r.id = c.run_id
JOIN problems p ON p.id = c.problem_id
""",
    # What an accepted trajectory cost, per explore run, linearize run and kind: the explore run's
    # policy tokens and seconds (run_costs) over the verified trajectories of that kind grown from its
    # trees, and over its solved trees. Every kind is read from the same trees, so each kind's figure is
    # the whole search's cost over that kind's trajectories.
    "trajectory_costs": """
SELECT e.id AS explore_run_id, e.name, t.run_id AS linearize_run_id, t.kind,
       COUNT(*) AS accepted,
       (SELECT COUNT(*) FROM solved_trees s WHERE s.run_id = e.id) AS solved_trees,
       c.prompt_tokens, c.cached_prompt_tokens, c.generated_tokens, c.rollout_tokens,
       c.policy_seconds, c.gpu_seconds,
       1.0 * c.prompt_tokens / COUNT(*) AS prompt_tokens_per_accepted,
       1.0 * c.generated_tokens / COUNT(*) AS generated_tokens_per_accepted,
       1.0 * c.policy_seconds / COUNT(*) AS policy_seconds_per_accepted,
       1.0 * c.generated_tokens / NULLIF((SELECT COUNT(*) FROM solved_trees s WHERE s.run_id = e.id), 0)
           AS generated_tokens_per_solved_tree,
       1.0 * c.policy_seconds / NULLIF((SELECT COUNT(*) FROM solved_trees s WHERE s.run_id = e.id), 0)
           AS policy_seconds_per_solved_tree
FROM run_costs c
JOIN runs e ON e.id = c.run_id
JOIN trees tr ON tr.run_id = e.id
JOIN trajectories t ON t.tree_id = tr.id
WHERE t.is_correct
GROUP BY e.id, e.name, t.run_id, t.kind, c.prompt_tokens, c.cached_prompt_tokens, c.generated_tokens,
         c.rollout_tokens, c.policy_seconds, c.gpu_seconds
""",
}

VIEWS_0008: dict[str, str] = {
    # Every label a step has, one row per source, as `good` / `mistake` (judge: also `unparsed`):
    # `mc` (the stored label where Monte-Carlo rollouts set it, `score` the soft value), `task` (the
    # stored label where the task's own rules set it), `prm` (a step scorer during the search, good at
    # a score of 0.5 or more), and the rows of `labels` (a judge, the oracle; `run_id` the label run).
    # The search's labels are read from `nodes` where the explorer writes them, not copied.
    "step_labels": """
SELECT n.id AS node_id, n.tree_id,
       CASE WHEN n.mc_value IS NOT NULL THEN 'mc' ELSE 'task' END AS source,
       CASE WHEN n.label IN ('valid', 'solution') THEN 'good' ELSE 'mistake' END AS label,
       n.mc_value AS score, CAST(NULL AS INTEGER) AS run_id
FROM nodes n WHERE n.parent_id IS NOT NULL
UNION ALL
SELECT n.id, n.tree_id, 'prm', CASE WHEN n.prm_score >= 0.5 THEN 'good' ELSE 'mistake' END, n.prm_score, CAST(NULL AS INTEGER)
FROM nodes n WHERE n.prm_score IS NOT NULL
UNION ALL
SELECT l.node_id, l.tree_id, l.source, l.label, l.score, l.run_id FROM labels l
""",
}

# The views of the newest schema revision.
VIEWS: dict[str, str] = {**VIEWS_0002, **VIEWS_0006, **VIEWS_0007, **VIEWS_0008}


def create_view_statements(views: dict[str, str]) -> list[str]:
    """`CREATE VIEW` statements for `views`, in dependency order (dict order)."""
    return [f"CREATE VIEW {name} AS {sql.strip()}" for name, sql in views.items()]


def drop_view_statements(views: dict[str, str]) -> list[str]:
    """`DROP VIEW IF EXISTS` statements for `views`, dependents first."""
    return [f"DROP VIEW IF EXISTS {name}" for name in reversed(list(views))]


# Example queries quoted verbatim in docs/store.md (and tested there against a real store).
# They use literals, not parameters, so that they run as written in sqlite3, psql and DuckDB.
SOLVED_TREES_QUERY = """\
SELECT t.id AS tree_id, p.key AS problem, COUNT(*) AS solutions
FROM runs r
JOIN trees t ON t.run_id = r.id
JOIN problems p ON p.id = t.problem_id
JOIN nodes n ON n.tree_id = t.id
WHERE r.name = 'demo' AND r.stage = 'explore' AND n.label = 'solution'
GROUP BY t.id, p.key
ORDER BY t.id;"""

NODE_PATH_QUERY = """\
WITH RECURSIVE up(id, parent_id, depth, label, text) AS (
    SELECT id, parent_id, depth, label, text FROM nodes WHERE id = 4
    UNION ALL
    SELECT n.id, n.parent_id, n.depth, n.label, n.text
    FROM nodes n JOIN up ON n.id = up.parent_id
)
SELECT id, depth, label, text FROM up ORDER BY depth;"""

MISTAKES_QUERY = """\
SELECT tree_id, label, COUNT(*) AS n
FROM nodes
WHERE label IN ('invalid', 'dead_end')
GROUP BY tree_id, label
ORDER BY tree_id, label;"""

DOC_QUERIES: dict[str, str] = {
    "solved trees of a run": SOLVED_TREES_QUERY,
    "root-to-node path": NODE_PATH_QUERY,
    "mistakes per tree by label": MISTAKES_QUERY,
}

# Queries over self-evolution rounds, quoted verbatim in docs/evolve.md and the README (tested on an
# evolve store in tests/test_evolve.py). The evolve run is `evolve-demo`, the problem's key '1,2,7->21'.
ROUND_TREES_QUERY = """\
SELECT rt.round, rt.name, rt.tree_id, rt.solved, rt.nodes, rt.first_error_depth,
       rt.model, rt.model_sha256
FROM round_trees rt
JOIN problems p ON p.id = rt.problem_id
WHERE rt.name LIKE 'evolve-demo/round-%' AND p.key = '1,2,7->21'
ORDER BY rt.round;"""

REPEATED_RATE_QUERY = """\
SELECT round, next_round, COUNT(*) AS mistakes, SUM(repeated) AS repeated,
       ROUND(1.0 * SUM(repeated) / COUNT(*), 3) AS rate
FROM repeated_mistakes
GROUP BY round, next_round
ORDER BY round;"""

ROUND_QUERIES: dict[str, str] = {
    "trees of one problem in every round": ROUND_TREES_QUERY,
    "repeated-mistake rate between rounds": REPEATED_RATE_QUERY,
}

# The publishing queries, quoted in docs/guides/publishing.md (tested on a real store): what a run's
# accepted trajectories cost per kind, and every contaminated problem of its export.
TRAJECTORY_COSTS_QUERY = """\
SELECT kind, accepted, generated_tokens_per_accepted, policy_seconds_per_accepted,
       generated_tokens_per_solved_tree
FROM trajectory_costs
WHERE name = 'demo'
ORDER BY kind;"""

CONTAMINATED_QUERY = """\
SELECT problem, source, matched, how, removed
FROM contaminated_problems
WHERE name = 'demo'
ORDER BY problem;"""
