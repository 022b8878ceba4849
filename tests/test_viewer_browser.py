"""The viewer in a real browser: headless Debian Chromium driven by Playwright opens the site from
the file system (no server, no network), filters the index, opens a tree, clicks nodes, and checks
what is shown against the store. `make test` installs chromium (`make setup-browser`); without it
these tests skip and say so."""
from __future__ import annotations

import io
import os
import shutil

import pytest

from db import TraceStore
from tests.viewer_stores import viewer_store  # noqa: F401 - the fixture

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
    store = TraceStore(viewer_store["url"])
    run = store.get_run("cd", "explore")
    trees = store.trees(run["id"])
    page.goto((viewer_store["countdown_site"] / "index.html").as_uri())
    step = next(n["text"] for n in store.nodes(trees[0]["id"]) if n["parent_id"] is not None)
    expected = sorted(t["id"] for t in trees if any(n["text"].strip() == step.strip() or step.strip() in n["text"]
                                                     for n in store.nodes(t["id"])))
    page.fill("#f-text", step.strip())
    page.wait_for_function(f"document.querySelectorAll('#trees tbody tr').length === {len(expected)}")
    assert sorted(int(i) for i in page.locator("#trees tbody tr").evaluate_all("rs => rs.map(r => r.dataset.tree)")) == expected
    page.fill("#f-text", "")
    page.select_option("#f-label", "invalid")
    page.fill("#f-min", "5")
    many = sorted(t["id"] for t in trees if sum(n["label"] == "invalid" for n in store.nodes(t["id"])) >= 5)
    page.wait_for_function(f"document.querySelectorAll('#trees tbody tr').length === {len(many)}")
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
