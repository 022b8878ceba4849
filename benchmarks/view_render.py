"""Time to first render of a tree page of `journeyforge view`, for a big tree against a small one.

Grows synthetic MCTS-shaped Countdown trees (4 children per expansion, steps labelled at random with
the demo's label mix) of 64 and 4,096 nodes in a fresh SQLite store, writes the site with the real
`view` stage, and opens each tree page in headless Chromium (Debian's `chromium`, driven by
Playwright) several times. Reported per tree: the time from navigation start to the first frame
that shows the whole tree (`window.JF_RENDER_MS`: loading the data file, layout, drawing), the time
to select a node and show its details, and to expand every node again after "collapse branches
without a solution"; then the big/small ratio.

    python benchmarks/view_render.py [--nodes 4096] [--repeats 3] [--chromium /usr/bin/chromium]
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hydra import compose, initialize_config_dir  # noqa: E402

from db import TraceStore  # noqa: E402
from journeyforge.cli import CONF_DIR  # noqa: E402
from journeyforge.stages import view  # noqa: E402

OPS = "+-*"


def grow(store: TraceStore, run_id: int, index: int, n_nodes: int, seed: int) -> int:
    """One tree of `n_nodes` nodes (root included) in the shape MCTS gives: each expansion adds 4
    children to a random open node; leaves are invalid / dead ends / solutions, as in the demo."""
    rng = random.Random(seed)
    nums = [rng.randint(1, 9) for _ in range(3)]
    [pid] = store.add_problems([{"dataset": "bench-view", "key": f"tree-{index}-{n_nodes}",
                                 "payload": {"nums": nums, "target": 24}}])
    [tree] = store.create_trees(run_id, [pid])
    rows = [{"tree_id": tree, "seq": 0, "depth": 0, "label": "root", "text": "", "visits": n_nodes}]
    open_nodes = [0]
    while len(rows) < n_nodes:
        parent = rng.choice(open_nodes)
        for _ in range(min(4, n_nodes - len(rows))):
            a, b = rng.randint(1, 60), rng.randint(1, 60)
            label = rng.choices(["valid", "invalid", "dead_end", "solution"], [30, 40, 25, 5])[0]
            rows.append({"tree_id": tree, "seq": len(rows), "depth": rows[parent]["depth"] + 1, "label": label,
                         "parent_index": parent, "text": f"{a} {rng.choice(OPS)} {b} = {rng.randint(1, 99)}",
                         "value": round(rng.random(), 3), "visits": rng.randint(1, 9),
                         "logprob": round(-rng.random() * 4, 3), "reason": None if label == "valid" else "made up"})
            if label == "valid":
                open_nodes.append(len(rows) - 1)
        if len(open_nodes) > 1:
            open_nodes.remove(parent)
    store.add_nodes(rows)
    store.set_tree_status(tree, "done")
    return tree


# Click in the page and time it there, up to the next painted frame: Playwright's own click waits and
# scrolls, which would be measured too.
_TIMED_CLICK = """(sel) => new Promise((done) => {
  const el = typeof sel === "string" ? document.querySelector(sel) : sel;
  const t0 = performance.now();
  el.dispatchEvent(new MouseEvent("click", {bubbles: true}));
  requestAnimationFrame(() => setTimeout(() => done(performance.now() - t0), 0));
})"""


def measure(page, url: str, repeats: int) -> dict:
    first, script, select, expand = [], [], [], []
    for _ in range(repeats):
        page.goto(url)
        page.wait_for_selector("body[data-rendered='1']", timeout=60_000)  # the pages' CSP forbids eval-based waits
        first.append(page.evaluate("window.JF_RENDER_MS"))
        script.append(page.evaluate("window.JF_SCRIPT_MS"))
        middle = page.locator("g.n circle").nth(page.locator("g.n").count() // 2).element_handle()
        select.append(page.evaluate(_TIMED_CLICK, middle))
        page.click("#collapse-failures")
        expand.append(page.evaluate(_TIMED_CLICK, "#expand-all"))
    return {"nodes": page.evaluate("JSON.parse(document.getElementById('jf-data').textContent).nodes.length"), "first_render_ms": statistics.median(first),
            "script_ms": statistics.median(script), "select_ms": statistics.median(select),
            "expand_all_ms": statistics.median(expand)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=4096)
    parser.add_argument("--small", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        store = TraceStore(url)
        run_id = store.start_run("bench", "explore", {})
        small = grow(store, run_id, 0, args.small, seed=1)
        big = grow(store, run_id, 1, args.nodes, seed=2)
        store.finish_run(run_id)
        with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
            cfg = compose(config_name="config", overrides=["name=bench", f"store.url={url}", f"workdir={tmp}/out"])
        t0 = time.perf_counter()
        view.run(cfg)
        write_s = time.perf_counter() - t0
        site = Path(tmp) / "out" / "view"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            results = {name: measure(page, (site / "trees" / f"{tree}.html").as_uri(), args.repeats)
                       for name, tree in (("small", small), ("big", big))}
            browser.close()
    print(f"\nsite written in {write_s:.2f} s (both trees, charts included)")
    print(f"{'tree':<6} {'nodes':>6} {'first render ms':>16} {'of which drawing':>17} {'select ms':>10} {'expand all ms':>14}")
    for name, r in results.items():
        print(f"{name:<6} {r['nodes']:>6} {r['first_render_ms']:>16.0f} {r['script_ms']:>17.0f} {r['select_ms']:>10.0f} "
              f"{r['expand_all_ms']:>14.0f}")
    s, b = results["small"], results["big"]
    print(f"ratio big/small: {b['nodes'] / s['nodes']:.0f}x the nodes, first render {b['first_render_ms'] / s['first_render_ms']:.1f}x, "
          f"select {b['select_ms'] / s['select_ms']:.1f}x, expand all {b['expand_all_ms'] / s['expand_all_ms']:.1f}x "
          f"(medians of {args.repeats} loads)")


if __name__ == "__main__":
    main()
