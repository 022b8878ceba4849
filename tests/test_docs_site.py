"""The documentation site (issue 41): `mkdocs build --strict` passes (no broken link, anchor or missing
page), the option reference is generated from every registered settings class, the README stays a
front page of at most 300 lines, and every repository path and `ClassName` (`path.py`) pointer in the
README and the docs pages holds."""
from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
# The pages: README.md and docs/ without the committed studies' own folders (docs/results/<study>/,
# records of a run written when it was made), whose index pages under docs/results/ are pages too.
PAGES = [REPO / "README.md", *sorted(p for p in DOCS.rglob("*.md")
                                     if not (p.parent.parent == DOCS / "results" or DOCS / "results" in p.parents[1:]))]
TOP = ("journeyforge", "search", "db", "traces", "training", "analysis", "viewer", "tests", "benchmarks", "docs",
       "scripts")
# A repository path: starts at a top-level folder, not inside a URL or after `../` (links are mkdocs's).
PATH = re.compile(r"(?<![\w./:-])((?:%s)/[\w./-]*[\w/])" % "|".join(TOP))
FILES = re.compile(r"(?<![\w./-])(Makefile|pyproject\.toml|mkdocs\.yml)\b")
# `ClassName` (`path.py`), and path.py ClassName (backticks optional around either).
CLASS_THEN_PATH = re.compile(r"`([A-Z]\w*)`\s*\(`([\w/.-]+\.py)`")
PATH_THEN_CLASS = re.compile(r"\b([\w/-]+/[\w.-]+\.py)`?\s+`?([A-Z][a-z0-9]+[A-Z]\w*|`[A-Z]\w*`)")


def _hook():
    spec = importlib.util.spec_from_file_location("docs_reference", DOCS / "hooks" / "reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _defines(path: Path, name: str) -> bool:
    text = path.read_text(encoding="utf-8")
    return bool(re.search(rf"^\s*class {name}\b|^{name}\s*[:=]", text, re.M))


def test_the_site_builds_strictly(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", str(REPO / "mkdocs.yml"),
                           "-d", str(tmp_path / "site")], cwd=REPO, capture_output=True, text=True, env=env,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    for page in ("reference/options/index.html", "reference/schema/index.html", "reference/cli/index.html",
                 "results/index.html", "guides/math/index.html"):
        assert (tmp_path / "site" / page).is_file(), page
    cli = (tmp_path / "site" / "reference" / "cli" / "index.html").read_text()
    assert "usage: journeyforge" in cli and "<!-- usage" not in cli


def test_the_option_reference_holds_every_option_of_every_registered_settings_class():
    from search.policies import BACKENDS, settings_class

    hook = _hook()
    page = hook.options_page()
    classes = hook.schema_classes()
    assert {"schema/search", "schema/linearize", "schema/task/countdown"} <= set(classes)
    for key, cls in classes.items():
        parts = key.split("/")[1:]
        prefix = "task." if parts[0] == "task" else f"{parts[0]}."
        for f in dataclasses.fields(cls):
            assert f"| `{prefix}{f.name}` |" in page, f"{key}: {f.name} missing"
    for name in BACKENDS:
        for f in dataclasses.fields(settings_class(name)):
            assert f"| `policy.{f.name}` |" in page, f"policy={name}: {f.name} missing"
    undocumented = [line.split("|")[1].strip() for line in page.splitlines()
                    if line.startswith("| `") and line.rstrip().endswith("|  |")]
    assert not undocumented, f"options without a docstring: {undocumented}"
    assert "MCTSSettings (`search/algorithms/mcts.py`)" in page  # SearchSettings names each option's owner


def test_the_schema_reference_names_every_table_and_view():
    from db.models import Base
    from db.views import VIEWS

    page = _hook().schema_page()
    for table in Base.metadata.sorted_tables:
        assert f"## `{table.name}`" in page
        for column in table.columns:
            assert f"| `{column.name}` |" in page
    for view in VIEWS:
        assert f"### `{view}`" in page


def test_the_readme_is_a_front_page():
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 300, f"README.md has {len(lines)} lines; move text into docs/ (the site)"
    head = "\n".join(lines[:12])
    assert "make demo" in head and "make test" in head
    assert "## Map of the code" in "\n".join(lines[:120])


def test_every_repository_path_in_the_readme_and_the_docs_exists():
    missing = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")  # code blocks too: they name files as well
        for match in [*PATH.finditer(text), *FILES.finditer(text)]:
            if text[match.end():match.end() + 1] in ("<", "{", "*"):  # a pattern: tests/test_<name>.py
                continue
            target = match.group(1).rstrip(".")
            if not (REPO / target).exists():
                missing.append(f"{page.relative_to(REPO)}: {target}")
    assert not missing, "paths that do not exist:\n" + "\n".join(sorted(set(missing)))


def test_every_class_pointer_names_the_file_that_defines_the_class():
    wrong = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")  # code blocks too: they name files as well
        pairs = [(m.group(1), m.group(2)) for m in CLASS_THEN_PATH.finditer(text)]
        pairs += [(m.group(2).strip("`"), m.group(1)) for m in PATH_THEN_CLASS.finditer(text)]
        for name, path in pairs:
            file = REPO / path
            if not file.is_file() or not _defines(file, name):
                wrong.append(f"{page.relative_to(REPO)}: {name} is not defined in {path}")
    assert not wrong, "class pointers that do not hold:\n" + "\n".join(sorted(set(wrong)))


def test_every_module_the_readme_code_map_names_exists():
    """The map names files by their bare names under each top-level folder: each must exist there."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split("## Map of the code", 1)[1].split("```", 2)[1]
    top, missing = None, []
    for line in block.splitlines():
        head = re.match(r"^([a-z]+)/\s", line)
        if head:
            top = REPO / head.group(1)
            assert top.is_dir(), head.group(1)
        for name in re.findall(r"(?<![\w/.])([a-z_]+\.py|[a-z_]+/)(?=[\s,:;)]|$)", line[15:] if head else line):
            found = list(top.rglob(name.rstrip("/"))) if top else []
            if not found and not name.startswith(top.name if top else "\0"):
                missing.append(f"{top.name}/…/{name}")
    assert not missing, f"README's map names what is not there: {missing}"


@pytest.mark.parametrize("text,ok", [
    ("`ExploreSettings` (`search/explorer.py`)", False),
    ("traces/linearize_settings.py LinearizeSettings", True),
    ("`SearchSettings` (`search/algorithms/__init__.py`)", True),
])
def test_the_pointer_check_catches_a_wrong_file(text, ok):
    pairs = [(m.group(1), m.group(2)) for m in CLASS_THEN_PATH.finditer(text)]
    pairs += [(m.group(2).strip("`"), m.group(1)) for m in PATH_THEN_CLASS.finditer(text)]
    assert pairs and all(_defines(REPO / p, n) for n, p in pairs) == ok
