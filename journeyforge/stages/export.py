"""export: trajectories of the linearize run -> Hugging Face datasets on disk + dataset card."""
from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from journeyforge.components import build_task, store_of
from journeyforge.folders import folder_problem
from journeyforge.run_config import config_dict
from journeyforge.stages.export_summary import print_publishing
from journeyforge.stages.common import StageError, check_task, check_trees_task, require_run, start_run
from journeyforge.stages.run_parts import RunParts
from journeyforge.tokens import token_counter
from traces.export import export_run
from traces.export_checks import benchmark_references
from traces.export_dir import MARKER
from traces.export_settings import VerlReward
from traces.label_sources import stored_judge_labels
from traces.prm_placeholder import PlaceholderError, check_tokens, load_prm_tokenizer
from training.rl_settings import RLSettings


def rl_problems(store, cfg: DictConfig) -> list[dict]:
    """The problems of the explore run's trees (training problems, solved or not): the RL prompt set."""
    explore = store.get_run(cfg.name, "explore")
    if explore is None:
        return []
    check_task(explore, cfg)
    trees = store.trees(explore["id"])
    check_trees_task(explore, trees, cfg.task.get("dataset"))
    return [tree["problem"] for tree in trees]


def verl_reward(rl: RLSettings | None) -> VerlReward:
    """The reward verl's reward module scores with: the rl stage's (`rl.reward`, `rl.format_weight`),
    its defaults for a config without an `rl` group (`rl` None)."""
    rl = rl or RLSettings()
    return VerlReward(scheme=rl.reward, format_weight=rl.format_weight)


def check_export_dir(path: str) -> None:
    """StageError when export.dir cannot take this export: a file, a folder that is not writable, or a
    non-empty folder that no export wrote (the export replaces its folder, and must not delete data)."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise StageError(f"export.dir={path} is a file, not a folder; choose another export.dir")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise StageError(f"export.dir={path} exists, is not empty and holds no {MARKER} (no export wrote it): "
                         "refusing to replace it; choose another export.dir or remove the folder yourself")
    problem = folder_problem(path, "export.dir")
    if problem:
        raise StageError(problem)


def run(cfg: DictConfig) -> dict:
    """Export the trajectories of linearize run `cfg.name`, every setting checked first (`run_with`)."""
    return run_with(RunParts.of(cfg))


def run_with(parts: RunParts) -> dict:
    """The trajectories of linearize run `parts.name` -> datasets in `parts.export.dir`, with their card."""
    import datasets

    cfg, options = parts.cfg, parts.export
    datasets.disable_progress_bars()  # one line per configuration below says what was written
    store = store_of(parts.store)
    task = build_task(cfg)
    problems = rl_problems(store, cfg)  # checks the explore run's task first: the root of a mix-up
    lin = require_run(store, cfg.name, "linearize", f"run `journeyforge linearize name={cfg.name}` first")
    check_export_dir(options.dir)  # and the folder: a bad one writes nothing
    try:  # and prm_openrlhf's tokenizer and placeholder (traces/prm_placeholder.py); the rows are checked below
        prm_tokenizer = load_prm_tokenizer(options.prm_model, config_dict(cfg).get("policy"))
        check_tokens(options.prm_placeholder, prm_tokenizer)
    except PlaceholderError as err:
        raise StageError(str(err)) from None
    try:  # and the benchmark files to decontaminate against, read whole: a bad one writes nothing
        benchmarks = benchmark_references(task, options.decontaminate_benchmarks, options.decontaminate_against)
    except ValueError as err:
        raise StageError(str(err)) from None
    try:  # and the judge's labels that export.label_source=judge / consensus reads
        stored_judge_labels(store, cfg.name, options.label_source)
    except ValueError as err:
        raise StageError(str(err)) from None
    run_id = start_run(store, cfg, "export")
    try:
        summary = export_run(store, lin["id"], list(parts.linearize.kinds), options.dir, task, config_dict(cfg),
                             count_tokens=token_counter(cfg), rl_problems=problems, settings=options,
                             verl_reward=verl_reward(parts.rl), prm_tokenizer=prm_tokenizer, benchmarks=benchmarks)
    except PlaceholderError as err:  # a question or step holds the requested placeholder: nothing was written
        raise StageError(str(err)) from None
    except OSError as err:  # a full disk: name export.dir, not the temporary folder it was written into
        if not err.strerror:
            raise
        kept = "the export already there is as it was" if (Path(options.dir) / MARKER).exists() else "nothing was written"
        raise StageError(f"export.dir={options.dir}: {err.strerror} while writing the export; {kept}: free space "
                         "or choose another export.dir, then run export again") from None
    configs = summary["configs"]
    dropped = summary.get("dropped") or {}
    facts = summary["provenance"]
    store.replace_contamination(run_id, summary["contamination_rows"])   # the contaminated_problems view
    store.finish_run(run_id, "done", {"dir": str(summary["out_dir"]), "configs": configs, "dropped": dropped,
                                      "contamination": {k: v for k, v in facts["contamination"].items() if k != "matches"},
                                      "repeated_trajectories": facts["repeated_trajectories"], "cost": facts["cost"]})
    print(f"[export] datasets in {summary['out_dir']}")
    for name, splits in configs.items():
        print(f"  {name:<20} " + ", ".join(f"{s}: {n}" for s, n in splits.items()))
    for name, why in dropped.items():  # not one well-formed trace (traces/frames.py): never written
        print(f"  {name:<20} left out: " + ", ".join(f"{n} {reason}" for reason, n in sorted(why.items())))
    print_publishing(facts)
    print(summary["stats_table"])
    print(f"[export] card {summary['out_dir']}/README.md, histogram {summary['stats_png']}")
    return {"run_id": run_id, "dir": str(summary["out_dir"]), "configs": configs, "dropped": dropped}
