"""view: the explore run `name` (and what linearize, export and eval stored under it) -> a static site.

Reads only: the store is opened read-only (no byte of it, and no `-wal` beside it, changes), and the
site is written into a fresh folder that replaces `view.dir` when complete. `view.serve=true` then
serves the site on 127.0.0.1.
"""
from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from analysis.tables import table
from journeyforge.components import validate_config
from journeyforge.folders import folder_problem
from journeyforge.stages.common import StageError, open_store_read_only, require_run
from search.tasks import make_task
from viewer.collect import RunView, select_trees, store_label
from viewer.serve import serve
from viewer.site import SiteError, write_site


def _run_task(explore: dict, cfg: DictConfig):
    """The task the run was grown with (its stored config), so `view name=X` needs no `task=`;
    the command line's task when the stored one cannot be built."""
    stored = explore.get("config")  # a shared store is not trusted: its config may be any JSON
    for node in ((stored.get("task") if isinstance(stored, dict) else None), cfg.get("task")):
        if node is None:
            continue
        try:
            return make_task(node)
        except Exception:  # noqa: BLE001 - a task that no longer builds: pages fall back to raw data
            continue
    return None


def run(cfg: DictConfig) -> dict:
    built = validate_config(cfg)  # every setting, before the store is opened
    opts = built["view"]
    out_dir = Path(opts.dir or Path(cfg.workdir) / "view")
    problem = folder_problem(str(out_dir), "view.dir")
    if problem:
        raise StageError(problem)
    store = open_store_read_only(built["store"])
    explore = require_run(store, cfg.name, "explore", f"run `journeyforge explore name={cfg.name}` first")
    try:
        trees = select_trees(store, explore["id"], opts.trees, opts.solved, opts.limit)
    except ValueError as err:
        raise StageError(str(err)) from None
    view = RunView(name=cfg.name, explore=explore, linearize=store.get_run(cfg.name, "linearize"),
                   export=store.get_run(cfg.name, "export"), eval=store.get_run(cfg.name, "eval"),
                   store_url=store_label(cfg.store.url), task=_run_task(explore, cfg), trees=trees)
    try:
        summary = write_site(store, view, out_dir)
    except SiteError as err:
        raise StageError(str(err)) from None
    print(table(["trees", "solved", "nodes", "largest tree", "charts"],
                [[summary["trees"], summary["solved"], summary["nodes"], summary["largest_tree"],
                  len(summary["plots"])]], title=f"[view] run {cfg.name!r}"))
    print(f"[view] open {summary['index'].resolve()} (no server or network needed)")
    if opts.serve:
        try:
            serve(out_dir, opts.port)
        except OSError as err:
            raise StageError(str(err)) from None
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in summary.items()}
