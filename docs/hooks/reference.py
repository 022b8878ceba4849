"""mkdocs hook: the reference pages generated from the code at build time, so they cannot go stale.

- `reference/options.md`: every config option, from the settings dataclasses registered with Hydra's
  ConfigStore (journeyforge/settings.py `register_configs`: `schema/<group>` and `schema/task/<name>`)
  and the policy backends' settings (search/policies/__init__.py `BACKENDS`): each field's type, default
  and the docstring written under it (or its `metadata["help"]`), and the class and file that define it.
- `reference/schema.md`: every table and column of the trace store (db/models.py) and every SQL view
  (db/views.py `VIEWS`).
- `reference/cli.md`'s usage block: the command line's own usage text (journeyforge/cli.py).
- the config groups table of `getting-started.md`: every file of `journeyforge/conf/<group>/` with the
  first line of its comment.

`mkdocs build` runs it (mkdocs.yml `hooks:`); `python docs/hooks/reference.py options|schema|cli|groups`
prints one page.
"""
from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `mkdocs build` from the repository root imports the project from here
    sys.path.insert(0, str(REPO))

GENERATED = {"reference/options.md": "options_page", "reference/schema.md": "schema_page"}
CLI_MARKER = "<!-- usage: generated from journeyforge/cli.py -->"
GROUPS_MARKER = "<!-- groups: generated from journeyforge/conf/ -->"


def _source_path(obj: Any) -> str:
    """`obj`'s file, relative to the repository."""
    return Path(inspect.getsourcefile(obj)).resolve().relative_to(REPO).as_posix()


def _field_docs(cls: type) -> dict[str, tuple[str, type]]:
    """Field name -> (its documentation, the class whose body declares it), walking the MRO so that a
    joined class (SearchSettings, made by `make_dataclass`) names each option's owner."""
    docs: dict[str, tuple[str, type]] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass) or "__dataclass_fields__" not in klass.__dict__:
            continue
        try:
            body = ast.parse(textwrap.dedent(inspect.getsource(klass))).body[0].body
        except (OSError, TypeError, IndexError, AttributeError):  # made at run time: no source of its own
            continue
        for i, node in enumerate(body):
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                after = body[i + 1] if i + 1 < len(body) else None
                text = ""
                if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) \
                        and isinstance(after.value.value, str):
                    text = inspect.cleandoc(after.value.value)
                docs[node.target.id] = (text, klass)
    for f in dataclasses.fields(cls):
        if f.metadata.get("help"):
            docs[f.name] = (f.metadata["help"], docs.get(f.name, ("", cls))[1])
    return docs


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return "(required)"


def _type_name(hint: Any) -> str:
    text = hint if isinstance(hint, str) else getattr(hint, "__name__", None) or str(hint)
    return text.replace("typing.", "")


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _value(value: Any) -> str:
    if dataclasses.is_dataclass(value):
        return f"({type(value).__name__})"
    shown = repr(value)
    return f"`{_cell(shown if len(shown) <= 60 else shown[:57] + '...')}`"


def _rows(cls: type, prefix: str) -> list[str]:
    """One table row per option of `cls`; a nested settings dataclass gets its own rows under `prefix.field`."""
    docs = _field_docs(cls)
    rows, nested = [], []
    for f in dataclasses.fields(cls):
        default = _default(f)
        text, owner = docs.get(f.name, ("", cls))
        where = f"{owner.__name__} (`{_source_path(owner)}`)" if owner is not cls else ""
        rows.append(f"| `{prefix}{f.name}` | {_cell(_type_name(f.type))} | {_value(default)} | {_cell(text)}"
                    f"{' — ' + where if where else ''} |")
        if dataclasses.is_dataclass(default):
            nested.append((type(default), f"{prefix}{f.name}."))
    for sub, sub_prefix in nested:
        rows += _rows(sub, sub_prefix)
    return rows


def _section(title: str, cls: type, prefix: str, note: str = "") -> list[str]:
    doc = inspect.cleandoc(cls.__doc__ or "")
    doc = "" if doc.startswith(f"{cls.__name__}(") else doc  # dataclass's generated signature, not prose
    head = [f"## {title}", "", f"`{cls.__name__}` in `{_source_path(cls)}`" if cls.__module__ != "search.algorithms"
            else f"`{cls.__name__}`, joined in `search/algorithms/__init__.py` (each option's owner below)", ""]
    if doc:
        head += [" ".join(doc.split()), ""]
    if note:
        head += [note, ""]
    return head + ["| option | type | default | what it does |", "|---|---|---|---|", *_rows(cls, prefix), ""]


def schema_classes() -> dict[str, type]:
    """`schema/<group>` (and `schema/task/<name>`) -> the dataclass Hydra's ConfigStore holds for it."""
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    from journeyforge.settings import register_configs

    register_configs()
    out: dict[str, type] = {}

    def walk(node: dict, path: str) -> None:
        for name, entry in sorted(node.items()):
            if isinstance(entry, dict):
                walk(entry, f"{path}/{name}")
            else:
                out[f"{path}/{name.removesuffix('.yaml')}"] = OmegaConf.get_type(entry.node)

    walk(ConfigStore.instance().repo["schema"], "schema")
    # The packaged options only: a task that a test registers in the same process (tests/sum_task.py)
    # has no task file and is no option a user can choose.
    tasks = Path(__file__).resolve().parents[2] / "journeyforge" / "conf" / "task"
    return {key: cls for key, cls in out.items()
            if not key.startswith("schema/task/") or (tasks / f"{key.rsplit('/', 1)[1]}.yaml").exists()}


def options_page() -> str:
    from search.policies import BACKENDS

    lines = ["# Every config option", "",
             "Generated from the code when the site is built (docs/hooks/reference.py): the settings dataclasses",
             "registered with Hydra's ConfigStore as `schema/<group>` (journeyforge/settings.py `register_configs`)",
             "and the policy backends' settings (search/policies/__init__.py `BACKENDS`). Each option is set on the",
             "command line as `<group>.<option>=<value>`; `journeyforge <stage> --cfg job` prints the resolved",
             "values, and the YAML files in `journeyforge/conf/<group>/` hold only what differs from these defaults.",
             "How the groups compose (a task declares what it serves, a user's choice always stands):",
             "[configuration](../getting-started.md#configuration-hydra).", ""]
    classes = schema_classes()
    for key, cls in classes.items():
        parts = key.split("/")[1:]
        if parts[0] == "task":
            lines += _section(f"task={parts[1]}", cls, "task.")
        else:
            lines += _section(parts[0], cls, f"{parts[0]}.")
    for name, entry in BACKENDS.items():
        module, cls_name = entry.settings.split(":")
        cls = getattr(importlib.import_module(module), cls_name)
        lines += _section(f"policy={name}", cls, "policy.", f"`policy.backend={name}` (`journeyforge/conf/policy/{name}.yaml`).")
    return "\n".join(lines)


def schema_page() -> str:
    from db.models import Base
    from db.views import VIEWS

    lines = ["# Trace store schema", "",
             "Generated from the code when the site is built (docs/hooks/reference.py): the SQLAlchemy models of",
             "`db/models.py` and the views of `db/views.py`. What each table and view is for, with queries:",
             "[the trace store](../store.md).", ""]
    for table in Base.metadata.sorted_tables:
        lines += [f"## `{table.name}`", "", "| column | type | null | key |", "|---|---|---|---|"]
        for col in table.columns:
            keys = ", ".join(filter(None, ["primary" if col.primary_key else "",
                                           *(f"→ `{fk.target_fullname}`" for fk in col.foreign_keys)]))
            lines.append(f"| `{col.name}` | {_cell(col.type)} | {'yes' if col.nullable else 'no'} | {keys} |")
        lines.append("")
    lines += ["## Views", ""]
    for name, sql in VIEWS.items():
        lines += [f"### `{name}`", "", "```sql", f"CREATE VIEW {name} AS", sql.strip(), "```", ""]
    return "\n".join(lines)


def cli_usage() -> str:
    from journeyforge.cli import USAGE

    return "```\n" + USAGE.strip() + "\n```"


def _first_comment(path: Path) -> str:
    """The first sentence of a YAML file's opening comment (its `@package` directive left out)."""
    words: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        text = line.lstrip("# ").strip()
        if not text.startswith("@package"):
            words += text.split()
    text = " ".join(words)
    end = re.search(r"(?<!e\.g)(?<!i\.e)\. ", text)  # the first full stop that ends a sentence
    return text if end is None else text[:end.start() + 1]


def groups_table() -> str:
    from journeyforge.overrides import CONF_DIR

    rows = ["| group | option: what its file says first |", "|---|---|"]
    for group in sorted(p for p in Path(CONF_DIR).iterdir() if p.is_dir()):
        options = "<br>".join(f"`{f.stem}`: {_cell(_first_comment(f))}" for f in sorted(group.glob("*.yaml")))
        rows.append(f"| `{group.name}` | {options} |")
    return "\n".join(rows)


# -- mkdocs hooks -------------------------------------------------------------------------------
def on_files(files, config):
    """Add the generated pages to the build."""
    from mkdocs.structure.files import File

    for path, builder in GENERATED.items():
        files.append(File.generated(config, path, content=globals()[builder]()))
    return files


def on_page_markdown(markdown, page, config, files):
    """Put the command line's usage text and the config groups where a page marks them."""
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, cli_usage())
    if GROUPS_MARKER in markdown:
        markdown = markdown.replace(GROUPS_MARKER, groups_table())
    return markdown


if __name__ == "__main__":
    print({"options": options_page, "schema": schema_page, "cli": cli_usage, "groups": groups_table}[sys.argv[1]]())
