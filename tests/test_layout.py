"""The shape of the code base, checked on every run: small files, imports that flow down the layers
without cycles, extension points that are one registry entry each, and settings read once."""
from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import networkx as nx
import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("journeyforge", "db", "search", "traces", "training", "analysis", "viewer", "benchmarks")
MAX_LINES = 500

# Files over MAX_LINES allowed for now (issue 23 emptied it). It must only shrink: the test below
# fails when an entry's file is under the limit.
TOO_LONG_FOR_NOW: set[str] = set()

# DESIGN.md's layers, lowest first: a module may import its own layer and the ones below it only.
# `analysis` (the experiment's statistics and report) reads stored rows, evaluation helpers and
# traces, so it sits above training; `viewer` (the static site) reads the store and traces and is
# used only by the application; `benchmarks` are scripts over everything.
LAYERS = ("db", "search", "traces", "training", "analysis", "viewer", "journeyforge", "benchmarks")


def _project_files() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """Project modules `path` imports: at the top, inside a function (both run eventually) or under
    `if TYPE_CHECKING:` (a type named for readers is still a dependency: DESIGN.md counts it)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    own = _module_name(path)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            # `from a.b import c` depends on the module a.b.c where there is one, else on a.b (its
            # __init__ for a package): `from pkg import submodule` is no import of pkg's __init__ names.
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        for name in names:
            # the longest project module the name starts with
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != own:
                found.add(name)
    return found


def import_graph() -> nx.DiGraph:
    """Project module -> the project modules it imports."""
    files = _project_files()
    modules = {_module_name(p) for p in files}
    graph = nx.DiGraph()
    for path in files:
        graph.add_node(_module_name(path))
        for target in _imports(path, modules):
            graph.add_edge(_module_name(path), target)
    return graph


def test_no_project_file_is_over_500_lines():
    sizes = {str(p.relative_to(REPO)): len(p.read_text(encoding="utf-8").splitlines()) for p in _project_files()}
    over = sorted(name for name, n in sizes.items() if n > MAX_LINES and name not in TOO_LONG_FOR_NOW)
    assert not over, f"over {MAX_LINES} lines: {over}"
    shrunk = sorted(name for name in TOO_LONG_FOR_NOW if sizes.get(name, 0) <= MAX_LINES)
    assert not shrunk, f"now under {MAX_LINES} lines: remove {shrunk} from TOO_LONG_FOR_NOW"


# Cycles in files other engineers own, through imports inside functions (so Python never sees them at
# import time, but the modules still depend on each other). This list must only shrink.
CYCLES_FOR_NOW: list[set[str]] = []


def test_no_import_cycles():
    cycles = [set(c) for c in nx.simple_cycles(import_graph())]
    new = [sorted(c) for c in cycles if c not in CYCLES_FOR_NOW]
    assert not new, f"import cycles: {sorted(new, key=len)[:5]}"
    gone = [sorted(c) for c in CYCLES_FOR_NOW if c not in cycles]
    assert not gone, f"no longer cycles: remove {gone} from CYCLES_FOR_NOW"


def test_imports_flow_down_the_layers():
    rank = {name: i for i, name in enumerate(LAYERS)}
    upward = sorted((a, b) for a, b in import_graph().edges
                    if rank[b.split(".")[0]] > rank[a.split(".")[0]])
    assert not upward, f"imports from a lower layer to a higher one: {upward}"


def test_a_trajectory_kind_added_through_the_registry_alone_is_accepted_everywhere(monkeypatch):
    from dataclasses import dataclass

    from hydra import compose, initialize_config_dir

    from journeyforge.cli import CONF_DIR
    from journeyforge.experiment_settings import ExperimentSettings
    from journeyforge.settings import validate_config
    from traces import linearize

    @dataclass
    class ToyConfig:
        """Options of the toy kind."""

        depth: int = 1
        """How deep the toy goes."""

    monkeypatch.setitem(linearize.KINDS, "toy", linearize.TrajectoryKind(
        "toy", lambda G, task, cfg: [], ToyConfig, help="a toy kind from this test"))
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        cfg = compose(config_name="config", overrides=["policy=scripted", "linearize.kinds=[shortcut,toy]",
                                                       "linearize.train_kinds=[toy]"])
    validate_config(cfg)
    experiment = ExperimentSettings(arms={"toy": {"kind": "toy", "linearize": {"depth": 2}}, "shortcut": {}})
    experiment.validate()
    assert "toy" in linearize.sft_kinds() and experiment.tuned() == ["toy", "shortcut"]
    with pytest.raises(ValueError, match=r"experiment\.arms\.toy\.linearize\.width is not an option"):
        ExperimentSettings(arms={"toy": {"kind": "toy", "linearize": {"width": 2}}, "shortcut": {}}).validate()


# `cfg.get("<group>")`, `cfg.<group>.get(...)`, `cfg["<group>"]`: reading a group's raw node instead
# of its settings class (a line that hands the node to `settings(...)` builds the class, and is fine).
# journeyforge/settings.py builds the settings; the modules listed here still read raw nodes and are
# being moved to typed settings (issue 23): this list must only shrink.
_RAW_READ = re.compile(r"\bcfg\s*(?:\.get\(\s*[\"'](\w+)[\"']|\.(\w+)\.get\(|\[\s*[\"'](\w+)[\"']\s*\])")
RAW_READERS_FOR_NOW: set[str] = set()


def _code_lines(path: Path) -> list[str]:
    """The lines of `path` that hold code: docstrings and comments left out (they may name `cfg[...]`)."""
    text = path.read_text(encoding="utf-8")
    prose: set[int] = set()
    previous = tokenize.NEWLINE
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.STRING and previous in (tokenize.NEWLINE, tokenize.NL, tokenize.INDENT,
                                                        tokenize.DEDENT):
            prose.update(range(tok.start[0], tok.end[0] + 1))  # a string standing as a statement
        if tok.type not in (tokenize.COMMENT, tokenize.NL):
            previous = tok.type
    lines = text.splitlines()
    return [line.split("#", 1)[0] for i, line in enumerate(lines, 1) if i not in prose]


def test_no_module_rereads_a_raw_config_group_a_settings_class_holds():
    from journeyforge.settings import SCHEMAS

    readers = {}
    for path in _project_files():
        name = str(path.relative_to(REPO))
        if name == "journeyforge/settings.py":
            continue
        lines = [line for line in _code_lines(path) if "settings(" not in line]
        groups = {g for line in lines for m in _RAW_READ.finditer(line) for g in m.groups() if g}
        held = sorted(groups & set(SCHEMAS))
        if held:
            readers[name] = held
    assert sorted(set(readers) - RAW_READERS_FOR_NOW) == [], f"raw reads of settings groups: {readers}"
    gone = sorted(RAW_READERS_FOR_NOW - set(readers))
    assert not gone, f"{gone} no longer read raw groups: remove them from RAW_READERS_FOR_NOW"
