"""Paired comparisons of step scorers on the same sampled answers (issue 40 item 1).

The eval run's `stats.scaling` holds each strategy's accuracy, not which problems it got right, so this
re-scores the stored sampled answers of one eval run with every scorer (training/scaling.py, exactly
as `journeyforge eval` does), checks that its accuracies equal the ones each eval run stored, and
prints paired differences (paired bootstrap over the 500 problems, analysis/stats.py) and exact
McNemar tests.

    python docs/results/prm-own-steps/paired.py /tmp/prmown/prm.db sym /tmp/prmown/sym/prm own /tmp/prmown/own/prm \
        own16 /tmp/prmown/own16/prm

Arguments: optionally `--aggregate=min` (or prod: how an answer's step scores make its score, eval.prm_aggregate;
default last, as the eval runs), the store, then (eval run name, scorer folder) pairs; the first run's samples are the ones
scored (the script checks that every run sampled the same answers), and the first scorer is the
reference of the paired differences. The scorers are not shipped (4 MB each): the study's commands retrain them.
"""
from __future__ import annotations

import json
import sqlite3
import sys

from analysis.stats import bootstrap_mean, mcnemar_exact, paired_difference
from search.tasks import make_task
from search.tasks.base import Problem
from training.scaling import score_samples, strategy_correct


def eval_run(db, name: str) -> tuple[int, dict, dict]:
    rid, config, stats = db.execute("SELECT id, config, stats FROM runs WHERE name=? AND stage='eval'",
                                    (name,)).fetchone()
    return rid, json.loads(config), json.loads(stats)


def samples_of(db, run_id: int) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    q = ("SELECT e.problem_id, s.idx, s.prediction, s.answer, s.is_correct, s.n_tokens FROM eval_samples s "
         "JOIN evals e ON e.id = s.eval_id WHERE e.run_id=? AND e.model='shortcut' ORDER BY e.problem_id, s.idx")
    for pid, idx, pred, ans, ok, ntok in db.execute(q, (run_id,)):
        out.setdefault(pid, []).append({"prediction": pred, "answer": ans, "is_correct": bool(ok), "n_tokens": ntok})
    return out


def auc(scores: list[float], labels: list[bool]) -> float:
    """P(a right answer scores above a wrong one), ties half (Mann-Whitney)."""
    pos = [x for x, y in zip(scores, labels) if y]
    neg = [x for x, y in zip(scores, labels) if not y]
    if not pos or not neg:
        return float("nan")
    wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


def main(store: str, *pairs: str) -> None:
    how = "last"
    if store.startswith("--aggregate="):  # eval.prm_aggregate: last (eval's default), min or prod
        how, store, pairs = store.split("=", 1)[1], pairs[0], pairs[1:]
    db = sqlite3.connect(store)
    names, scorers = pairs[0::2], dict(zip(pairs[0::2], pairs[1::2]))
    runs = {name: eval_run(db, name) for name in names}
    first = names[0]
    run_a, config, _ = runs[first]
    task = make_task(config["task"])
    samples = samples_of(db, run_a)
    for name in names[1:]:
        other = samples_of(db, runs[name][0])
        same = sum(1 for pid in samples if [s["prediction"] for s in samples[pid]]
                   == [s["prediction"] for s in other.get(pid, [])])
        print(f"samples: run {run_a} ({first}) and run {runs[name][0]} ({name}): {same} of {len(samples)} problems "
              f"have identical sampled answers ({sum(map(len, samples.values()))} answers in run {run_a})")
    problems = {}
    for pid, key, payload, answer, split, dataset in db.execute(
            "SELECT id, key, payload, answer, split, dataset FROM problems"):
        if pid in samples:
            problems[pid] = Problem.from_row({"key": key, "payload": json.loads(payload), "answer": answer,
                                              "split": split, "dataset": dataset})
    pids = sorted(samples)
    rows = [{"model": "shortcut", "problem_id": pid, "sample_rows": samples[pid]} for pid in pids]
    by_id = {pid: problems[pid] for pid in pids}
    scores = {name: score_samples(scorers[name], task, by_id, rows, how) for name in names}
    print(f"answer score: the {how} step score (eval.prm_aggregate={how})")
    ns = sorted({r["n"] for r in runs[first][2]["scaling"]["results"]})
    marks: dict[tuple[str, str, int], list[bool]] = {}
    for name in names:
        for n in ns:
            for i, pid in enumerate(pids):
                for strat, ok in strategy_correct(task, by_id[pid], samples[pid], scores[name][i], n).items():
                    marks.setdefault((name, strat, n), []).append(ok)
    # the recomputed accuracies against the stored ones of each eval run
    bad = 0
    for name in names:
        for r in runs[name][2]["scaling"]["results"]:
            if r["strategy"] == "prm_beam":
                continue
            mine = sum(marks[(name, r["strategy"], r["n"])]) / len(pids)
            if abs(mine - r["accuracy"]) > 1e-9:
                bad += 1
                print(f"  differs: {name} {r['strategy']} N={r['n']}: stored {r['accuracy']:.4f}, here {mine:.4f}")
    print(f"recomputed accuracies equal to the stored ones of every eval run: {'yes' if not bad else f'no ({bad} differ)'}"
          + ("" if how == "last" else " (the eval runs scored with `last`: they differ where the aggregate matters)"))
    print()
    print(f"answer-level AUC of each scorer's answer score ({how}) for right against wrong sampled answers:")
    for name in names:
        flat = [(scores[name][i][j], s["is_correct"]) for i, pid in enumerate(pids) for j, s in enumerate(samples[pid])]
        within = []
        for i, pid in enumerate(pids):
            labels = [s["is_correct"] for s in samples[pid]]
            if any(labels) and not all(labels):
                within.append(auc(scores[name][i], labels))
        print(f"  scorer {name}: pooled {auc([x for x, _ in flat], [y for _, y in flat]):.3f} over {len(flat)} answers; "
              f"within a problem {sum(within) / len(within):.3f} (mean over the {len(within)} problems with right "
              "and wrong answers)")
    print()
    print(f"paired differences on {len(pids)} problems, points [95% paired bootstrap]; McNemar: "
          "only-first right / only-second right, exact p")
    comparisons = []
    for name in names[1:]:
        comparisons += [((name, "prm_best"), (first, "majority")), ((name, "prm_best"), (first, "prm_best")),
                        ((name, "prm_weighted"), (first, "majority")), ((name, "prm_weighted"), (first, "prm_weighted"))]
    comparisons += [((first, "prm_best"), (first, "majority")), ((first, "prm_weighted"), (first, "majority"))]
    print(f"{'comparison':<44} " + " | ".join(f"{'N=' + str(n):>30}" for n in ns))
    for (na, sa), (nb, sb) in comparisons:
        cells = []
        for n in ns:
            x, y = [float(v) for v in marks[(na, sa, n)]], [float(v) for v in marks[(nb, sb, n)]]
            d = paired_difference(x, y)
            b, c, p = mcnemar_exact(marks[(na, sa, n)], marks[(nb, sb, n)])
            cells.append(f"{100 * d.value:+.1f} [{100 * d.low:+.1f}, {100 * d.high:+.1f}] {b}/{c} p={p:.2g}")
        label = f"{sa}({na}) - " + (f"{sb}" if sb == "majority" else f"{sb}({nb})")
        print(f"{label:<44} " + " | ".join(f"{c:>30}" for c in cells))
    print()
    for name in names:
        for n in ns:
            line = []
            for strat in ("majority", "prm_best", "prm_weighted", "pass"):
                ci = bootstrap_mean([float(v) for v in marks[(name, strat, n)]])
                line.append(f"{strat} {100 * ci.value:.1f} [{100 * ci.low:.1f}, {100 * ci.high:.1f}]")
            print(f"scorer {name} N={n}: " + "; ".join(line))


if __name__ == "__main__":
    main(*sys.argv[1:])
