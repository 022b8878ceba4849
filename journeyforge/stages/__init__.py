"""The stages' one registry: one module per stage, each exposing `run(cfg) -> dict` that tests call
without the CLI. The CLI's usage, `journeyforge <stage> --help` (the config's help header, through the
`stages_help` resolver) and the documentation's CLI page all read their list of stages from `STAGES`.

A stage's module is imported when it first runs: the usage and the help print without loading
torch or datasets, and importing one stage does not import every other one.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Stage:
    """One `journeyforge <name>` command; calling it runs the stage on a composed config."""

    name: str
    module: str
    """The module under journeyforge/stages/ whose `run(cfg)` the stage is."""
    help: str
    """The stage's line in the usage and the help: what it does, in one line."""

    def __call__(self, cfg: Any) -> dict:
        return importlib.import_module(f"journeyforge.stages.{self.module}").run(cfg)


def _stage(name: str, help: str, module: str | None = None) -> tuple[str, Stage]:
    return name, Stage(name, module or name, help)


STAGES: dict[str, Stage] = dict([
    _stage("explore", "grow search trees with the policy model; every node goes into the store"),
    _stage("linearize", "turn stored trees into {kinds} trajectories"),
    _stage("export", "write Hugging Face datasets (sft, stepwise, preference) and a dataset card"),
    _stage("train", "LoRA SFT (TRL) on the exported dataset of each kind"),
    _stage("eval", "greedy accuracy of the base and tuned models on held-out problems", module="evaluate"),
    _stage("rl", "GRPO (TRL) on the task's verifier rewards, from the base model or an SFT adapter"),
    _stage("run", "explore, linearize, export, train (rl with rl.in_run=true) and eval, in order",
           module="pipeline"),
    _stage("label", "judge and oracle step labels beside the search's (labels table), graded against an oracle"),
    _stage("prm", "a process reward model (step scorer) from the stepwise export, graded on held-out trees"),
    _stage("experiment", "journey vs shortcut with seeds, intervals and a compute-matched comparison (report.md)"),
    _stage("evolve", "self-evolution rounds: round k's tuned model grows round k+1's trees; lineage, report.md"),
    _stage("view", "a static site of the run and its trees in <workdir>/view; `serve=true` serves it"),
])

# `journeyforge db` is no Hydra stage (it takes its own few arguments), but it is listed with them.
DB_HELP = "schema migrations and read-only checks: `journeyforge db upgrade|current|check [store.url=...]`"


def stage_lines(kinds: list[str]) -> str:
    """The stages, one aligned line each (`db` last), with the trajectory kinds named where a line
    mentions them: the list the CLI's usage and the config's help header print."""
    rows = [(s.name, s.help.format(kinds=" / ".join(kinds))) for s in STAGES.values()] + [("db", DB_HELP)]
    width = max(len(name) for name, _ in rows) + 1
    return "\n".join(f"  {name:<{width}}{text}" for name, text in rows)
