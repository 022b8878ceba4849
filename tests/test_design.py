"""Design rules of issue 41 the suite enforces, beside tests/test_layout.py's sizes, layers and cycles:

- Composite stages build the settings of the stages they call as objects (copies with changed fields),
  never by writing a dotted path into a raw config. A *raw-config write* is, in the AST of a project
  module: (1) any call of `OmegaConf.update`; (2) a call of a function named `set`, `_set`, `*_set` or
  `update` with a string literal argument that is a dotted option path (`search.prm`); (3) a call of
  `OmegaConf.create`, `OmegaConf.merge` or `OmegaConf.from_dotlist` given a dict literal with a dotted
  key or a list of `a.b=value` strings; (4) an assignment whose value is an `OmegaConf.create(...)` call
  into an attribute or item of another object (patching a node into a config). The CLI's override
  parsing (journeyforge/cli.py, journeyforge/overrides.py) is where the command line's dotted paths
  are read, and is exempt.
- No function over 80 lines without a `# long because: <why>` comment in its body.
"""
from __future__ import annotations

import ast
import re

from tests.test_layout import REPO, _project_files

EXEMPT = {"journeyforge/cli.py", "journeyforge/overrides.py"}
DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+(=.*)?$")

# Raw-config writes left, by file (count). Being moved to typed settings objects (issue 41): a count
# must only shrink, and an entry goes when its file has none.
RAW_WRITES_FOR_NOW: dict[str, int] = {}

MAX_FUNCTION_LINES = 80
# Functions over MAX_FUNCTION_LINES with no `# long because:` comment yet. It must only shrink.
LONG_FOR_NOW: set[str] = set()


def _dotted(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and bool(DOTTED.match(node.value))


def _call_name(call: ast.Call) -> tuple[str, str]:
    """(owner, name) of a call: `OmegaConf.update(...)` -> ("OmegaConf", "update"), `_set(...)` -> ("", "_set")."""
    func = call.func
    if isinstance(func, ast.Attribute):
        return getattr(func.value, "id", ""), func.attr
    return "", getattr(func, "id", "")


def _is_create(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and _call_name(node) == ("OmegaConf", "create")


def raw_config_writes(tree: ast.AST) -> list[int]:
    """The lines of `tree` that write a dotted path (or a patched node) into a raw config."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            owner, name = _call_name(node)
            if (owner, name) == ("OmegaConf", "update"):
                lines.append(node.lineno)
            elif (name in ("set", "update") or name.endswith("_set")) and any(_dotted(a) for a in node.args):
                lines.append(node.lineno)
            elif owner == "OmegaConf" and name in ("create", "merge", "from_dotlist"):
                for arg in node.args:
                    keys = arg.keys if isinstance(arg, ast.Dict) else arg.elts if isinstance(arg, (ast.List, ast.Tuple)) else []
                    if any(k is not None and _dotted(k) for k in keys):
                        lines.append(node.lineno)
        elif isinstance(node, ast.Assign) and _is_create(node.value):
            if any(isinstance(t, (ast.Attribute, ast.Subscript)) for t in node.targets):
                lines.append(node.lineno)
    return sorted(set(lines))


def test_the_raw_config_write_check_finds_each_pattern():
    code = """
_set(rc, "search.prm", x)
OmegaConf.update(rc, "task.name", "math", merge=False)
patch = OmegaConf.create({"search.value": "prm"})
OmegaConf.merge(cfg, OmegaConf.from_dotlist(["train.dir=x"]))
rc.policy = OmegaConf.create(policy)
settings(SearchSettings, cfg.search, "search")
dataclasses.replace(search, prm="x")
node.update(arm_train)
"""
    assert raw_config_writes(ast.parse(code)) == [2, 3, 4, 5, 6]


def test_no_module_writes_a_dotted_path_into_a_raw_config():
    found = {}
    for path in _project_files():
        name = str(path.relative_to(REPO))
        if name in EXEMPT:
            continue
        lines = raw_config_writes(ast.parse(path.read_text(encoding="utf-8"), name))
        if lines:
            found[name] = lines
    over = {name: lines for name, lines in found.items() if len(lines) > RAW_WRITES_FOR_NOW.get(name, 0)}
    assert not over, f"raw-config writes (build settings objects and copy them instead): {over}"
    fewer = {name: len(found.get(name, [])) for name, n in RAW_WRITES_FOR_NOW.items() if len(found.get(name, [])) < n}
    assert not fewer, f"fewer raw-config writes now: lower RAW_WRITES_FOR_NOW to {fewer}"


def _long_functions() -> dict[str, int]:
    out = {}
    for path in _project_files():
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text, str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                body = lines[node.lineno - 1: node.end_lineno]
                if length > MAX_FUNCTION_LINES and not any("# long because:" in line for line in body):
                    out[f"{path.relative_to(REPO)}:{node.name}"] = length
    return out


def test_no_function_is_over_80_lines_without_a_reason():
    found = _long_functions()
    new = {name: n for name, n in found.items() if name not in LONG_FOR_NOW}
    assert not new, f"functions over {MAX_FUNCTION_LINES} lines (split them, or say why in `# long because:`): {new}"
    gone = sorted(LONG_FOR_NOW - set(found))
    assert not gone, f"{gone} are no longer over {MAX_FUNCTION_LINES} lines: remove them from LONG_FOR_NOW"
