"""The viewer and self-evolution rounds: a tree page shows its run's round and the model that grew it,
and links the same problem's trees in the evolve run's other rounds (their pages are written into
the same site); the index lists the run's round and the evolve run's rounds. A model name holding
markup is shown as text. The store: three rounds of the same problems grown by the real explore stage
(scripted policy) and tied together with `set_lineage`, as `journeyforge evolve` ties its rounds."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from db import TraceStore
from journeyforge.stages import explore, linearize, view
from tests.test_viewer_browser import browser, page  # noqa: F401 - fixtures (chromium through Playwright)
from tests.viewer_stores import compose_cfg

# What `view` must show as text: were it parsed as HTML, it would run script and set JF_PWNED.
MODEL = '</script><script>window.JF_PWNED="runs.model"</script><img src=x onerror="window.JF_PWNED=1"><b>student</b>'
SHA = "ab" * 32
GROW = ["policy=scripted", "policy.error_rate=0.6", "task.n_train=4", "task.n_test=1", "search.max_expansions=3",
        "explore.progress=false"]


def _data(path: Path) -> dict:
    [block] = re.findall(r'<script type="application/json" id="jf-data">(.*?)</script>',
                         path.read_text(encoding="utf-8"), re.S)
    return json.loads(block)


@pytest.fixture(scope="module")
def rounds_store(tmp_path_factory) -> dict:
    """Evolve run `ev`: `ev/round-0` (scripted, linearized), `ev/round-1` (grown by MODEL, parent
    round 0) and `renamed` (round 2, joined only by its parent link to round 1), all on the same four
    problems; `other`, an explore run of the same problems outside the evolve run. Each round's site
    is written to <root>/site-<k>. {"url", "root", "runs": {name: explore run id}, "sites"}."""
    root = tmp_path_factory.mktemp("rounds")
    url = f"sqlite:///{root / 'traces.db'}"

    def cfg(name: str, *more: str):
        return compose_cfg([f"name={name}", f"store.url={url}", f"workdir={root / 'work'}", *GROW, *more])

    for name in ("ev/round-0", "ev/round-1", "renamed", "other"):
        explore.run(cfg(name))
    linearize.run(cfg("ev/round-0"))
    store = TraceStore(url)
    runs = {name: store.get_run(name, "explore")["id"] for name in ("ev/round-0", "ev/round-1", "renamed", "other")}
    store.set_lineage(runs["ev/round-0"], round=0, model="scripted")
    store.set_lineage(runs["ev/round-1"], round=1, parent_run_id=runs["ev/round-0"], model=MODEL, model_sha256=SHA)
    store.set_lineage(runs["renamed"], round=2, parent_run_id=runs["ev/round-1"], model="round-1/models/shortcut")
    store.close()
    sites = {}
    for k, name in enumerate(("ev/round-0", "ev/round-1")):
        sites[k] = root / f"site-{k}"
        view.run(cfg(name, f"view.dir={sites[k]}"))
    sites["other"] = root / "site-other"
    view.run(cfg("other", f"view.dir={sites['other']}"))
    return {"url": url, "root": root, "runs": runs, "sites": sites, "cfg": cfg}


def _trees_by_problem(store: TraceStore, run_id: int) -> dict[int, int]:
    return {t["problem_id"]: t["id"] for t in store.trees(run_id)}


def test_each_tree_page_shows_its_round_and_model_and_links_the_other_rounds_trees(rounds_store):
    store = TraceStore(rounds_store["url"])
    runs = rounds_store["runs"]
    by_round = [_trees_by_problem(store, runs[name]) for name in ("ev/round-0", "ev/round-1", "renamed")]
    assert set(by_round[0]) == set(by_round[1]) == set(by_round[2]) and len(by_round[0]) == 4
    solved = [set(store.solved(runs[name])) for name in ("ev/round-0", "ev/round-1", "renamed")]
    models = ["scripted", MODEL, "round-1/models/shortcut"]
    for k, site in ((0, rounds_store["sites"][0]), (1, rounds_store["sites"][1])):
        for problem_id in by_round[0]:
            expected = [{"round": j, "tree_id": by_round[j][problem_id], "solved": by_round[j][problem_id] in solved[j]}
                        for j in range(3)]
            # Every round's tree of the problem has its page in this site, with its own round and model.
            for j in range(3):
                page = _data(site / "trees" / f"{by_round[j][problem_id]}.html")
                assert (page["round"], page["model"]) == (j, models[j])
                assert [{x: r[x] for x in ("round", "tree_id", "solved")} for r in page["rounds"]] == expected
                assert page["run"] == ("ev/round-0", "ev/round-1", "renamed")[j]
            assert _data(site / "trees" / f"{by_round[1][problem_id]}.html")["model_sha256"] == SHA
            # Only the site's own run walks prev/next; the other rounds' pages stand alone.
            other = _data(site / "trees" / f"{by_round[1 - k][problem_id]}.html")
            assert other["prev"] is None and other["next"] is None
        # The tree outside the evolve run is not linked and gets no page here.
        outside = _trees_by_problem(store, runs["other"])
        assert not any((site / "trees" / f"{i}.html").exists() for i in outside.values())
        assert len(list((site / "trees").glob("*.html"))) == 3 * 4
    # The other round's pages carry that round's own trajectories (round 0 was linearized).
    lin = store.get_run("ev/round-0", "linearize")
    tree = next(iter(by_round[0].values()))
    page = _data(rounds_store["sites"][1] / "trees" / f"{tree}.html")
    assert [t["text"] for t in page["trajectories"]] == [t["text"] for t in store.trajectories(run_id=lin["id"], tree_ids=[tree])]


def test_the_index_lists_the_run_s_round_and_the_evolve_run_s_rounds(rounds_store):
    index = _data(rounds_store["sites"][1] / "index.html")
    assert (index["run"]["round"], index["run"]["model"], index["run"]["evolve"]) == (1, MODEL, "ev")
    assert index["run"]["model_sha256_short"] == SHA[:12]
    assert [(r["round"], r["run"], r["model"], r["shown"], r["trees"], r["linked"]) for r in index["rounds"]] == [
        (0, "ev/round-0", "scripted", False, 4, 4), (1, "ev/round-1", MODEL, True, 4, 4),
        (2, "renamed", "round-1/models/shortcut", False, 4, 4)]
    for row in index["trees"]:  # each row links the problem's trees of the other rounds
        assert [r["round"] for r in row["rounds"]] == [0, 2] and row["id"] not in [r["tree_id"] for r in row["rounds"]]
    # A run outside any evolve run: no round, no model, no rounds, no other pages.
    alone = _data(rounds_store["sites"]["other"] / "index.html")
    assert (alone["run"]["round"], alone["run"]["model"], alone["rounds"]) == (None, None, [])
    assert all(r["rounds"] == [] for r in alone["trees"])
    page = _data(next((rounds_store["sites"]["other"] / "trees").glob("*.html")))
    assert (page["round"], page["model"], page["rounds"]) == (None, None, [])


def test_limited_views_write_the_other_rounds_pages_of_the_shown_problems_only(rounds_store, tmp_path):
    store = TraceStore(rounds_store["url"])
    first = store.trees(rounds_store["runs"]["ev/round-0"])[0]
    out = view.run(rounds_store["cfg"]("ev/round-0", f"view.dir={tmp_path / 'one'}", "view.limit=1"))
    pages = sorted(int(p.stem) for p in (tmp_path / "one" / "trees").glob("*.html"))
    same = [_trees_by_problem(store, rounds_store["runs"][n])[first["problem_id"]] for n in ("ev/round-0", "ev/round-1", "renamed")]
    assert out["trees"] == 1 and out["round_trees"] == 2 and pages == sorted(same)


def test_in_a_browser_the_round_links_open_and_a_model_with_markup_is_text(rounds_store, page):  # noqa: F811
    store = TraceStore(rounds_store["url"])
    site = rounds_store["sites"][0]
    tree0 = store.trees(rounds_store["runs"]["ev/round-0"])[0]
    tree1 = _trees_by_problem(store, rounds_store["runs"]["ev/round-1"])[tree0["problem_id"]]

    page.goto((site / "trees" / f"{tree0['id']}.html").as_uri())
    page.wait_for_selector("body[data-rendered='1']")
    assert page.inner_text("#tree-round") == "round 0" and page.inner_text("#tree-model") == "scripted"
    assert page.locator("#rounds a[data-round-tree]").count() == 2  # rounds 1 and 2; round 0 is this page
    page.click(f'#rounds a[data-round-tree="{tree1}"]')
    page.wait_for_selector("body[data-rendered='1']")
    assert page.url.endswith(f"/trees/{tree1}.html")
    assert page.inner_text("#tree-round") == "round 1"
    assert page.inner_text("#tree-model") == MODEL  # the markup, character for character, as text
    assert f"sha256 {SHA[:12]}" in page.inner_text("#tree-meta")
    state = page.evaluate("() => ({pwned: window.JF_PWNED === undefined ? null : String(window.JF_PWNED), "
                          "imgs: document.querySelectorAll('img').length})")
    assert state == {"pwned": None, "imgs": 0}
    assert page.locator(f'#rounds a[data-round-tree="{tree0["id"]}"]').count() == 1  # and back to round 0

    page.goto((site / "index.html").as_uri())
    page.wait_for_selector("body[data-ready='1']")
    assert "round 0 of evolve run ev" in page.inner_text("#run-meta")
    table = page.inner_text("#rounds")
    assert MODEL in table and "renamed" in table
    assert page.evaluate("() => window.JF_PWNED === undefined") and page.locator("#rounds img").count() == 0
    page.click(f'#trees tr[data-tree="{tree0["id"]}"] a[data-round-tree="{tree1}"]')
    page.wait_for_selector("body[data-rendered='1']")
    assert page.inner_text("#tree-model") == MODEL
