"""SQL views of the trace store and the example queries that docs/store.md quotes.

The SQL is plain enough to run unchanged on SQLite, PostgreSQL and DuckDB (WITH RECURSIVE, `||`,
COUNT/GROUP BY), so researchers can use whichever client they like.

Views are created by migrations, which must not change once released: migration 0002 creates
`VIEWS_0002`. To change a view, add `VIEWS_0003` (or one entry) and a migration that drops and
re-creates it, and point `VIEWS` at the new set.
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

# The views of the newest schema revision.
VIEWS: dict[str, str] = VIEWS_0002


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
