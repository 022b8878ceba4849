"""The folders each stage reads models from and writes into, checked before the stage writes anything.

`validate_config(cfg, stage)` ends here: every model, adapter, scorer and tokenizer folder the stage
will load is opened as its loader would open it, without the tensors (search/model_dirs.py), and every
folder it will write is checked writable with room (journeyforge/folders.py). The command line passes
the stage; without one (a stage called from Python, which checks its settings again) only what a user
sets explicitly is opened (`policy.adapter`, `search.prm` with `search.value=prm`, `eval.prm`): the
models with defaults are left to the loaders, and the output folders to the stages' own checks. Such
a caller is a composite stage or a test, whose models are often made by an earlier step, and the
stage it will run is unknown here, so checking every defaulted model would refuse settings it never
uses. The evolve stage checks its rounds itself (journeyforge/stages/evolve_checks.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from journeyforge.folders import folders_problem
from search.model_dirs import model_dir_problem

# Backends whose `policy.model` is a folder (or hub id) loaded in this process; openai's `model` is the
# name a server gives its model, and scripted / simulated / symbolic load none.
MODEL_BACKENDS = ("hf", "vllm")

Model = tuple[str, str, bool]       # (option, folder or name, whether its tokenizer is loaded from it)
Folder = tuple[str, Any]            # (option, folder written; None: the stage has none)


@dataclass
class StageConfig:
    """What the checks read of a run config: its settings objects by group (`journeyforge/settings.py`
    SCHEMAS, absent groups left out), the policy config as a plain dict, the run's folder and the kinds
    `train` and `eval` tune."""

    stage: str | None
    workdir: str | None
    groups: dict[str, Any] = field(default_factory=dict)
    policy: dict[str, Any] = field(default_factory=dict)
    kinds: list[str] = field(default_factory=list)

    def option(self, group: str, name: str, default: Any = None) -> Any:
        """`<group>.<name>` from the group's settings object; `default` when the group is absent."""
        found = getattr(self.groups.get(group), name, None)
        return default if found is None else found


def policy_models(c: StageConfig) -> list[Model]:
    """`policy.model` and `policy.adapter` when the backend loads them here."""
    if c.policy.get("backend") not in MODEL_BACKENDS:
        return []
    out = [("policy.model", str(c.policy.get("model") or ""), True)]
    if c.policy.get("adapter"):
        out.append(("policy.adapter", str(c.policy["adapter"]), False))  # the tokenizer is the base model's
    return out


def scorers(c: StageConfig) -> list[Model]:
    """The step scorers: `search.prm` (explore with `search.value=prm`) and `eval.prm` (eval)."""
    out = []
    if (c.stage in (None, "explore", "run", "experiment") and c.option("search", "value") == "prm"
            and c.option("search", "prm")):
        out.append(("search.prm", str(c.option("search", "prm")), True))
    if c.stage in (None, "eval", "run") and c.option("eval", "prm"):
        out.append(("eval.prm", str(c.option("eval", "prm")), True))
    return [*out, *[base for option, path, _ in out for base in _scorer_base(option, path)]]


def _scorer_base(option: str, path: str) -> list[Model]:
    """A LoRA scorer's base model, named by its prm.json (`search/prm_scorer.py load_scorer`); its
    tokenizer is the scorer's own. prm.json itself was read by `check_scorer_dir` before this runs."""
    from search.prm_scorer import check_scorer_dir

    folder = Path(path)
    if not (folder / "adapter_config.json").exists():
        return []
    try:
        base = check_scorer_dir(path, option).get("base_model")
    except ValueError:
        return []  # named where the settings are checked
    return [(f"{option}'s base_model", str(base), False)] if base else []


def train_model(c: StageConfig) -> list[Model]:
    """`train.model`, the base every adapter is trained on (none for a student from scratch)."""
    if c.option("train", "scratch") or not c.option("train", "model"):
        return []
    return [("train.model", str(c.option("train", "model")), True)]


def trained_adapters(c: StageConfig) -> list[Model]:
    """The adapters (or whole tuned models) eval will load from `train.dir`, where they exist."""
    out = []
    for kind in c.kinds:
        folder = Path(str(c.option("train", "dir", ""))) / kind
        if (folder / "adapter_config.json").exists():
            out.append((f"train.dir ({kind} adapter)", str(folder), False))
        elif (folder / "config.json").exists():
            out.append((f"train.dir ({kind} model)", str(folder), True))
    return out


def rewrite_model(c: StageConfig) -> list[Model]:
    """`linearize.rewrite.model`: the model that rewrites reflections (`linearize.journey.reflection=llm`)."""
    lin = c.groups.get("linearize")
    if lin is None or "journey" not in lin.kinds or lin.journey.reflection != "llm":
        return []
    rewrite = dict(lin.rewrite or {})
    if rewrite.get("backend", "hf") not in MODEL_BACKENDS:
        return []
    return [("linearize.rewrite.model", str(rewrite.get("model") or ""), True)]


def _eval_models(c: StageConfig) -> list[Model]:
    base = policy_models(c) if c.option("eval", "include_base", True) else []
    adapters = trained_adapters(c)
    return base + (train_model(c) + adapters if adapters else [])


def _experiment_models(c: StageConfig) -> list[Model]:
    """The models an experiment loads: the policy that grows the trees, `train.model` and every arm's."""
    exp = c.groups.get("experiment")
    if exp is None or exp.report_only:  # report_only loads no model
        return []
    out = policy_models(c) if exp.explore else []
    return out + rewrite_model(c) + train_model(c) + exp.arm_models(bool(c.option("train", "scratch")))


def _stage_models(c: StageConfig) -> list[Model]:
    models: dict[str | None, Callable[[StageConfig], list[Model]]] = {
        "explore": policy_models,
        "linearize": rewrite_model,
        "train": train_model,
        "eval": _eval_models,
        "run": lambda c: policy_models(c) + rewrite_model(c) + train_model(c),
        "prm": lambda c: [("prm.model", str(c.option("prm", "model", "")), True)] if "prm" in c.groups else [],
        "experiment": _experiment_models,
        None: lambda c: [m for m in policy_models(c) if m[0] == "policy.adapter"],
    }
    return models.get(c.stage, lambda c: [])(c) + scorers(c)


def _experiment_folders(c: StageConfig) -> list[Folder]:
    exp = c.groups.get("experiment")
    if exp is None:
        return []
    if exp.report_only:  # the report alone is written then
        return [("experiment.dir", exp.dir)]
    return [("experiment.dir", exp.dir), ("train.dir", c.option("train", "dir")),
            *([("rl.dir", c.option("rl", "dir"))] if exp.rl_arms() else [])]


def _stage_folders(c: StageConfig) -> list[Folder]:
    if c.stage is None or not c.workdir:
        return []
    o = c.option
    folders: dict[str, Callable[[], list[Folder]]] = {
        "export": lambda: [("export.dir", o("export", "dir"))],
        "train": lambda: [("train.dir", o("train", "dir"))],
        "rl": lambda: [("rl.dir", o("rl", "dir"))],
        "prm": lambda: [("prm.dir", o("prm", "dir"))],
        "run": lambda: [("export.dir", o("export", "dir")), ("train.dir", o("train", "dir")),
                        *([("rl.dir", o("rl", "dir"))] if o("rl", "in_run") else [])],
        "experiment": lambda: _experiment_folders(c),
        "view": lambda: [("view.dir", o("view", "dir") or Path(c.workdir) / "view")],
    }
    return [("workdir", c.workdir), *[(opt, str(p)) for opt, p in folders.get(c.stage, list)() if p]]


def stage_folders_problem(c: StageConfig) -> str | None:
    """The first folder stage `c.stage` cannot use, as one line naming its option and the folder, or
    None: the output folders first (no import), then each model folder once (opened without tensors)."""
    problem = folders_problem(_stage_folders(c))
    if problem:
        return problem
    seen = set()
    for option, path, tokenizer in _stage_models(c):
        if (path, tokenizer) in seen:
            continue
        seen.add((path, tokenizer))
        problem = model_dir_problem(path, option, tokenizer=tokenizer)
        if problem:
            return problem
    return None
