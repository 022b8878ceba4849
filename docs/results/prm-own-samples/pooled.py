"""PRM strategies against majority vote pooled over several scorers (seeds), on one eval run's answers.

Each scorer re-scores the stored sampled answers of the first eval run exactly as `journeyforge eval` does
(training/scaling.py); the difference to majority vote is pooled as the GRPO study pools seeds: a
(scorer x problem) matrix against majority's, problems resampled together, scorers within
(analysis/stats.py `paired_difference`).

    python docs/results/prm-own-samples/pooled.py store.db samples16 /tmp/pm/samples16/prm \
        /tmp/pm/samples16t1/prm /tmp/pm/samples16d1/prm

Arguments: the store, the eval run whose samples are scored, then the scorer folders.
"""
from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "prm-own-steps"))
from paired import eval_run, samples_of  # noqa: E402  (the earlier study's readers of the same store)

from analysis.stats import paired_difference  # noqa: E402
from search.tasks import make_task  # noqa: E402
from search.tasks.base import Problem  # noqa: E402
from training.scaling import score_samples, strategy_correct  # noqa: E402


def main(store: str, run_name: str, *scorers: str) -> None:
    db = sqlite3.connect(store)
    run_id, config, stats = eval_run(db, run_name)
    task = make_task(config["task"])
    samples = samples_of(db, run_id)
    pids = sorted(samples)
    problems = {pid: Problem.from_row({"key": key, "payload": json.loads(payload), "answer": answer,
                                       "split": split, "dataset": dataset})
                for pid, key, payload, answer, split, dataset in
                db.execute("SELECT id, key, payload, answer, split, dataset FROM problems") if pid in samples}
    rows = [{"model": "shortcut", "problem_id": pid, "sample_rows": samples[pid]} for pid in pids]
    ns = sorted({r["n"] for r in stats["scaling"]["results"]} - {1})
    marks: dict[tuple[str, str, int], list[list[float]]] = {}
    for scorer in scorers:
        scores = score_samples(scorer, task, problems, rows, "last")
        for n in ns:
            per: dict[str, list[float]] = {}
            for i, pid in enumerate(pids):
                for strat, ok in strategy_correct(task, problems[pid], samples[pid], scores[i], n).items():
                    per.setdefault(strat, []).append(float(ok))
            for strat, col in per.items():
                marks.setdefault((strat, n), []).append(col)
    print(f"{len(scorers)} scorers over the {sum(map(len, samples.values()))} sampled answers of run {run_id} "
          f"({run_name}), {len(pids)} problems; points, 95% paired bootstrap (problems x scorers)")
    for strat in ("prm_weighted", "prm_best"):
        for n in ns:
            x, y = marks[(strat, n)], marks[("majority", n)]
            d = paired_difference(x, y)
            each = ", ".join(f"{100 * (sum(a) - sum(b)) / len(pids):+.1f}" for a, b in zip(x, y))
            print(f"{strat} - majority, N={n}: {100 * d.value:+.1f} [{100 * d.low:+.1f}, {100 * d.high:+.1f}] "
                  f"(each scorer: {each})")


if __name__ == "__main__":
    main(*sys.argv[1:])
