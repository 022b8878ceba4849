"""One small real store for the viewer tests: Countdown and math trees grown by the scripted policy
through the real explore and linearize stages, then the real `view` stage's site of each run."""
from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from journeyforge.cli import CONF_DIR


def compose_cfg(overrides: list[str]):
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return compose(config_name="config", overrides=overrides)


@pytest.fixture(scope="session")
def viewer_store(tmp_path_factory) -> dict:
    """{"url", "root", "countdown": overrides, "math": overrides}; each run explored and linearized,
    its site written to <root>/<name>/view. Countdown: 8 trees, some unsolved (error rate 0.7)."""
    from journeyforge.stages import explore, linearize, view

    root = tmp_path_factory.mktemp("viewer")
    url = f"sqlite:///{root / 'traces.db'}"
    runs = {
        "countdown": ["name=cd", "policy=scripted", "policy.error_rate=0.7", "task.n_train=8", "task.n_test=1",
                      "search.max_expansions=3"],
        "math": ["name=m", "task=math", "policy=scripted", "task.n_train=4", "task.n_test=1",
                 "search.max_expansions=3", "linearize.kinds=[shortcut,journey]"],
    }
    out = {"url": url, "root": root}
    for task, overrides in runs.items():
        name = overrides[0].split("=", 1)[1]
        common = [f"store.url={url}", f"workdir={root / name}", "explore.progress=false"]
        explore.run(compose_cfg(overrides + common))
        linearize.run(compose_cfg(overrides + common))
        # `view` needs no task=...: it builds the run's task from the run's stored config.
        view.run(compose_cfg([overrides[0]] + common))
        out[task] = [overrides[0]] + common
        out[f"{task}_site"] = Path(root / name / "view")
    return out


def markup(column: str) -> str:
    """Stored text that, if a page ever parsed it as HTML, would run script (setting
    `window.JF_PWNED`, retitling the page), load a sentinel URL outside the site, and end a script
    block; with TeX in it, so that the KaTeX path sees it too. Named after its column."""
    return (f'</script><script>window.JF_PWNED="{column}"</script>'
            f'<img src="http://sentinel.invalid/{column}" onerror="window.JF_PWNED=\'{column}\';document.title=\'pwned\'">'
            f'<svg onload="window.JF_PWNED=\'{column}\'"></svg> $x^2$ \\boxed{{<b>{column}</b>}}')


# Columns left as they are: row ids and the keys that tie rows together (changed, the rows would
# simply not be found), datetimes (parsed by SQLAlchemy, not shown as stored), and the run's name
# and stage (how `view` finds it). One leaf's `parent_id` gets markup too.
KEPT = {"id", "run_id", "tree_id", "problem_id", "node_id", "parent_id", "created_at", "finished_at", "claimed_at",
        "name", "stage"}


@pytest.fixture(scope="session")
def hostile_store(tmp_path_factory) -> dict:
    """A store whose every text and number column holds `markup(...)` (SQLite keeps text in number
    columns; JSON columns hold it as JSON), grown by the real stages and then written over with
    sqlite3, as anyone with write access to a shared store could: Countdown run `h` with its
    linearize run, an export run (its configuration and split names, its export.json's table) and
    an eval run, and a rollout on every node. {"url", "root", "overrides", "db"}."""
    import json
    import sqlite3

    from db import TraceStore
    from journeyforge.stages import explore, linearize

    root = tmp_path_factory.mktemp("hostile")
    url = f"sqlite:///{root / 'traces.db'}"
    overrides = ["name=h", f"store.url={url}", f"workdir={root / 'h'}"]
    grow = overrides + ["policy=scripted", "policy.error_rate=0.5", "task.n_train=2", "task.n_test=1",
                        "search.max_expansions=2", "explore.progress=false"]
    explore.run(compose_cfg(grow))
    linearize.run(compose_cfg(grow))
    store = TraceStore(url)
    exported = root / "export"
    exported.mkdir()
    (exported / "export.json").write_text(json.dumps({"stats_table": markup("export.json stats_table")}))
    run = store.start_run("h", "export", {})
    store.finish_run(run, "done", {"dir": str(exported), "configs": {
        markup("export config"): {markup("export split"): markup("export rows")}}})
    run = store.start_run("h", "eval", {})
    store.replace_evals(run, "base", [{"problem_id": p["id"], "prediction": "x"} for p in store.problems()])
    store.close()

    db = sqlite3.connect(root / "traces.db")
    db.execute("INSERT INTO rollouts (node_id, tree_id, idx, text, is_correct, n_tokens) "
               "SELECT id, tree_id, 0, 'x', 0, 1 FROM nodes")
    json_values = {
        "problems.payload": {"question": markup("problems.payload.question"), "nums": [markup("problems.payload.nums")],
                             "target": markup("problems.payload.target")},
        "runs.stats": {"waves": markup("runs.stats.waves"), "generated_tokens": markup("runs.stats.generated_tokens"),
                       "seconds": markup("runs.stats.seconds"), "rollouts": markup("runs.stats.rollouts")},
        "trajectories.node_ids": [markup("trajectories.node_ids")],
        # an object: `view` builds the run's task from config["task"] (the stage's own code)
        "runs.config": {"task": markup("runs.config.task"), "name": markup("runs.config.name")},
    }
    for table in ("runs", "problems", "trees", "nodes", "rollouts", "trajectories", "evals"):
        for _, column, kind, *_ in db.execute(f"PRAGMA table_info({table})").fetchall():
            name = f"{table}.{column}"
            if column in KEPT:
                continue
            if kind == "JSON":
                value = json.dumps(json_values.get(name, markup(name)))
                where = " WHERE stage != 'export'" if name == "runs.stats" else ""
                db.execute(f"UPDATE {table} SET {column} = ?{where}", (value,))
            else:  # text or number alike; the row id keeps unique columns unique
                db.execute(f"UPDATE {table} SET {column} = ? || id", (markup(name),))
    leaf = db.execute("SELECT max(id) FROM nodes WHERE id NOT IN (SELECT parent_id FROM nodes "
                      "WHERE parent_id IS NOT NULL)").fetchone()[0]
    db.execute("UPDATE nodes SET parent_id = ? WHERE id = ?", (markup("nodes.parent_id"), leaf))
    db.commit()
    db.close()
    return {"url": url, "root": root, "overrides": overrides, "db": root / "traces.db"}
