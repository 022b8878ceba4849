"""Writes the viewer's static site: index.html, one page per tree, their data, the assets.

    <dir>/index.html            the run: summary, charts, a sortable and filterable table of trees
    <dir>/trees/<id>.html       one tree: drawn, collapsible, with node details and trajectories; for a
                                round of an evolve run also the same problems' trees of its other
                                rounds (linked from each other, so the links work offline)
    <dir>/assets/               our scripts and styles, vendored KaTeX
    <dir>/plots/                the charts (PNG)

Each page carries its data as JSON in a `<script type="application/json" id="jf-data">` block,
which browsers never run, not as a script that sets a global and not as a file fetched at run time
(browsers refuse `fetch` from `file://` pages, and the site must open from the file system with no
server and no network). `<`, `>` and `&` in it are written as `\u003c`..., so no stored text can end
the block. The pages' Content-Security-Policy (static/*.html) allows scripts, styles, fonts and
images from the site only, and no inline script or handler.
"""
from __future__ import annotations

import html
import json
import os
import re
import shutil
from collections import Counter, defaultdict
from pathlib import Path

from tqdm.auto import tqdm

from viewer.clean import plain
from viewer.collect import (RunView, evals_summary, export_summary, index_row, iter_trees, label_order,
                            tree_page)
from viewer.plots import plot_labels, plot_values_by_depth
from viewer.rounds import RoundRun, evolve_name, problem_rounds, read_family, rounds_summary

STATIC = Path(__file__).resolve().parent / "static"
MARKER = ".journeyforge-view"  # marks a folder as a viewer site, so that re-writing may replace it


class SiteError(ValueError):
    """The site cannot be written where asked; the message names the folder."""


# What a data block must not contain as such: `</script` or `<!--` would end or change it.
_UNSAFE_IN_SCRIPT = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def data_json(value) -> str:
    """`value` as JSON for a `<script type="application/json">` block: strict (no NaN), ASCII-only
    (U+2028/U+2029 included), with `<`, `>` and `&` escaped so that nothing in it ends the block."""
    text = json.dumps(plain(value), ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return re.sub(r"[<>&]", lambda m: _UNSAFE_IN_SCRIPT[m.group(0)], text)


def _page(template: str, title: str, data) -> str:
    """A page from static/<template>: its title escaped, its data in the JSON block. One pass over
    the placeholders, so text in the title or data is never taken for one."""
    values = {"TITLE": _html_escape(title), "DATA": data_json(data)}
    text = (STATIC / template).read_text(encoding="utf-8")
    return re.sub(r"\{\{(TITLE|DATA)\}\}", lambda m: values[m.group(1)], text)


def _html_escape(text: str) -> str:
    return html.escape(text, quote=True)


def _prepare(out_dir: Path, tmp: Path) -> None:
    """`tmp` made a fresh folder with the assets; refuses to later replace a `out_dir` that is not ours."""
    if out_dir.exists() and (not out_dir.is_dir() or (any(out_dir.iterdir()) and not (out_dir / MARKER).exists())):
        raise SiteError(f"view.dir {out_dir} exists and is not a viewer site (no {MARKER}); choose another "
                        "folder or remove it")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(tmp, ignore_errors=True)
    for sub in ("trees", "plots"):
        (tmp / sub).mkdir(parents=True)
    shutil.copytree(STATIC, tmp / "assets", ignore=shutil.ignore_patterns("*.html"))
    (tmp / MARKER).write_text("written by `journeyforge view`; the next view replaces this folder\n")


def _swap_in(tmp: Path, out_dir: Path) -> None:
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        out_dir.rename(old)
        tmp.rename(out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out_dir)


def write_site(store, view: RunView, out_dir: Path, progress: bool = True) -> dict:
    """Write the whole site for `view` into `out_dir` (replaced as a whole); returns a summary.
    A folder that cannot be written (a full disk, no permission) is a SiteError of one line, and
    `out_dir` is left as it was."""
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}")
    try:
        _prepare(out_dir, tmp)
        summary = _write(store, view, tmp, progress)
        _swap_in(tmp, out_dir)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise SiteError(f"view.dir {out_dir}: the site could not be written ({os_reason(err)}); the folder is as "
                        "it was: free space or choose another view.dir, then run view again") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {**summary, "dir": out_dir, "index": out_dir / "index.html"}


def os_reason(err: OSError) -> str:
    """What went wrong in a file operation, in a few words: the first failure of a `shutil.Error`
    (copytree collects one (source, destination, why) per file, and prints as a Python list)."""
    if isinstance(err, shutil.Error) and err.args and isinstance(err.args[0], list) and err.args[0]:
        first = err.args[0][0]
        why = first[2] if isinstance(first, tuple) and len(first) == 3 else first
        more = len(err.args[0]) - 1
        return f"{' '.join(str(why).split())}" + (f", and {more} more files" if more else "")
    if err.strerror:
        return f"{err.strerror}: {err.filename}" if err.filename else err.strerror
    return " ".join(str(err).split())


def _write(store, view: RunView, root: Path, progress: bool) -> dict:
    rows: list[dict] = []
    labels: Counter = Counter()
    values: dict[int, list[float]] = defaultdict(list)
    mc_values: dict[int, list[float]] = defaultdict(list)
    largest = 0
    ids = [t["id"] for t in view.trees]
    neighbours = {t: (ids[i - 1] if i else None, ids[i + 1] if i + 1 < len(ids) else None) for i, t in enumerate(ids)}
    family = read_family(store, view.explore, {t["problem_id"] for t in view.trees}, view.cleaner)
    shown = next(r for r in family if r.id == view.explore["id"])
    by_problem = problem_rounds(family)
    trees = iter_trees(store, view.trees, view.linearize["id"] if view.linearize else None, view.cleaner)
    for info, G, rollouts, trajectories in tqdm(trees, total=len(ids), desc="view", unit="tree",
                                                disable=not progress, dynamic_ncols=True):
        page = tree_page(G, info, rollouts, trajectories, view.task)
        page["prev"], page["next"] = neighbours[info["id"]]
        _write_tree(root, page, info, shown, by_problem)
        row = index_row(G, info, trajectories, view.task)
        row["rounds"] = [r for r in by_problem.get(info["problem_id"], []) if r["tree_id"] != info["id"]]
        rows.append(row)
        largest = max(largest, G.number_of_nodes())
        for n in page["nodes"]:
            labels[n["label"]] += 1
            if n["parent_id"] is not None:
                if n["value"] is not None:
                    values[n["depth"]].append(n["value"])
                if n["mc_value"] is not None:
                    mc_values[n["depth"]].append(n["mc_value"])

    order = label_order(labels)
    plots = []
    if labels:
        plots.append({"title": "node labels", "src": "plots/labels.png"})
        plot_labels(labels, order, root / "plots" / "labels.png")
    if values:
        plots.append({"title": "values by depth", "src": "plots/values_by_depth.png"})
        plot_values_by_depth(values, mc_values, root / "plots" / "values_by_depth.png")
    export = export_summary(view.export, view.cleaner)
    if export and export["stats_png"]:
        shutil.copyfile(export["stats_png"], root / "plots" / "export_stats.png")
        plots.append({"title": "exported trajectories: length and mistakes", "src": "plots/export_stats.png"})
    kinds = sorted({k for r in rows for k in r["trajectories"]})
    index = {
        "run": {"name": view.name, "store": view.store_url, "explore_run_id": view.explore["id"],
                "task": getattr(view.task, "name", None), "status": str(view.explore["status"]),
                "created_at": str(view.explore.get("created_at") or ""),
                "stats": _plain_stats(view.explore.get("stats") or {}),
                "linearize": _plain_stats((view.linearize or {}).get("stats") or {}) or None,
                **shown.lineage(), "evolve": evolve_name(view.name)},
        "rounds": rounds_summary(family, shown.id),
        "summary": {"trees": len(rows), "done": sum(r["status"] == "done" for r in rows),
                    "solved": sum(r["solved"] for r in rows), "nodes": sum(r["nodes"] for r in rows),
                    "labels": dict(labels), "trajectories": dict(sum((Counter(r["trajectories"]) for r in rows), Counter())),
                    "largest_tree": largest},
        "labels": order,
        "kinds": kinds,
        "plots": plots,
        "export": {k: v for k, v in export.items() if k != "stats_png"} if export else None,
        "evals": evals_summary(store, view.eval, view.cleaner),
        "trees": rows,
    }
    (root / "index.html").write_text(_page("index.html", f"journeyforge view · {view.name}", index), encoding="utf-8")
    round_pages = _write_other_rounds(store, view, root, family, shown, by_problem)
    if view.cleaner.bad:
        # Not an error: the rest of the store is still worth seeing; but a reader should know.
        print(f"[view] {sum(view.cleaner.bad.values())} stored value(s) were not numbers where the schema "
              f"has numbers ({view.cleaner.summary()}); the pages show them as missing (–)")
    return {"trees": len(rows), "nodes": index["summary"]["nodes"], "solved": index["summary"]["solved"],
            "largest_tree": largest, "plots": [p["src"] for p in plots], "round_trees": round_pages,
            "not_numbers": dict(view.cleaner.bad)}


def _write_tree(root: Path, page: dict, info: dict, run: RoundRun, by_problem: dict[int, list[dict]]) -> None:
    """trees/<id>.html: `page` with its run's round and model and the problem's trees in every round."""
    page["run"] = run.name
    page.update(run.lineage())
    page["rounds"] = by_problem.get(info["problem_id"], [])
    (root / "trees" / f"{info['id']}.html").write_text(
        _page("tree.html", f"tree {info['id']} · {page['problem']['key']}", page), encoding="utf-8")


def _write_other_rounds(store, view: RunView, root: Path, family: list[RoundRun], shown: RoundRun,
                        by_problem: dict[int, list[dict]]) -> int:
    """The pages of the other rounds' trees of the shown problems (with their own round's trajectories),
    so that a tree page's links to the same problem in other rounds open from this site; how many."""
    written = 0
    for run in family:
        if run.id == shown.id:
            continue
        linearize = store.get_run(run.name, "linearize")
        for info, G, rollouts, trajectories in iter_trees(store, run.trees, linearize["id"] if linearize else None,
                                                          view.cleaner):
            page = tree_page(G, info, rollouts, trajectories, view.task)
            page["prev"] = page["next"] = None  # prev/next walk the shown run's trees only
            _write_tree(root, page, info, run, by_problem)
            written += 1
    return written


def _plain_stats(stats) -> dict:
    """Run stats as shown on the index: numbers and short texts (nested label counts kept)."""
    if not isinstance(stats, dict):
        return {}
    return {str(k): v for k, v in stats.items() if isinstance(v, (int, float, str, bool, dict)) and k != "labels"}
