"""Export stored trajectories and trees as Hugging Face datasets that TRL consumes as-is.

Configurations (one `DatasetDict` each, train/test split by problem):
- `sft/<kind>/`: `messages` (chat) or `prompt`/`completion` (standard) SFT rows, one per
  trajectory, with provenance columns; a trajectory that is not one well-formed trace (one
  reasoning frame, then one final answer: traces/frames.py) is left out and counted;
- `stepwise/`: TRL's stepwise-supervision format, one row per root-to-leaf path of a tree;
- `preference/`: TRL's preference format, a correct step against a sibling mistake.

The core builders take plain rows, problem dicts and graphs; `export_run` reads them from a
`TraceStore` and writes the directory (with the dataset card) atomically.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import networkx as nx
from datasets import Dataset, DatasetDict, Features, List, Value, load_from_disk

from search.tasks.base import MISTAKE_LABELS, SOLUTION, VALID, Problem, Task
from traces.card import render_card
from traces.frames import frame_problem
from traces.prm_formats import prm_formats
from traces.rl_prompts import VERL_DIR, build_rl_prompts, write_verl
from traces.stats import format_stats_table, plot_histograms, trajectory_stats

SFT_FEATURES = Features(
    {
        "messages": List({"role": Value("string"), "content": Value("string")}),
        "prompt": Value("string"),
        "completion": Value("string"),
        "kind": Value("string"),
        "tree_id": Value("int64"),
        "problem": Value("string"),
        "answer": Value("string"),
        "n_steps": Value("int32"),
        "n_backtracks": Value("int32"),
        "is_correct": Value("bool"),
        # Character spans of `completion` that are mistaken steps, reflections or checks (journeys):
        # what `train.mask_mistakes` / `train.mask_reflections` take out of the loss.
        "spans": List({"role": Value("string"), "start": Value("int32"), "end": Value("int32")}),
    }
)
# TRL's stepwise-supervision format: prompt: str, completions: list[str], labels: list[bool].
STEPWISE_FEATURES = Features(
    {
        "prompt": Value("string"),
        "completions": List(Value("string")),
        "labels": List(Value("bool")),
        "values": List(Value("float64")),
        "tree_id": Value("int64"),
        "problem": Value("string"),
    }
)
PREFERENCE_FEATURES = Features(
    {
        "prompt": Value("string"),
        "chosen": Value("string"),
        "rejected": Value("string"),
        "rejected_label": Value("string"),
        "chosen_value": Value("float64"),
        "rejected_value": Value("float64"),
        "rejected_reason": Value("string"),
        "tree_id": Value("int64"),
        "problem": Value("string"),
    }
)
MARKER = "export.json"  # written last into every export directory; marks it as ours to replace


# ---------------------------------------------------------------------------------------- splits


def as_problem(problem: Problem | Mapping[str, Any], where: str = "problem") -> Problem:
    """A `Problem` from a store problem dict (`key`, `payload`, ...); errors name `where`."""
    if isinstance(problem, Problem):
        return problem
    for field in ("key", "payload"):
        if field not in problem or problem[field] is None:
            raise ValueError(f"{where} has no {field!r} field (got fields {sorted(problem)})")
    return Problem.from_row({**problem, "key": str(problem["key"]), "payload": dict(problem["payload"])})


def _unit_hash(key: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).hexdigest()
    return int(digest[:16], 16) / 16**16


def split_problems(problems: Iterable[Problem], test_fraction: float, seed: int) -> dict[str, str]:
    """Map each problem key to "train" or "test", by a seeded hash of the key.

    Hashing (rather than shuffling) keeps a problem's split stable when problems are added, so
    every configuration and every re-export agrees. Problems stored as held out (`split="test"`)
    always go to test. With `test_fraction > 0` and at least two problems, both splits get at
    least one problem, so a tiny run still has something to evaluate on.
    """
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"export.test_fraction must be in [0, 1), got {test_fraction!r}")
    by_key = {p.key: p for p in problems}
    hashes = {k: _unit_hash(k, seed) for k in by_key}
    split = {
        k: "test" if (p.split == "test" or hashes[k] < test_fraction) else "train"
        for k, p in by_key.items()
    }
    if test_fraction > 0 and len(split) >= 2:
        if "test" not in split.values():
            split[min(split, key=hashes.__getitem__)] = "test"
        if "train" not in split.values():
            movable = [k for k in split if by_key[k].split != "test"]
            if movable:
                split[max(movable, key=hashes.__getitem__)] = "train"
    return split


def _dataset_dict(rows: list[dict], splits: Mapping[str, str], features: Features) -> DatasetDict:
    """train/test `DatasetDict` from rows carrying a `problem` key; both splits always present."""
    parts: dict[str, list[dict]] = {"train": [], "test": []}
    for row in rows:
        if row["problem"] not in splits:
            raise KeyError(f"problem {row['problem']!r} (tree {row['tree_id']}) has no train/test split assigned")
        parts[splits[row["problem"]]].append(row)
    # Column-wise construction: `Dataset.from_list([])` loses the schema of an empty split.
    return DatasetDict(
        {
            name: Dataset.from_dict({col: [r[col] for r in part] for col in features}, features=features)
            for name, part in parts.items()
        }
    )


# ------------------------------------------------------------------------------------------- SFT


def row_frame_problem(row: Mapping[str, Any], task: Task) -> str | None:
    """Why a trajectory row may not be exported (`frame_problem` of its text, then of its assistant
    message when that differs), or None."""
    problem = frame_problem(task, row.get("text"), row.get("answer"))
    messages = row.get("messages") or []
    content = messages[-1].get("content") if messages else None
    if problem is None and content is not None and content != row.get("text"):
        problem = frame_problem(task, content, row.get("answer"))
    return problem


def drop_malformed(rows: Iterable[Mapping[str, Any]], task: Task,
                   dropped: Counter | None = None) -> list[Mapping[str, Any]]:
    """The rows that are one well-formed trace each; the others are counted in `dropped` by
    category (`frame_problem`'s), never written."""
    kept = []
    for row in rows:
        problem = row_frame_problem(row, task)
        if problem is None:
            kept.append(row)
        elif dropped is not None:
            dropped[problem.split(":", 1)[0]] += 1
    return kept


def build_sft(
    rows: Iterable[Mapping[str, Any]],
    problems: Mapping[int, Problem | Mapping[str, Any]],
    task: Task,
    test_fraction: float = 0.1,
    seed: int = 0,
    correct_only: bool = True,
    splits: Mapping[str, str] | None = None,
    dropped: Counter | None = None,
) -> DatasetDict:
    """SFT rows from trajectory rows; `problems` maps each row's `tree_id` to its problem.

    Columns: `messages` (user instructions + assistant trace), `prompt` (`task.question`) and
    `completion` (the trace), so `select_columns(["messages"])` or
    `select_columns(["prompt", "completion"])` goes straight into `trl.SFTTrainer`; plus
    provenance `kind, tree_id, problem, answer, n_steps, n_backtracks, is_correct`, and `spans`
    (the completion's mistake / reflection / check character spans, empty for shortcuts).
    `correct_only` drops trajectories whose final answer failed the verifier. `splits` (problem
    key -> "train"/"test", from `split_problems`) overrides the split computed from these rows.
    A row whose text is not one well-formed trace (`row_frame_problem`) is left out, counted by
    category in `dropped`.
    """
    out: list[dict] = []
    resolved: dict[int, Problem] = {}
    for row in sorted(rows, key=lambda r: (r["kind"], r["tree_id"], r.get("idx") or 0)):
        tree_id = row["tree_id"]
        where = f"trajectory {row.get('id')} (tree {tree_id}, kind {row['kind']!r})"
        if tree_id not in problems:
            raise KeyError(f"{where}: no problem given for tree {tree_id}")
        if tree_id not in resolved:
            resolved[tree_id] = as_problem(problems[tree_id], f"problem of tree {tree_id}")
        if correct_only and not row.get("is_correct"):
            continue
        if not row.get("text"):
            raise ValueError(f"{where} has an empty 'text'")
        if not drop_malformed([row], task, dropped):
            continue
        problem = resolved[tree_id]
        messages = row.get("messages") or [
            {"role": "user", "content": task.instructions(problem)},
            {"role": "assistant", "content": row["text"]},
        ]
        if messages[-1].get("role") != "assistant":
            raise ValueError(f"{where}: 'messages' must end with the assistant turn")
        out.append(
            {
                "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
                "prompt": task.question(problem),
                "completion": row["text"],
                "kind": row["kind"],
                "tree_id": tree_id,
                "problem": problem.key,
                "answer": row.get("answer"),
                "n_steps": row.get("n_steps") or 0,
                "n_backtracks": row.get("n_backtracks") or 0,
                "is_correct": bool(row.get("is_correct")),
                "spans": [{"role": sp["role"], "start": sp["start"], "end": sp["end"]}
                          for sp in row.get("spans") or []],
            }
        )
    splits = splits or split_problems(resolved.values(), test_fraction, seed)
    return _dataset_dict(out, splits, SFT_FEATURES)


# ------------------------------------------------------------------------------- graph helpers


def _graph_problem(tree_id: int, graph: nx.DiGraph) -> Problem:
    if "root" not in graph.graph or "problem" not in graph.graph:
        raise ValueError(f"graph of tree {tree_id} needs graph['root'] and graph['problem']")
    return as_problem(graph.graph["problem"], f"graph['problem'] of tree {tree_id}")


def _children(graph: nx.DiGraph, node: Any) -> list[Any]:
    # Creation order (`seq`) is the search's visit order: deterministic exports.
    return sorted(graph.successors(node), key=lambda n: graph.nodes[n].get("seq", 0))


def _root_paths(graph: nx.DiGraph, root: Any) -> list[list[Any]]:
    """Every root-to-leaf path (root excluded), leaves in visit order."""
    paths, stack = [], [(root, [])]
    while stack:
        node, path = stack.pop()
        kids = _children(graph, node)
        if not kids and path:
            paths.append(path)
        stack.extend((kid, path + [kid]) for kid in reversed(kids))
    return paths


def _prompt_with_steps(question: str, steps: list[str], delimiter: str = "\n") -> str:
    sep = "" if question.endswith("\n") or not question else "\n"
    return question + sep + "".join(f"{s}{delimiter}" for s in steps)


def step_value(attrs: Mapping[str, Any]) -> float:
    """A step's value for labels and pairs: its Monte-Carlo value (soft) where rollouts gave one,
    else 1.0 for a legal step on the way (valid / solution) and 0.0 for a mistake."""
    if attrs.get("mc_value") is not None:
        return float(attrs["mc_value"])
    return 1.0 if attrs.get("label") in (VALID, SOLUTION) else 0.0


def _graph_splits(graphs: Mapping[int, nx.DiGraph], test_fraction: float, seed: int) -> dict[str, str]:
    return split_problems([_graph_problem(t, g) for t, g in graphs.items()], test_fraction, seed)


# ------------------------------------------------------------------------------------ stepwise


def build_stepwise(
    graphs: Mapping[int, nx.DiGraph],
    task: Task,
    test_fraction: float = 0.1,
    seed: int = 0,
    splits: Mapping[str, str] | None = None,
) -> DatasetDict:
    """TRL stepwise supervision: one row per distinct root-to-leaf path of each tree.

    `prompt` is `task.question`, `completions` the step lines along the path, `labels` one bool
    per step: True for `valid`/`solution` steps, False for mistakes (`invalid`, `dead_end`,
    `wrong_answer`); with Monte-Carlo values that is the hard estimate (some rollout reached the
    answer, Math-Shepherd), and `values` keeps the soft one (`step_value`).
    Paths whose prompt and steps repeat another's (merged samples in different trees of the same
    problem) are kept once.
    """
    rows, seen = [], set()
    for tree_id in sorted(graphs):
        graph = graphs[tree_id]
        problem = _graph_problem(tree_id, graph)
        prompt = task.question(problem)
        for path in _root_paths(graph, graph.graph["root"]):
            steps = [task.quote(graph.nodes[n].get("text")) for n in path]
            labels = [graph.nodes[n].get("label") in (VALID, SOLUTION) for n in path]
            values = [step_value(graph.nodes[n]) for n in path]
            signature = (prompt, tuple(steps))
            if signature in seen:
                continue
            seen.add(signature)
            rows.append({"prompt": prompt, "completions": steps, "labels": labels, "values": values,
                         "tree_id": tree_id, "problem": problem.key})
    return _dataset_dict(rows, splits or _graph_splits(graphs, test_fraction, seed), STEPWISE_FEATURES)


# ---------------------------------------------------------------------------------- preference


def build_preference(
    graphs: Mapping[int, nx.DiGraph],
    task: Task,
    test_fraction: float = 0.1,
    seed: int = 0,
    splits: Mapping[str, str] | None = None,
    margin: float = 0.5,
) -> DatasetDict:
    """TRL preference pairs between sibling steps: a step on a solution path (`chosen`) against a
    sibling mistake (`rejected`, label `invalid`, `dead_end` or `wrong_answer`); and, where the
    steps carry Monte-Carlo values, any two siblings whose values differ by at least `margin`
    (rStar-Math's step pairs use 0.5), the higher one chosen.

    `prompt` is `task.question` followed by the shared prefix of steps, each followed by the task's
    step delimiter, so `prompt + chosen` and `prompt + rejected` are the text the policy continued.
    Identical (prompt, chosen, rejected) triples are kept once.
    """
    rows, seen = [], set()
    for tree_id in sorted(graphs):
        graph = graphs[tree_id]
        problem = _graph_problem(tree_id, graph)
        root = graph.graph["root"]
        solutions = [n for n, d in graph.nodes(data=True) if d.get("label") == SOLUTION]
        on_solution_path = set(solutions).union(*(nx.ancestors(graph, s) for s in solutions))
        question = task.question(problem)
        valued = any(d.get("mc_value") is not None for _, d in graph.nodes(data=True))
        parents = on_solution_path | ({n for n in graph if graph.out_degree(n) > 1} if valued else set())
        for parent in sorted(parents, key=lambda n: graph.nodes[n].get("seq", 0)):
            kids = _children(graph, parent)
            pairs = [(g, b) for g in kids if g in on_solution_path
                     for b in kids if graph.nodes[b].get("label") in MISTAKE_LABELS]
            if valued:
                pairs += [(g, b) for g in kids for b in kids
                          if step_value(graph.nodes[g]) - step_value(graph.nodes[b]) >= margin
                          and (g, b) not in pairs]
            if not pairs:
                continue
            prefix = nx.shortest_path(graph, root, parent)[1:]
            prompt = _prompt_with_steps(question, [task.quote(graph.nodes[n].get("text")) for n in prefix],
                                        task.step_delimiter)
            for g, b in pairs:
                chosen, rejected = task.quote(graph.nodes[g].get("text")), task.quote(graph.nodes[b].get("text"))
                if (prompt, chosen, rejected) in seen or chosen == rejected or not chosen or not rejected:
                    continue
                seen.add((prompt, chosen, rejected))
                rows.append(
                    {
                        "prompt": prompt,
                        "chosen": chosen,
                        "rejected": rejected,
                        "rejected_label": graph.nodes[b].get("label"),
                        "rejected_reason": graph.nodes[b].get("reason"),
                        "chosen_value": step_value(graph.nodes[g]),
                        "rejected_value": step_value(graph.nodes[b]),
                        "tree_id": tree_id,
                        "problem": problem.key,
                    }
                )
    return _dataset_dict(rows, splits or _graph_splits(graphs, test_fraction, seed), PREFERENCE_FEATURES)


# -------------------------------------------------------------------------------------- writing


def config_name(relative: str) -> str:
    """Hub configuration name of an export subdirectory: `sft/journey` -> `sft_journey`."""
    return relative.strip("/").replace("/", "_")


def _export_options(cfg: Mapping[str, Any] | None) -> dict[str, Any]:
    """`cfg.export` when `cfg` is a whole run config, else `cfg` itself, as a plain dict."""
    plain = _plain(cfg) or {}
    options = plain["export"] if isinstance(plain.get("export"), dict) else plain
    return {
        "test_fraction": float(options.get("test_fraction", 0.1)),
        "seed": int(options.get("seed", plain.get("seed", 0)) or 0),
        "correct_only": bool(options.get("correct_only", True)),
        "push_to_hub": options.get("push_to_hub") or None,
        "preference_margin": float(options.get("preference_margin", 0.5)),
    }


def _plain(cfg: Any) -> Any:
    """A Hydra/OmegaConf config as plain containers (resolved), anything else unchanged."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf
    except ImportError:  # pragma: no cover - hydra-core is a dependency
        return cfg
    if isinstance(cfg, (DictConfig, ListConfig)):
        return OmegaConf.to_container(cfg, resolve=True)
    return cfg


def _prepare_out_dir(out_dir: Path) -> None:
    # Only ever replace a directory a previous export wrote: a typo in out_dir must not delete data.
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / MARKER).exists():
        raise FileExistsError(
            f"export directory {out_dir} exists, is not empty and holds no {MARKER}: "
            "refusing to replace it; choose another export.dir or remove it yourself"
        )


def _swap_in(tmp: Path, out_dir: Path) -> None:
    """Replace `out_dir` by the finished `tmp` with renames, so readers never see a half export."""
    old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
    if out_dir.exists():
        out_dir.rename(old)
    tmp.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)


def write_export(
    rows: list[Mapping[str, Any]],
    graphs: Mapping[int, nx.DiGraph],
    out_dir: str | Path,
    task: Task,
    cfg: Mapping[str, Any] | None = None,
    kinds: Iterable[str] | None = None,
    count_tokens: Callable[[str], int] | None = None,
    token_unit: str | None = None,
    rl_problems: Iterable[Problem | Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Write every configuration, the stats PNG and the dataset card to `out_dir`, atomically.

    `rows` are trajectory rows, `graphs` the trees they came from by tree id (each with
    `graph["problem"]`). `cfg` is the resolved run config (export options read from
    `cfg.export`: `test_fraction`, `seed`, `correct_only`); `count_tokens` measures lengths
    (default: whitespace words). Returns a summary: `out_dir`, `configs` ({name: {split: rows}}),
    `stats_table`, `stats_png`, `dropped` ({configuration: {why: rows}}: trajectories that were not
    one well-formed trace, left out). With `rl_problems` (the run's training problems), also the `rl`
    configuration and verl's Parquet files with their reward module (traces/rl_prompts.py).
    """
    out_dir = Path(out_dir)
    opts = _export_options(cfg)
    kinds = sorted(set(kinds) if kinds is not None else {r["kind"] for r in rows})
    rows = [r for r in rows if r["kind"] in kinds]
    problems = {tree_id: _graph_problem(tree_id, g) for tree_id, g in graphs.items()}
    # One split for every configuration: a test problem must not leak into any train split.
    split_args = {"splits": split_problems(problems.values(), opts["test_fraction"], opts["seed"])}

    datasets: dict[str, DatasetDict] = {}
    dropped: dict[str, Counter] = {}
    for kind in kinds:
        kind_rows = [r for r in rows if r["kind"] == kind]
        dropped[f"sft/{kind}"] = Counter()
        datasets[f"sft/{kind}"] = build_sft(kind_rows, problems, task, correct_only=opts["correct_only"],
                                            dropped=dropped[f"sft/{kind}"], **split_args)
    dropped_rows = {config_name(rel): dict(c) for rel, c in dropped.items() if c}
    datasets["stepwise"] = build_stepwise(graphs, task, **split_args)
    datasets.update(prm_formats(datasets["stepwise"]))  # Math-Shepherd's and OpenRLHF's PRM formats
    datasets["preference"] = build_preference(graphs, task, margin=opts["preference_margin"], **split_args)
    if rl_problems is not None:  # every training problem, solved or not; SFT's split where it has one
        rl_list = [as_problem(p, "RL problem") for p in rl_problems]
        rl_splits = {**split_problems(rl_list, opts["test_fraction"], opts["seed"]), **split_args["splits"]}
        datasets["rl"] = build_rl_prompts(rl_list, task, rl_splits)

    unit = token_unit or ("tokens" if count_tokens else "words")
    exported_rows = drop_malformed([r for r in rows if r.get("is_correct") or not opts["correct_only"]], task)
    stats = trajectory_stats(exported_rows, count_tokens)
    table = format_stats_table(stats, unit)

    _prepare_out_dir(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        for relative, dataset in datasets.items():
            # datasets writes an empty split as zero shards, which load_from_disk then rejects.
            empty = {split: 1 for split, part in dataset.items() if len(part) == 0}
            dataset.save_to_disk(str(tmp / relative), num_shards=empty or None)
        plot_histograms(stats, tmp / "stats.png", unit)
        if "rl" in datasets:
            plain = _plain(cfg) or {}
            rl_opts = plain.get("rl") if isinstance(plain.get("rl"), dict) else {}
            write_verl(tmp / VERL_DIR, datasets["rl"], task, plain.get("task") or {"name": task.name},
                       rl_opts.get("reward", "sum"), rl_opts.get("format_weight", 0.1))
        configs = {config_name(rel): {s: len(d) for s, d in dd.items()} for rel, dd in datasets.items()}
        paths = {config_name(rel): rel for rel in datasets}
        card = render_card(
            configs=configs,
            paths=paths,
            stats_table=table,
            run_config=_plain(cfg) or {},
            task_name=task.name,
            label_notes=task.label_notes,
            layout="disk",
            dropped=dropped_rows,
        )
        (tmp / "README.md").write_text(card, encoding="utf-8")
        summary = {"configs": configs, "paths": paths, "task": task.name, "label_notes": task.label_notes,
                   "unit": unit, "dropped": dropped_rows,
                   "stats_table": table, "run_config": _plain(cfg) or {}}
        (tmp / MARKER).write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
        _swap_in(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"out_dir": out_dir, "configs": configs, "stats_table": table, "stats_png": out_dir / "stats.png",
            "dropped": dropped_rows}


def export_run(
    store: Any,
    linearize_run_id: int,
    kinds: Iterable[str] | None,
    out_dir: str | Path,
    task: Task,
    cfg: Mapping[str, Any] | None = None,
    count_tokens: Callable[[str], int] | None = None,
    rl_problems: Iterable[Problem | Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Export one linearize run of a `TraceStore`: its trajectories of `kinds` (None: all) and
    the trees they came from; then push to the Hub when `export.push_to_hub` names a repo.

    Returns `write_export`'s summary (plus `pushed_to` when pushed).
    """
    rows: list[dict] = []
    for kind in (sorted(set(kinds)) if kinds is not None else [None]):
        rows.extend(store.trajectories(run_id=linearize_run_id, kind=kind))
    if not rows:
        raise ValueError(f"linearize run {linearize_run_id} has no trajectories of kinds {kinds!r} to export")
    graphs = store.tree_graphs(sorted({r["tree_id"] for r in rows}))
    summary = write_export(rows, graphs, out_dir, task, cfg, kinds, count_tokens, rl_problems=rl_problems)
    repo = _export_options(cfg)["push_to_hub"]
    if repo:
        push_to_hub(out_dir, repo)
        summary["pushed_to"] = repo
    return summary


# ------------------------------------------------------------------------------------------ hub


def push_to_hub(out_dir: str | Path, repo: str, token: str | None = None, private: bool | None = None) -> None:
    """Upload an export directory to the Hub dataset repo `repo`: each configuration with
    `DatasetDict.push_to_hub(repo, config_name=...)`, then the card (rewritten for Hub paths).

    Fails with a message naming `repo` when the Hub cannot be reached or offline mode is on.
    """
    import huggingface_hub
    out_dir = Path(out_dir)
    marker = out_dir / MARKER
    if not marker.exists():
        raise FileNotFoundError(f"{out_dir} is not a journeyforge export (no {MARKER}); run the export stage first")
    summary = json.loads(marker.read_text(encoding="utf-8"))
    if huggingface_hub.constants.HF_HUB_OFFLINE:
        raise ConnectionError(
            f"cannot push the export to Hub repo {repo!r}: Hugging Face offline mode is on "
            "(HF_HUB_OFFLINE=1); unset it on a machine with network access and log in with `hf auth login`"
        )
    try:
        for name, relative in summary["paths"].items():
            load_from_disk(str(out_dir / relative)).push_to_hub(
                repo, config_name=name, token=token, private=private, commit_message=f"journeyforge export: {name}"
            )
        card = render_card(
            configs=summary["configs"],
            paths=summary["paths"],
            stats_table=summary["stats_table"],
            run_config=summary["run_config"],
            task_name=summary["task"],
            label_notes=summary.get("label_notes", ""),
            layout="hub",
            dropped=summary.get("dropped"),
        )
        api = huggingface_hub.HfApi(token=token)
        api.upload_file(path_or_fileobj=card.encode(), path_in_repo="README.md", repo_id=repo, repo_type="dataset")
        api.upload_file(path_or_fileobj=str(out_dir / "stats.png"), path_in_repo="stats.png", repo_id=repo,
                        repo_type="dataset")
    except Exception as exc:
        # The hub client raises its HTTP library's errors (not OSError) for an unreachable host, and
        # HfHubHTTPError for refused pushes: whichever it is, say which repo and what to check.
        raise RuntimeError(
            f"pushing the export in {out_dir} to Hub repo {repo!r} failed: {exc}. "
            "Check network access, the repo name and your token (`hf auth login`)."
        ) from exc
