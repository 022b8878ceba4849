"""The viewer in a real browser: headless Debian Chromium driven by Playwright opens the site from
the file system (no server, no network), filters the index, opens a tree, clicks nodes, and checks
what is shown against the store; and opens a store with markup in every column, which must run no
script, load nothing outside the site and show every value as text. `make test` installs chromium
(`make setup-browser`); without it these tests skip and say so."""
from __future__ import annotations

import io
import json
import os
import shutil

import pytest

from db import TraceStore
from tests.viewer_stores import compose_cfg, hostile_store, markup, viewer_store  # noqa: F401 - fixtures
from viewer.site import data_json

CHROMIUM = os.environ.get("JOURNEYFORGE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}: run `make setup-browser` as root (apt-get install chromium), "
                    "or set JOURNEYFORGE_CHROMIUM")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e .[dev])")
    with sync_api.sync_playwright() as p:
        # Playwright's own browser download is not used: the system's chromium is.
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.requests, page.errors = [], []
    page.on("request", lambda r: page.requests.append(r.url))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    yield page
    assert not page.errors, page.errors  # no script error on any page a test opened
    assert all(u.startswith(("file://", "data:", "about:")) for u in page.requests), [
        u for u in page.requests if not u.startswith(("file://", "data:", "about:"))]  # nothing from the network
    page.close()


def _open_tree(page, link) -> int:
    tree_id = int(link.get_attribute("href").split("/")[-1].split(".")[0])
    link.click()
    page.wait_for_selector("body[data-rendered='1']")
    return tree_id


def _not_blank(png: bytes) -> None:
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    assert len(np.unique(pixels, axis=0)) > 50, "the screenshot has almost no colours"
    assert (pixels.min(axis=1) <= 245).mean() > 0.02, "the screenshot is nearly all white"


def test_filter_to_solved_trees_open_one_and_read_a_node(viewer_store, page, tmp_path):
    store = TraceStore(viewer_store["url"])
    run = store.get_run("cd", "explore")
    lin = store.get_run("cd", "linearize")
    solved = store.solved(run["id"])
    site = viewer_store["countdown_site"]

    page.goto((site / "index.html").as_uri())
    assert page.locator("#trees tbody tr").count() == len(store.trees(run["id"]))
    page.select_option("#f-solved", "solved")
    rows = page.locator("#trees tbody tr")
    assert sorted(int(r) for r in rows.evaluate_all("rs => rs.map(r => r.dataset.tree)")) == solved
    assert page.inner_text("#f-count") == f"{len(solved)} of {len(store.trees(run['id']))} trees"

    tree_id = _open_tree(page, rows.first.locator("a").first)
    assert tree_id == solved[0]
    [shortcut] = [t for t in store.trajectories(run_id=lin["id"], tree_ids=[tree_id]) if t["kind"] == "shortcut"][:1]
    nodes = {n["id"]: n for n in store.nodes(tree_id)}
    # The highlighted path is the stored shortcut, node for node, root to solution.
    highlighted = page.locator("g.n.hl").evaluate_all("gs => gs.map(g => +g.dataset.id)")
    assert sorted(highlighted, key=lambda i: nodes[i]["depth"]) == shortcut["node_ids"]
    # The journey's visit order is numbered on its nodes.
    journey = next(t for t in store.trajectories(run_id=lin["id"], tree_ids=[tree_id]) if t["kind"] == "journey")
    first = page.locator(f'g.n[data-id="{journey["node_ids"][0]}"] tspan.ord')
    assert first.text_content().split(",")[0] == "1"

    solution = shortcut["node_ids"][-1]
    page.locator(f'g.n[data-id="{solution}"] circle').click()
    assert page.inner_text("#node-id") == str(solution)
    assert page.inner_text("#node-label") == nodes[solution]["label"] == "solution"
    assert page.inner_text("#node-text").strip() == nodes[solution]["text"].strip()
    assert page.locator(f'g.n[data-id="{solution}"]').get_attribute("class").split().count("sel") == 1

    # A mistake: its label and the reason the task gave.
    wrong = next(n for n in nodes.values() if n["label"] == "invalid")
    page.locator(f'g.n[data-id="{wrong["id"]}"] circle').click()
    assert page.inner_text("#node-label") == "invalid"
    assert wrong["reason"] in page.inner_text("#details")

    shot = page.screenshot(path=str(tmp_path / "tree.png"))
    _not_blank(shot)


def test_text_search_and_label_filters_narrow_the_index(viewer_store, page):
    from playwright.sync_api import expect

    store = TraceStore(viewer_store["url"])
    run = store.get_run("cd", "explore")
    trees = store.trees(run["id"])
    page.goto((viewer_store["countdown_site"] / "index.html").as_uri())
    step = next(n["text"] for n in store.nodes(trees[0]["id"]) if n["parent_id"] is not None)
    expected = sorted(t["id"] for t in trees if any(n["text"].strip() == step.strip() or step.strip() in n["text"]
                                                     for n in store.nodes(t["id"])))
    page.fill("#f-text", step.strip())
    expect(page.locator("#trees tbody tr")).to_have_count(len(expected))  # polls without eval (the CSP forbids it)
    assert sorted(int(i) for i in page.locator("#trees tbody tr").evaluate_all("rs => rs.map(r => r.dataset.tree)")) == expected
    page.fill("#f-text", "")
    page.select_option("#f-label", "invalid")
    page.fill("#f-min", "5")
    many = sorted(t["id"] for t in trees if sum(n["label"] == "invalid" for n in store.nodes(t["id"])) >= 5)
    expect(page.locator("#trees tbody tr")).to_have_count(len(many))  # polls without eval (the CSP forbids it)
    # Sorting by node count, largest first (a second click on the header flips the order).
    page.fill("#f-min", "0")
    page.click("#trees th[data-sort=nodes]")
    counts = [int(c) for c in page.locator("#trees tbody tr td:nth-child(4)").all_inner_texts()]
    assert counts == sorted(counts, reverse=True) and len(counts) == len(trees)


def test_math_tree_shows_rollouts_and_renders_latex(viewer_store, page):
    store = TraceStore(viewer_store["url"])
    run = store.get_run("m", "explore")
    trees = store.trees(run["id"])
    tree = next(t for t in trees if store.rollouts(tree_id=t["id"]))
    rollouts = store.rollouts(tree_id=tree["id"])
    node_id = rollouts[0]["node_id"]
    mine = [r for r in rollouts if r["node_id"] == node_id]
    page.goto((viewer_store["math_site"] / "trees" / f"{tree['id']}.html").as_uri())
    page.wait_for_selector("body[data-rendered='1']")
    assert tree["problem"]["payload"]["question"] in page.inner_text("#problem")
    page.locator(f'g.n[data-id="{node_id}"] circle').click()
    right = sum(r["is_correct"] for r in mine)
    assert f"rollouts: {right} of {len(mine)} reached the answer" in page.inner_text("#details")
    assert page.locator("details.rollout").count() == len(mine)
    # \boxed{...} answers in the trajectories are typeset by the vendored KaTeX, not left as source.
    assert page.locator("#trajectories .katex").count() > 0
    assert "\\boxed" not in page.locator("#trajectories .katex-html").first.inner_text()
    _not_blank(page.screenshot())


# -- a hostile store: markup in every text and number column ---------------------------------------

def _html_part(column: str) -> str:
    """The part of `markup(column)` before its TeX: shown as it is, character for character."""
    return markup(column).split(" $")[0]


_NOTHING_RAN = """() => ({
  pwned: window.JF_PWNED === undefined ? null : String(window.JF_PWNED),
  handlers: [...document.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => a.name.startsWith('on'))).length,
  sentinels: document.querySelectorAll('img, svg[onload], iframe, object, embed').length,
  scripts: [...document.scripts].filter((s) => !s.src).map((s) => s.type),
})"""


def _assert_nothing_ran(page, site, title: str) -> None:
    state = page.evaluate(_NOTHING_RAN)
    assert state["pwned"] is None, f"script from the store ran: {state['pwned']}"
    assert page.title() == title
    assert state["handlers"] == 0  # no element got an on* attribute from stored text
    # the index shows its chart <img>s (plots/); nothing else may be an image or a frame
    assert state["sentinels"] == page.locator("figure img[src^='plots/']").count()
    assert state["scripts"] == ["application/json"]  # the data block is the only inline script
    outside = [u for u in page.requests if not u.startswith(site.as_uri() + "/")]
    assert not outside, outside  # not the sentinel URL, not even another local file


def _touch_everything(page) -> str:
    """Click and hover every drawn node (details, rollouts, path, tooltip), open its rollouts, number
    every trajectory; returns all the text that was shown on the way."""
    shown = []
    for i in range(page.locator("g.n").count()):
        node = page.locator("g.n circle").nth(i)
        node.click()
        for summary in page.locator("details.rollout summary").all():
            summary.click()
        node.hover()
        assert page.locator("#tip").is_visible()
        shown += [page.inner_text("#details"), page.inner_text("#tip")]
    for i in range(page.locator("button[data-number]").count()):
        page.locator("button[data-number]").nth(i).click()
    return "\n".join(shown + [page.inner_text("body")])


def test_a_store_with_markup_in_every_column_runs_no_script_and_shows_it_as_text(hostile_store, page, capsys):
    from journeyforge.stages import view

    out = view.run(compose_cfg(hostile_store["overrides"]))
    printed = capsys.readouterr().out
    # Number columns that hold text are shown as missing, and the stage says which ones.
    assert out["not_numbers"]["nodes.visits"] == out["nodes"]
    assert "were not numbers where the schema has numbers (" in printed and "rollouts.n_tokens" in printed
    site = hostile_store["root"] / "h" / "view"

    page.goto((site / "index.html").as_uri())
    page.wait_for_selector("body[data-ready='1']")
    _assert_nothing_ran(page, site, "journeyforge view · h")
    shown = page.inner_text("body")
    for column in ("problems.key", "trees.status", "nodes.label", "trajectories.kind", "runs.status", "evals.model",
                   "export config", "export split", "export.json stats_table", "runs.stats.waves",
                   "runs.stats.generated_tokens", "runs.stats.seconds", "runs.stats.rollouts"):
        assert _html_part(column) in shown, column

    store = TraceStore(hostile_store["url"])
    for tree in store.trees(store.get_run("h", "explore")["id"]):
        page.goto((site / "trees" / f"{tree['id']}.html").as_uri())
        page.wait_for_selector("body[data-rendered='1']")
        shown = _touch_everything(page)
        key = markup("problems.key") + str(tree["problem_id"])
        _assert_nothing_ran(page, site, f"tree {tree['id']} · {key}")
        assert key in shown and "visits –" in shown
        for column in ("problems.answer", "problems.payload.target", "trees.status", "nodes.text", "nodes.reason",
                       "nodes.finish_reason", "nodes.label", "nodes.state", "rollouts.text", "rollouts.answer",
                       "rollouts.finish_reason"):
            assert _html_part(column) in shown, column
    page.goto((site / "trees" / f"{store.trajectories()[0]['tree_id']}.html").as_uri())
    page.wait_for_selector("body[data-rendered='1']")
    for column in ("trajectories.text", "trajectories.kind"):  # what the page shows of a trajectory
        assert _html_part(column) in page.inner_text("#trajectories"), column


def _doctor(html_file, change) -> str:
    """The page with `change(data)` applied to its JSON block: data the Python side would never write."""
    text = html_file.read_text(encoding="utf-8")
    start = text.index('id="jf-data">') + len('id="jf-data">')
    end = text.index("</script>", start)
    data = json.loads(text[start:end])
    change(data)
    return text[:start] + data_json(data) + text[end:]


def test_the_pages_escape_numbers_too_even_when_the_data_holds_text(viewer_store, page):
    # The second line of defence: were a number column's text ever to reach the page (a reader
    # bug, an older site), the scripts still show it as text. Countdown and math pages, doctored.
    site = viewer_store["math_site"]
    tree_file = next(p for p in sorted((site / "trees").glob("*.html")) if '"rollouts":{"' in p.read_text())

    def numbers_as_markup(tree):
        for n in tree["nodes"]:
            for k in ("seq", "value", "visits", "logprob", "reward", "mc_value", "mc_hard", "count", "expansions"):
                n[k] = markup(f"doctored {k}")
        for rs in tree["rollouts"].values():
            for r in rs:
                r["idx"], r["n_tokens"] = markup("doctored rollouts.idx"), markup("doctored rollouts.n_tokens")
        for t in tree["trajectories"]:
            for k in ("idx", "n_steps", "n_backtracks", "n_tokens"):
                t[k] = markup(f"doctored trajectories.{k}")

    doctored = tree_file.with_name("doctored.html")
    doctored.write_text(_doctor(tree_file, numbers_as_markup), encoding="utf-8")
    page.goto(doctored.as_uri())
    page.wait_for_selector("body[data-rendered='1']")
    title = page.title()
    shown = _touch_everything(page)
    _assert_nothing_ran(page, site, title)
    for k in ("visits", "seq", "reward", "mc_value", "mc_hard", "expansions", "rollouts.idx", "rollouts.n_tokens",
              "trajectories.idx", "trajectories.n_steps", "trajectories.n_backtracks", "trajectories.n_tokens"):
        assert _html_part(f"doctored {k}") in shown, k

    def index_numbers_as_markup(index):
        s = index["summary"]
        for k in ("trees", "done", "solved", "nodes", "largest_tree"):
            s[k] = markup(f"doctored summary.{k}")
        s["labels"] = {lab: markup(f"doctored labels.{lab}") for lab in s["labels"]}
        for row in index["trees"]:
            row["nodes"], row["depth"] = markup("doctored trees.nodes"), markup("doctored trees.depth")
            row["best_value"] = markup("doctored trees.best_value")
            row["trajectories"] = {k: markup(f"doctored trees.{k}") for k in row["trajectories"]}
        index["export"] = {"dir": "x", "stats_table": None, "configs": {"c": {"train": markup("doctored split rows")}}}
        index["evals"] = [{"model": "m", **{k: markup(f"doctored evals.{k}")
                                            for k in ("problems", "correct", "accuracy", "mean_tokens")}}]

    doctored = site / "doctored-index.html"
    doctored.write_text(_doctor(site / "index.html", index_numbers_as_markup), encoding="utf-8")
    page.goto(doctored.as_uri())
    page.wait_for_selector("body[data-ready='1']")
    _assert_nothing_ran(page, site, page.title())
    shown = page.inner_text("body")
    for k in ("summary.trees", "summary.largest_tree", "labels.valid", "trees.nodes", "trees.depth", "trees.best_value",
              "trees.journey", "split rows", "evals.accuracy", "evals.mean_tokens"):
        assert _html_part(f"doctored {k}") in shown, k
