"""Expert iteration in `journeyforge evolve` (`evolve.learn_from=samples|both`): round k's sampled answers,
stored as run `<name>/round-<k>` of stage `sample`, and the training set of a round that learns from more
than its own trees (its samples, its trees' trajectories and, with `evolve.data=accumulate`, every earlier
round's set), each example tagged with the round and the source it came from.

A sample run's rows are the `evals` / `eval_samples` rows eval writes, over training problems: one row per
problem (its first kept answer, `is_correct` when any answer was kept) and every sampled answer with
`is_correct` meaning "kept" (`evolve.keep`). So `SELECT ... FROM eval_samples` answers which answers a
round learned from, and a re-run reads them back instead of sampling again.
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

from journeyforge.components import policy_of
from journeyforge.evolve_settings import EvolveSettings
from journeyforge.stages.common import StageError, start_run
from journeyforge.stages.run_parts import RunParts
from journeyforge.stages.train import sft_settings
from search.tasks.base import Problem
from training.sft_settings import SFTSettings, TrainSettings
from training.expert_samples import distinct, eval_rows, sample_problems, sample_stats
from training.student import StudentError

SAMPLE_STAGE = "sample"
EXPERT_SET = "expert"   # <round-k>/datasets/expert/<kind>: the set a round trained on when it is not export's


def sample_round(store, rp: RunParts, ev: EvolveSettings, k: int, kind: str, style: str, keys: list[str],
                 task) -> dict:
    """Round k's sample run (`rp` holds round k's settings, whose policy is round k-1's model; answers are
    sampled as `eval` samples): sampled now, or read back when a run before this one finished it. Returns
    the run row."""
    run = store.get_run(rp.name, SAMPLE_STAGE)
    if run is not None and run["status"] == "done":
        print(f"[evolve] round {k}: its samples ({rp.name}) are stored; not sampled again")
        return run
    stored = {row["key"]: row for row in store.problems(dataset=task.dataset, split="train")}
    problems = [Problem.from_row(stored[key]) for key in keys if key in stored]
    sampling = rp.eval
    policy = policy_of(rp.policy, task)   # the model was opened and checked before the round began
    try:
        run_id = start_run(store, rp.cfg, SAMPLE_STAGE)
        answered = sample_problems(policy, task, problems, style, ev.samples, sampling, sampling.seed + k,
                                   keep=ev.keep, label=kind, model=str(rp.policy["model"]))
    except StudentError as err:
        raise StageError(str(err)) from None
    finally:
        policy.close()
    store.replace_evals(run_id, kind, eval_rows(answered, {key: row["id"] for key, row in stored.items()}))
    stats = sample_stats(answered, ev.samples, ev.keep, policy.stats.seconds)
    store.finish_run(run_id, "done", stats)
    print(f"[evolve] round {k}: {stats['samples']} answers sampled for {stats['problems']} training problems in "
          f"{stats['seconds']:.0f} s: {stats['verified']} verified, {stats['solved']} problems solved, "
          f"{stats['kept']} distinct answers kept")
    return store.get_run(rp.name, SAMPLE_STAGE)


def sampled_examples(store, run: dict, kind: str, task, k: int) -> list[dict]:
    """The kept answers of sample run `run` (round k) as training rows, each distinct answer once."""
    by_problem: dict[int, list[str]] = {}
    for sample in store.eval_samples(run["id"], kind):
        if sample["is_correct"]:
            by_problem.setdefault(sample["problem_id"], []).append(sample["prediction"])
    problems = {p["id"]: Problem.from_row(p) for p in store.problems(ids=list(by_problem))}
    return [example_row(task, problems[pid], text, k, "samples")
            for pid, texts in sorted(by_problem.items()) for text in distinct(texts)]


def example_row(task, problem: Problem, completion: str, k: int, source: str, spans=()) -> dict:
    """One row of a round's training set, in both of TRL's formats (as the export writes them), with its
    lineage: the round (`round`) and the source (`trees` | `samples`) it came from."""
    return {"messages": [{"role": "user", "content": task.instructions(problem)},
                         {"role": "assistant", "content": completion}],
            "prompt": task.question(problem), "completion": completion, "problem": problem.key,
            "round": k, "source": source, "spans": [dict(s) for s in spans]}


def _features():
    from datasets import Features, List, Value

    return Features({"messages": List({"role": Value("string"), "content": Value("string")}),
                     "prompt": Value("string"), "completion": Value("string"), "problem": Value("string"),
                     "round": Value("int32"), "source": Value("string"),
                     "spans": List({"role": Value("string"), "start": Value("int32"), "end": Value("int32")})})


def round_set_dir(ev: EvolveSettings, k: int, kind: str) -> Path:
    return Path(ev.dir) / f"round-{k}" / "datasets" / EXPERT_SET / kind


def _set_rows(ev: EvolveSettings, k: int, kind: str) -> list[dict]:
    """The rows round k trained on: its own set, else (a round that trained on export's set) export's
    train split tagged as round k's trees."""
    from datasets import load_from_disk

    own = round_set_dir(ev, k, kind)
    return list(load_from_disk(str(own))["train"]) if own.exists() else trees_rows(ev, k, kind)


def build_round_set(ev: EvolveSettings, k: int, kind: str, new_rows: list[dict]) -> tuple[Path, dict[int, int]]:
    """Write round k's training set (`new_rows`, after round k-1's set with `evolve.data=accumulate`), each
    (problem, completion) once, the earliest round's copy kept; returns its folder and examples per round."""
    from datasets import Dataset, DatasetDict

    rows = (_set_rows(ev, k - 1, kind) if ev.data == "accumulate" and k > 0 else []) + list(new_rows)
    seen, unique = set(), []
    for row in rows:
        key = (row["problem"], " ".join(row["completion"].split()))
        if key not in seen:
            seen.add(key)
            unique.append(row)
    folder = round_set_dir(ev, k, kind)
    DatasetDict({"train": Dataset.from_list(unique, features=_features())}).save_to_disk(str(folder))
    return folder, dict(sorted(Counter(int(r["round"]) for r in unique).items()))


def trees_rows(ev: EvolveSettings, k: int, kind: str) -> list[dict]:
    """Round k's trajectories of `kind` as export wrote them (its train split), tagged as round k's trees."""
    folder = Path(ev.dir) / f"round-{k}" / "datasets" / "sft" / kind
    if not folder.exists():
        return []
    from datasets import load_from_disk

    return [{"messages": r["messages"], "prompt": r["prompt"], "completion": r["completion"], "problem": r["problem"],
             "round": k, "source": "trees", "spans": r.get("spans") or []} for r in load_from_disk(str(folder))["train"]]


def round_sft(train: TrainSettings, ev: EvolveSettings, previous: Path | None) -> tuple[SFTSettings, bool]:
    """Round k's training settings and `train.force`: round k's `train` as configured, or with
    `evolve.init=continue` a copy that starts from round k-1's whole model (`previous`) instead of a new
    student or adapter."""
    sft = sft_settings(train)
    if ev.init == "continue" and previous is not None:
        length = sft.student.context_length if sft.scratch else sft.max_length
        sft = dataclasses.replace(sft, model=str(previous), scratch=False, lora=False, max_length=length)
        sft.validate()
    return sft, train.force
