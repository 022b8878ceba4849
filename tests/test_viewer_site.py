"""`journeyforge view`: the site's files and data against the store they come from, the stage's
options and errors, and the 127.0.0.1 server. The browser side: tests/test_viewer_browser.py."""
from __future__ import annotations

import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from db import TraceStore
from journeyforge.cli import check_overrides
from journeyforge.stages import view
from journeyforge.stages.common import StageError
from tests.viewer_stores import compose_cfg, viewer_store  # noqa: F401 - the fixture
from viewer.serve import make_server
from viewer.settings import expand_shorthands

REPO = Path(__file__).resolve().parent.parent


def _data(path: Path) -> dict:
    """A page's data: the JSON of its one `<script type="application/json" id="jf-data">` block."""
    text = path.read_text(encoding="utf-8")
    [block] = re.findall(r'<script type="application/json" id="jf-data">(.*?)</script>', text, re.S)
    return json.loads(block)


def test_every_tree_gets_a_page_whose_data_is_the_stored_tree(viewer_store):
    store = TraceStore(viewer_store["url"])
    run = store.get_run("cd", "explore")
    lin = store.get_run("cd", "linearize")
    site = viewer_store["countdown_site"]
    index = _data(site / "index.html")
    trees = store.trees(run["id"])
    assert [r["id"] for r in index["trees"]] == [t["id"] for t in trees]
    solved = set(store.solved(run["id"]))
    assert 0 < len(solved) < len(trees)  # the filters have something to tell apart
    assert index["summary"]["solved"] == len(solved)
    for row in index["trees"]:
        nodes = store.nodes(row["id"])
        page = _data(site / "trees" / f"{row['id']}.html")
        assert (site / "trees" / f"{row['id']}.html").is_file()
        assert row["solved"] == (row["id"] in solved)
        assert row["nodes"] == len(nodes) == len(page["nodes"])
        assert [n["id"] for n in page["nodes"]] == [n["id"] for n in nodes]  # creation order
        assert [(n["label"], n["text"], n["parent_id"]) for n in page["nodes"]] == [
            (n["label"], n["text"], n["parent_id"]) for n in nodes]
        stored = store.trajectories(run_id=lin["id"], tree_ids=[row["id"]])
        assert [(t["kind"], t["text"]) for t in page["trajectories"]] == [(t["kind"], t["text"]) for t in stored]
        shortcut = [t for t in stored if t["kind"] == "shortcut"]
        if shortcut:
            assert page["shortcut"]["node_ids"] == shortcut[0]["node_ids"]
            journey = next(t for t in stored if t["kind"] == "journey")
            assert page["journey"]["node_ids"] == journey["node_ids"]
        else:
            assert page["shortcut"]["node_ids"] == [] and row["id"] not in solved
    assert {p["src"] for p in index["plots"]} == {"plots/labels.png", "plots/values_by_depth.png"}
    for p in index["plots"]:
        assert (site / p["src"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Offline: every script and stylesheet the pages name is a file of the site.
    for html in [site / "index.html", *sorted((site / "trees").glob("*.html"))[:2]]:
        text = html.read_text()
        assert "http://" not in text and "https://" not in text
    assert (site / "assets" / "vendor" / "katex" / "katex.min.js").is_file()


def test_math_pages_carry_rollouts_and_the_question(viewer_store):
    store = TraceStore(viewer_store["url"])
    run = store.get_run("m", "explore")
    site = viewer_store["math_site"]
    with_rollouts = 0
    for tree in store.trees(run["id"]):
        page = _data(site / "trees" / f"{tree['id']}.html")
        assert page["problem"]["text"].strip() == tree["problem"]["payload"]["question"].strip()
        stored = store.rollouts(tree_id=tree["id"])
        shown = [dict(r, node_id=int(k)) for k, rs in page["rollouts"].items() for r in rs]
        assert sorted((r["node_id"], r["idx"], r["answer"], r["is_correct"]) for r in shown) == sorted(
            (r["node_id"], r["idx"], r["answer"], r["is_correct"]) for r in stored)
        with_rollouts += bool(stored)
    assert with_rollouts


def test_tree_ids_and_solved_filters_choose_the_trees(viewer_store, tmp_path):
    store = TraceStore(viewer_store["url"])
    run = store.get_run("cd", "explore")
    ids = [t["id"] for t in store.trees(run["id"])]
    solved = store.solved(run["id"])
    base = viewer_store["countdown"]
    out = view.run(compose_cfg(base + [f"view.dir={tmp_path / 'a'}", f"view.trees=[{ids[0]},{ids[-1]}]"]))
    assert out["trees"] == 2 and sorted(p.stem for p in (tmp_path / "a" / "trees").iterdir()) == sorted(
        str(i) for i in (ids[0], ids[-1]))
    out = view.run(compose_cfg(base + [f"view.dir={tmp_path / 'a'}", "view.solved=false", "view.limit=2"]))
    kept = sorted(int(p.stem) for p in (tmp_path / "a" / "trees").iterdir())  # the folder was replaced whole
    assert out["trees"] == len(kept) == 2 and not set(kept) & set(solved)
    with pytest.raises(StageError, match=r"view.trees: tree id\(s\) \[999999\] are not trees of this run"):
        view.run(compose_cfg(base + [f"view.dir={tmp_path / 'b'}", "view.trees=[999999]"]))
    with pytest.raises(StageError, match="no explore run named 'nope'"):
        view.run(compose_cfg(["name=nope"] + base[1:] + [f"view.dir={tmp_path / 'b'}"]))


def test_a_folder_the_viewer_did_not_write_is_never_replaced(viewer_store, tmp_path):
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "thesis.tex").write_text("keep me")
    with pytest.raises(StageError, match=r"view.dir .*notes exists and is not a viewer site"):
        view.run(compose_cfg(viewer_store["countdown"] + [f"view.dir={mine}"]))
    assert (mine / "thesis.tex").read_text() == "keep me" and os.listdir(tmp_path) == ["notes"]


def test_bad_view_options_are_one_line_errors_and_bare_keys_are_the_stage_s():
    assert expand_shorthands(["serve=true", "port=0", "name=x", "view.limit=3"]) == [
        "view.serve=true", "view.port=0", "name=x", "view.limit=3"]
    assert check_overrides(["view.port=70000"]) == "view.port must be an integer in 0..65535, got 70000"
    assert check_overrides(["view.limit=0"]) == "view.limit must be >= 1 or null, got 0"
    assert "view.solved" in check_overrides(["view.solved=maybe"])


def test_serve_answers_on_localhost_only(viewer_store):
    server = make_server(viewer_store["countdown_site"], 0)
    host, port = server.server_address
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert host == "127.0.0.1"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=10) as r:
            assert r.status == 200 and b'id="jf-data"' in r.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/assets/vendor/katex/katex.min.js", timeout=10) as r:
            assert r.status == 200
        with pytest.raises(OSError, match=f"view.port={port}: cannot listen on 127.0.0.1:{port}"):
            make_server(viewer_store["countdown_site"], port)
    finally:
        server.shutdown()
        server.server_close()


def _get(port: int, path: str, host: str | None = "", timeout: float = 10) -> tuple[int, dict, bytes]:
    """(status, headers, body) of one raw GET: the path and Host header sent exactly as given
    (host "" is the served 127.0.0.1:port, None sends no Host header)."""
    host = f"127.0.0.1:{port}" if host == "" else host
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall((f"GET {path} HTTP/1.1\r\n" + (f"Host: {host}\r\n" if host is not None else "") +
                   "Connection: close\r\n\r\n").encode("latin-1"))
        chunks = []
        while data := s.recv(65536):
            chunks.append(data)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


@pytest.fixture
def served(viewer_store):
    server = make_server(viewer_store["countdown_site"], 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_serve_answers_only_to_local_host_names_on_its_port(served):
    port = served
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}", f"[::1]:{port}"):
        status, headers, body = _get(port, "/index.html", host)
        assert status == 200 and b'id="jf-data"' in body, host
        assert "script-src 'self'" in headers["content-security-policy"] and headers["x-content-type-options"] == "nosniff"
    # DNS rebinding: a page of attacker.example whose name now resolves to 127.0.0.1 sends its own Host.
    for host in ("attacker.example", f"attacker.example:{port}", f"127.0.0.1:{port + 1}", "127.0.0.1", f"localhost.:{port}",
                 f"127.0.0.1:{port}.attacker.example", None):
        status, _, body = _get(port, "/index.html", host)
        assert status == 403 and b"jf-data" not in body, host


def test_serve_refuses_paths_outside_the_site(served, viewer_store):
    port = served
    secret = (viewer_store["root"] / "traces.db").read_bytes()[:16]  # beside the site: "SQLite format 3"
    for path in ("/../traces.db", "/../../traces.db", "/%2e%2e/traces.db", "/%2E%2E%2Ftraces.db", "/assets/../../traces.db",
                 "/..%2f..%2ftraces.db", "//../traces.db", "/trees/..%5c..%5ctraces.db", "/./../traces.db",
                 f"/{viewer_store['root']}/traces.db", "/..;/traces.db", "/%252e%252e/traces.db", "/....//traces.db"):
        status, _, body = _get(port, path)
        assert status in (400, 403, 404) and secret not in body, (path, status)


def test_serve_answers_a_burst_of_200_clients_in_full_and_prints_nothing_when_they_drop(served, viewer_store, capfd):
    port = served
    site = viewer_store["countdown_site"]
    tree = sorted((site / "trees").glob("*.html"))[0]
    files = {"/index.html": site / "index.html", f"/trees/{tree.name}": tree,
             "/assets/vendor/katex/katex.min.js": site / "assets" / "vendor" / "katex" / "katex.min.js"}
    paths = list(files)
    barrier, results = threading.Barrier(200), []

    def client(i: int) -> None:
        barrier.wait()  # all 200 connect at once
        try:
            status, _, body = _get(port, paths[i % len(paths)], timeout=10)
            results.append(status == 200 and body == files[paths[i % len(paths)]].read_bytes())
        except OSError as err:
            results.append(repr(err))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(200)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    seconds = time.perf_counter() - start
    assert results == [True] * 200 and seconds < 10, (seconds, [r for r in results if r is not True][:5])

    # Clients that reset their connection mid-answer (a page left, a reload): no traceback, still serving.
    for _ in range(30):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.sendall(f"GET /assets/vendor/katex/katex.min.js HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        s.recv(10)
        s.close()
    time.sleep(0.5)
    assert _get(port, "/index.html")[0] == 200
    out, err = capfd.readouterr()
    assert "Traceback" not in err + out and "Error" not in err + out, err[-2000:]


def test_cli_view_serve_true_writes_the_site_and_serves_it(viewer_store, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "journeyforge.cli", "view", *viewer_store["countdown"][:2],
           f"workdir={tmp_path}", "serve=true", "port=0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "[view] serving" in line:
                break
        url = line.split(" at ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:"), "".join(lines)
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.status == 200
        assert (tmp_path / "view" / "index.html").is_file()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_viewer_s_static_files_ship_with_the_package():
    import tomllib

    package = REPO / "viewer"
    globs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["viewer"]
    shipped = {p for g in globs for p in package.glob(g) if p.is_file()}
    static = {p for p in (package / "static").rglob("*") if p.is_file()}
    assert static and static <= shipped, sorted(str(p) for p in static - shipped)


def test_a_page_s_data_block_cannot_be_ended_or_broken_by_stored_text():
    from viewer.site import _page, data_json

    stored = {"text": "</script><!--<script>alert(1)</script>\u2028&amp;", "nan": float("nan"), "inf": float("-inf"),
              "blob": b"\xff<b>", 3: ["{{TITLE}}"]}
    block = data_json(stored)
    assert block.isascii() and not set(block) & set("<>&")
    assert json.loads(block) == {"text": stored["text"], "nan": None, "inf": None, "blob": "\ufffd<b>", "3": ["{{TITLE}}"]}
    # Placeholders are filled in one pass: a title or data that reads "{{DATA}}" stays text.
    page = _page("tree.html", "{{DATA}} <b>", {"x": "{{TITLE}}"})
    assert "<title>{{DATA}} &lt;b&gt;</title>" in page and _data_text(page) == {"x": "{{TITLE}}"}
    assert page.count("{{") == 2


def _data_text(html: str) -> dict:
    [block] = re.findall(r'<script type="application/json" id="jf-data">(.*?)</script>', html, re.S)
    return json.loads(block)


def test_number_columns_holding_text_are_read_as_missing_and_counted():
    from viewer.clean import Cleaner

    c = Cleaner()
    assert [c.integer("nodes.visits", v) for v in (3, 2.0, True, None)] == [3, 2, 1, None]
    assert c.integer("nodes.visits", "<img src=x onerror=alert(1)>") is None
    assert c.integer("nodes.depth", 2.5) is None
    assert c.real("nodes.value", 0.123456) == 0.1235 and c.real("nodes.value", "1e3") is None
    assert c.real("nodes.value", float("inf")) is None and c.real("nodes.value", None) is None
    assert c.flag("rollouts.is_correct", 1) is True and c.flag("rollouts.is_correct", "<b>") is False
    assert c.ints("trajectories.node_ids", [1, "2", 3]) == [1, 3] and c.ints("trajectories.node_ids", "<b>") == []
    assert Cleaner.text(b"\xff<b>") == "\ufffd<b>" and Cleaner.text(7) == "7" and Cleaner.text(None) is None
    assert c.summary() == "nodes.value 2, trajectories.node_ids 2, nodes.visits 1, nodes.depth 1, rollouts.is_correct 1"
