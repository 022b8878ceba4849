"""Export stored trajectories and trees as Hugging Face datasets that TRL consumes as-is.

Configurations (one `DatasetDict` each, train/test split by problem, traces/splits.py):
- `sft/<kind>/`: SFT rows, one per well-formed trajectory (traces/sft_rows.py);
- `stepwise/`: TRL's stepwise-supervision format, one row per root-to-leaf path of a tree
  (traces/stepwise_rows.py), and from it Math-Shepherd's and OpenRLHF's PRM formats;
- `preference/`: TRL's preference format, a correct step against a sibling mistake
  (traces/preference_rows.py);
- `rl/` and verl's files, with the run's training problems (traces/rl_prompts.py).

The row builders take plain rows, problem dicts and stored trees; `write_export` writes every
configuration with the stats and the dataset card into one folder atomically (traces/export_dir.py),
and `export_run` reads a linearize run from a `TraceStore` first and pushes to the Hub after
(traces/hub.py) when the settings name a repo.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import networkx as nx
from datasets import DatasetDict

from db.stored_tree import StoredTree, load_trees
from search.tasks.base import Problem, Task
from traces.card import render_card
from traces.export_dir import MARKER, config_name, export_dir
from traces.card_provenance import provenance_section
from traces.decontamination import Reference
from traces.export_checks import benchmark_references
from traces.export_publishing import PublishInputs, provenance_facts, publishable, store_inputs
from traces.export_settings import ExportSettings, VerlReward
from traces.hub import push_to_hub
from traces.preference_rows import build_preference
from traces.prm_formats import prm_formats
from traces.prm_placeholder import PrmTokenizer, load_prm_tokenizer
from traces.problems import as_problem, problem_of
from traces.rl_prompts import VERL_DIR, build_rl_prompts, write_verl
from traces.sft_rows import build_sft, drop_malformed
from traces.splits import split_problems
from traces.trajectory_stats import format_stats_table, plot_histograms, trajectory_stats
from traces.label_sources import stored_judge_labels
from traces.stepwise_rows import build_stepwise


def _plain(cfg: Any) -> Any:
    """A Hydra/OmegaConf config as plain containers (resolved), anything else unchanged."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf
    except ImportError:  # pragma: no cover - hydra-core is a dependency
        return cfg
    if isinstance(cfg, (DictConfig, ListConfig)):
        return OmegaConf.to_container(cfg, resolve=True)
    return cfg


def _write_verl(out: Path, rl: DatasetDict, task: Task, run_config: Mapping[str, Any], reward: VerlReward) -> None:
    """verl's Parquet files and reward module, with the run's task config and `reward`."""
    write_verl(out, rl, task, run_config.get("task") or {"name": task.name}, reward.scheme, reward.format_weight)


def _sft_sets(rows: list, kinds: list[str], problems: Mapping, task: Task, correct_only: bool,
              splits: Mapping[str, str]) -> tuple[dict[str, DatasetDict], dict[str, dict[str, int]]]:
    """`sft/<kind>` of every kind, and the rows each left out as not one well-formed trace."""
    datasets: dict[str, DatasetDict] = {}
    dropped: dict[str, Counter] = {}
    for kind in kinds:
        dropped[f"sft/{kind}"] = Counter()
        datasets[f"sft/{kind}"] = build_sft([r for r in rows if r["kind"] == kind], problems, task,
                                            correct_only=correct_only, dropped=dropped[f"sft/{kind}"], splits=splits)
    return datasets, {config_name(rel): dict(c) for rel, c in dropped.items() if c}


def _write_card_and_marker(tmp: Path, summary: Mapping[str, Any], placeholder: Any) -> None:
    """The dataset card (README.md) and export.json (the summary) into the export's temporary folder."""
    card = render_card(configs=summary["configs"], paths=summary["paths"], stats_table=summary["stats_table"],
                       run_config=summary["run_config"], task_name=summary["task"], label_notes=summary["label_notes"],
                       layout="disk", dropped=summary["dropped"], prm_placeholder=placeholder,
                       provenance=provenance_section(summary["provenance"]))
    (tmp / "README.md").write_text(card, encoding="utf-8")
    (tmp / MARKER).write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")


def write_export(
    rows: list[Mapping[str, Any]],
    graphs: Mapping[int, StoredTree | nx.DiGraph],
    out_dir: str | Path,
    task: Task,
    cfg: Mapping[str, Any] | None = None,
    kinds: Iterable[str] | None = None,
    count_tokens: Callable[[str], int] | None = None,
    token_unit: str | None = None,
    rl_problems: Iterable[Problem | Mapping[str, Any]] | None = None,
    *,
    settings: ExportSettings | None = None,
    verl_reward: VerlReward | None = None,
    prm_tokenizer: PrmTokenizer | None = None,
    publishing: PublishInputs | None = None,
    judged: Mapping[int, bool | None] | None = None,
) -> dict[str, Any]:
    """Write every configuration, the stats PNG and the dataset card to `out_dir`, atomically.

    `rows` are trajectory rows, `graphs` the stored trees they came from by tree id (StoredTree or
    its graph). `settings` are the export's options (`test_fraction`, `seed`, `correct_only`,
    `preference_margin`); without them they come from `cfg["export"]` (ExportSettings.from_run_config).
    `cfg` is the resolved run config, recorded in the card. `count_tokens` measures lengths (default:
    whitespace words). Returns a summary: `out_dir`, `configs` ({name: {split: rows}}), `stats_table`,
    `stats_png`, `dropped` ({configuration: {why: rows}}: trajectories that were not one well-formed
    trace, left out). With `rl_problems` (the run's training problems), also the `rl` configuration
    and verl's Parquet files with their reward module (traces/rl_prompts.py), scoring with
    `verl_reward` (without it, the reward `cfg["rl"]` names: VerlReward.from_run_config).
    `prm_tokenizer` is the tokenizer `prm_openrlhf`'s placeholder is checked with (without it,
    `export.prm_model`'s or the policy's in `cfg`: traces/prm_placeholder.py); the summary's
    `prm_placeholder` is the placeholder chosen (`text`, `vocab_id`, `checked_with`). `judged` (node id ->
    the judge's label, None where unparsed) feeds `export.label_source=judge`/`consensus`. `publishing`:
    what to decontaminate against, the load's duplicates and the cost (traces/export_publishing.py)."""
    out_dir = Path(out_dir)
    run_config = _plain(cfg) or {}
    opts = settings if settings is not None else ExportSettings.from_run_config(run_config)
    publish = publishing if publishing is not None else PublishInputs()
    kinds = sorted(set(kinds) if kinds is not None else {r["kind"] for r in rows})
    rows = [r for r in rows if r["kind"] in kinds]
    trees = {tree_id: StoredTree.of(g) for tree_id, g in graphs.items()}
    problems = {tree_id: problem_of(tree) for tree_id, tree in trees.items()}
    # One split for every configuration: a test problem must not leak into any train split.
    split_args = {"splits": split_problems(problems.values(), opts.test_fraction, opts.seed)}
    # Left out before anything is built: contaminated problems (trees and RL set), repeated trajectories.
    kept = publishable(task, trees, problems, rows, split_args["splits"], rl_problems, publish, opts)
    trees, problems, rows, rl_list, rl_splits = kept.trees, kept.problems, kept.rows, kept.rl_list, kept.rl_splits

    datasets, dropped_rows = _sft_sets(rows, kinds, problems, task, opts.correct_only, split_args["splits"])
    datasets["stepwise"] = build_stepwise(trees, task, **split_args, label_source=opts.label_source, judged=judged)
    prm_tokenizer = prm_tokenizer if prm_tokenizer is not None else load_prm_tokenizer(opts.prm_model, run_config.get("policy"))
    prm_sets, placeholder = prm_formats(datasets["stepwise"], task.name, opts.prm_placeholder, prm_tokenizer)
    datasets.update(prm_sets)  # Math-Shepherd's and OpenRLHF's PRM formats
    datasets["preference"] = build_preference(trees, task, margin=opts.preference_margin, **split_args)
    if rl_list is not None:
        datasets["rl"] = build_rl_prompts(rl_list, task, rl_splits)
    accepted = {kind: sum(len(part) for part in datasets[f"sft/{kind}"].values()) for kind in kinds}
    facts = provenance_facts(task, run_config, trees.values(), kept, publish, accepted, opts.label_source)
    unit = token_unit or ("tokens" if count_tokens else "words")
    exported_rows = drop_malformed([r for r in rows if r.get("is_correct") or not opts.correct_only], task)
    stats = trajectory_stats(exported_rows, count_tokens)
    table = format_stats_table(stats, unit)

    with export_dir(out_dir) as tmp:
        for relative, dataset in datasets.items():
            # datasets writes an empty split as zero shards, which load_from_disk then rejects.
            empty = {split: 1 for split, part in dataset.items() if len(part) == 0}
            dataset.save_to_disk(str(tmp / relative), num_shards=empty or None)
        plot_histograms(stats, tmp / "stats.png", unit)
        if "rl" in datasets:
            reward = verl_reward if verl_reward is not None else VerlReward.from_run_config(run_config)
            _write_verl(tmp / VERL_DIR, datasets["rl"], task, run_config, reward)
        configs = {config_name(rel): {s: len(d) for s, d in dd.items()} for rel, dd in datasets.items()}
        paths = {config_name(rel): rel for rel in datasets}
        summary = {"configs": configs, "paths": paths, "task": task.name, "label_notes": task.label_notes,
                   "unit": unit, "dropped": dropped_rows, "prm_placeholder": asdict(placeholder) if placeholder else None,
                   "stats_table": table, "provenance": facts, "run_config": run_config}
        _write_card_and_marker(tmp, summary, placeholder)
    return {"out_dir": out_dir, "configs": configs, "stats_table": table, "stats_png": out_dir / "stats.png",
            "dropped": dropped_rows, "prm_placeholder": summary["prm_placeholder"], "provenance": facts,
            "contamination_rows": kept.contamination.rows()}


def export_run(
    store: Any,
    linearize_run_id: int,
    kinds: Iterable[str] | None,
    out_dir: str | Path,
    task: Task,
    cfg: Mapping[str, Any] | None = None,
    count_tokens: Callable[[str], int] | None = None,
    rl_problems: Iterable[Problem | Mapping[str, Any]] | None = None,
    *,
    settings: ExportSettings | None = None,
    verl_reward: VerlReward | None = None,
    prm_tokenizer: PrmTokenizer | None = None,
    benchmarks: list[Reference] | None = None,
) -> dict[str, Any]:
    """Export one linearize run of a `TraceStore`: its trajectories of `kinds` (None: all) and
    the trees they came from; then push to the Hub when the settings' `push_to_hub` names a repo.

    `settings`, `verl_reward`, `prm_tokenizer` and `cfg` as in `write_export`; `benchmarks` are the
    benchmark problems to decontaminate against (None: read from the settings' files here). Returns its summary (plus `pushed_to` when pushed).
    """
    rows: list[dict] = []
    for kind in (sorted(set(kinds)) if kinds is not None else [None]):
        rows.extend(store.trajectories(run_id=linearize_run_id, kind=kind))
    if not rows:
        raise ValueError(f"linearize run {linearize_run_id} has no trajectories of kinds {kinds!r} to export")
    opts = settings if settings is not None else ExportSettings.from_run_config(_plain(cfg))
    name = next((r["name"] for r in store.runs() if r["id"] == linearize_run_id), "")
    tree_ids = {r["tree_id"] for r in rows}
    if opts.step_trees == "all":  # the explore run's every finished tree, for the step rows
        explore = store.get_run(name, "explore")
        tree_ids |= {t["id"] for t in store.trees(explore["id"], status="done")} if explore else set()
    trees = load_trees(store, sorted(tree_ids))
    if benchmarks is None:   # the stage reads them before it starts its run (a bad file writes nothing)
        benchmarks = benchmark_references(task, opts.decontaminate_benchmarks, opts.decontaminate_against)
    publishing = store_inputs(store, task, linearize_run_id, benchmarks)
    judged = stored_judge_labels(store, name, opts.label_source)   # export.label_source=judge / consensus
    summary = write_export(rows, trees, out_dir, task, cfg, kinds, count_tokens, rl_problems=rl_problems,
                           settings=opts, verl_reward=verl_reward, prm_tokenizer=prm_tokenizer,
                           publishing=publishing, judged=judged)
    if opts.push_to_hub:
        push_to_hub(out_dir, opts.push_to_hub)
        summary["pushed_to"] = opts.push_to_hub
    return summary


# The row builders' and writers' names, importable from here as before the export was split.
__all__ = ["MARKER", "as_problem", "build_preference", "build_sft", "build_stepwise", "export_run", "push_to_hub",
           "split_problems", "write_export"]
