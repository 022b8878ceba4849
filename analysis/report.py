"""The experiment's report: `<experiment.dir>/report.md` and its figures, computed from the stored
answers (`evals`, `eval_samples`) so that every number can be recomputed in SQL.

Sections: accuracy per arm with 95% intervals (bootstrap over problems and seeds), the paired
comparison with the baseline arm (difference with its interval, exact McNemar test), maj@k and
pass@k, mean generated tokens, what the answers' backtracks were (analysis/backtracks.py), the
compute-matched comparison (the baseline's maj@k at the k whose tokens match each arm's single
answer: the "To Backtrack or Not" question), the data each arm trained on, training losses, and
the exact configuration, versions, store and wall times.
"""
from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from analysis.backtracks import replay, replay_rates
from analysis.code_versions import git_sha, versions
from analysis.stats import Interval, bootstrap_mean, mcnemar_exact, paired_difference, pass_at_k
from db.engine import mask_url
from db.masking import masked_yaml
from analysis.tables import table
from training.answer_eval import majority_answer


def _pct(x: float) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}"


def _md(headers: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def arm_labels(arm: str, kind: str, labels: set[str]) -> list[str]:
    """The stored model labels of an arm: `base` alone, or `<arm>/s<seed>` sorted by seed."""
    if kind == "base":
        return [arm] if arm in labels else []
    mine = [lab for lab in labels if lab.startswith(f"{arm}/s") and lab[len(arm) + 2:].lstrip("-").isdigit()]
    return sorted(mine, key=lambda lab: int(lab[len(arm) + 2:]))


def majority_correct(samples: list[dict], k: int, same) -> bool:
    """Whether the majority answer of the first k samples is a verified one."""
    first = samples[:k]
    voted = majority_answer([s["answer"] for s in first], same)
    if voted is None:
        return False
    return any(s["is_correct"] for s in first if s["answer"] is not None and same(s["answer"], voted))


def collect(store, run_id: int, problem_ids: list[int]) -> tuple[dict, dict]:
    """{model: {problem_id: eval row}}, {model: {problem_id: [sample rows]}} of an eval run."""
    evals: dict[str, dict[int, dict]] = {}
    for r in store.evals(run_id):
        evals.setdefault(r["model"], {})[r["problem_id"]] = r
    samples: dict[str, dict[int, list[dict]]] = {}
    for r in store.eval_samples(run_id):
        samples.setdefault(r["model"], {}).setdefault(r["problem_id"], []).append(r)
    return evals, samples


def arm_table(exp, task, problems, problem_ids, evals, samples) -> dict[str, dict[str, Any]]:
    """Per arm: its labels, the (seeds x problems) correctness matrix, tokens, samples and replays."""
    by_id = dict(zip(problem_ids, problems))
    out = {}
    for name, arm in exp.arms.items():
        labels = [lab for lab in arm_labels(name, arm.kind, set(evals))
                  if all(pid in evals[lab] for pid in problem_ids)]
        if not labels:
            continue
        correct = np.array([[bool(evals[lab][pid]["is_correct"]) for pid in problem_ids] for lab in labels], float)
        tokens = np.array([[evals[lab][pid]["n_tokens"] for pid in problem_ids] for lab in labels], float)
        replays = [replay(task, by_id[pid], evals[lab][pid]["prediction"]) for lab in labels for pid in problem_ids]
        sampled = [lab for lab in labels if lab in samples and all(pid in samples[lab] for pid in problem_ids)]
        out[name] = {"kind": arm.kind, "labels": labels, "correct": correct, "tokens": tokens,
                     "replays": replay_rates(replays), "sampled": sampled}
    return out


def sampled_curves(arm: dict, problem_ids: list[int], samples: dict, same) -> dict[str, Any] | None:
    """maj@k and pass@k (k = 1..K) with the mean tokens k samples cost, over seeds and problems."""
    if not arm["sampled"]:
        return None
    K = min(len(samples[lab][pid]) for lab in arm["sampled"] for pid in problem_ids)
    if K < 1:
        return None
    per_sample = float(np.mean([s["n_tokens"] for lab in arm["sampled"] for pid in problem_ids
                                for s in samples[lab][pid][:K]]))
    maj, pas = [], []
    for k in range(1, K + 1):
        maj.append(float(np.mean([majority_correct(samples[lab][pid], k, same)
                                  for lab in arm["sampled"] for pid in problem_ids])))
        pas.append(float(np.mean([pass_at_k(K, sum(bool(s["is_correct"]) for s in samples[lab][pid][:K]), k)
                                  for lab in arm["sampled"] for pid in problem_ids])))
    return {"K": K, "tokens_per_sample": per_sample, "maj": maj, "pass": pas}


def _paired(arm: dict, base: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seed pairs for McNemar: seed i of the arm with seed i of the baseline (cycling the shorter)."""
    n = max(len(arm["labels"]), len(base["labels"]))
    return [(arm["correct"][i % len(arm["labels"])], base["correct"][i % len(base["labels"])]) for i in range(n)]


def _verdict(name: str, base_name: str, diff: Interval) -> str:
    if diff.low > 0:
        return f"**{name} beats {base_name}**: {_pct(diff.value)} points, interval {diff.percent()} excludes 0."
    if diff.high < 0:
        return f"**{name} is worse than {base_name}**: {_pct(diff.value)} points, interval {diff.percent()} excludes 0."
    return (f"**{name} and {base_name} cannot be told apart at this scale**: {_pct(diff.value)} points, "
            f"interval {diff.percent()} includes 0.")


def _figures(out_dir: Path, arms: dict, base_name: str, curve: dict | None, acc: dict) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    names = list(arms)
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(names) + 2), 3.5))
    vals = [100 * acc[n].value for n in names]
    err = [[100 * (acc[n].value - acc[n].low) for n in names], [100 * (acc[n].high - acc[n].value) for n in names]]
    ax.bar(names, vals, yerr=err, capsize=4, color=["#888" if arms[n]["kind"] == "base" else
                                                     "#4a7" if arms[n]["kind"] == "shortcut" else "#c64"
                                                     for n in names])
    ax.set_ylabel("greedy accuracy (%), 95% CI")
    ax.set_title("Held-out accuracy per arm")
    plt.setp(ax.get_xticklabels(), rotation=20, ha="right")
    fig.tight_layout()
    paths.append(out_dir / "accuracy.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    if curve:
        ks = range(1, curve["K"] + 1)
        x = [k * curve["tokens_per_sample"] for k in ks]
        ax.plot(x, [100 * v for v in curve["maj"]], "o-", color="#4a7", label=f"{base_name} maj@k")
        ax.plot(x, [100 * v for v in curve["pass"]], "s--", color="#4a7", alpha=0.5, label=f"{base_name} pass@k")
    for n in names:
        a = arms[n]
        ax.errorbar([a["tokens"].mean()], [100 * acc[n].value],
                    yerr=[[100 * (acc[n].value - acc[n].low)], [100 * (acc[n].high - acc[n].value)]],
                    fmt="D", capsize=3, label=f"{n} (greedy)")
    ax.set_xlabel("generated tokens per problem")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Accuracy at equal inference tokens")
    ax.legend(fontsize=7)
    fig.tight_layout()
    paths.append(out_dir / "compute.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


def _num(value) -> str:
    """Three decimals, "-" for a number that is undefined (None, as the store keeps NaN, or NaN itself)."""
    return f"{value:.3f}" if isinstance(value, (int, float)) and math.isfinite(value) else "-"


def _train_stats(store, name: str, label: str, trained: dict, stage: str = "train") -> dict:
    if label in trained:
        return trained[label]
    arm, _, seed = label.rpartition("/s")
    run = store.get_run(f"{name}/{arm}-s{seed}", stage)
    return (run or {}).get("stats") or {}


def _accuracy_rows(exp, seed: int, arms: dict, base_name: str, acc: dict, curves: dict) -> tuple[list, list[str]]:
    """One row per arm (accuracy, paired difference and McNemar against the baseline, maj@k / pass@k,
    tokens, backtrack rates) and the verdict lines of the tuned arms."""
    base = arms[base_name]
    rows, verdicts = [], []
    for n, a in arms.items():
        tok = float(a["tokens"].mean())
        r = a["replays"]
        if n == base_name:
            diff_s, mc_s = "(baseline)", "-"
        else:
            diff = paired_difference(a["correct"], base["correct"], exp.resamples, seed=seed)
            pairs = _paired(a, base)
            b, c, p = mcnemar_exact(np.concatenate([x for x, _ in pairs]) > 0, np.concatenate([y for _, y in pairs]) > 0)
            diff_s, mc_s = diff.percent(), f"{b}/{c}, p={p:.3g}"
            if a["kind"] != "base":
                verdicts.append(_verdict(n, base_name, diff))
        curve = curves.get(n)
        majk = f"{_pct(curve['maj'][-1])} / {_pct(curve['pass'][-1])} (k={curve['K']})" if curve else "-"
        rows.append([n, a["kind"], len(a["labels"]), a["correct"].shape[1], acc[n].percent(), diff_s, mc_s, majk,
                     f"{tok:.1f}", _pct(r["backtrack_share"]), _pct(r["justified_rate"]), _pct(r["true_rate"]),
                     _pct(r["recovery_rate"]), f"{r['checks_per_answer']:.2f}", _pct(r["true_check_rate"])])
    return rows, verdicts


def _compute_rows(arms: dict, acc: dict, base_curve: dict | None) -> list[list]:
    """Each arm's greedy accuracy beside the baseline's maj@k / pass@k at the same tokens."""
    rows = []
    if base_curve:
        for n, a in arms.items():
            tok = float(a["tokens"].mean())
            k = max(1, min(base_curve["K"], round(tok / max(base_curve["tokens_per_sample"], 1e-9))))
            rows.append([n, acc[n].percent(), f"{tok:.1f}", k, f"{k * base_curve['tokens_per_sample']:.1f}",
                         _pct(base_curve["maj"][k - 1]), _pct(base_curve["pass"][k - 1])])
    return rows


def _data_rows(exp, data: dict) -> list[list]:
    """Each tuned arm's matched data: examples, problems, tokens, backtracks, check lines, options."""
    rows = []
    for n, rows_ in data["rows"].items():
        bt = Counter(r["n_backtracks"] for r in rows_)
        checks = sum(1 for r in rows_ for sp in (r.get("spans") or []) if sp["role"] == "check")
        rows.append([n, exp.arms[n].kind, len(rows_), len({r["tree_id"] for r in rows_}),
                     sum(r["n_tokens"] for r in rows_),
                     ", ".join(f"{k}: {v}" for k, v in sorted(bt.items())), checks,
                     ", ".join(f"{k}={v}" for k, v in {**exp.arms[n].linearize, **exp.arms[n].train}.items()) or "-"])
    return rows


def _training_rows(store, name: str, exp, arms: dict, trained: dict) -> tuple[list, list]:
    """The SFT trainings' and the GRPO trainings' rows, one per model, from this job or the store."""
    train_rows, rl_rows = [], []
    for n, a in arms.items():
        for lab in a["labels"] if a["kind"] == "rl" else []:
            st = _train_stats(store, name, lab, trained, "rl")
            rl_rows.append([lab, exp.arms[n].init, st.get("problems", "-"), st.get("steps", "-"),
                            _num(st.get("first_reward")), _num(st.get("last_reward")), _num(st.get("mean_accuracy")),
                            _num(st.get("last_kl")), st.get("seconds", "-")])
        for lab in a["labels"] if a["kind"] not in ("base", "rl") else []:
            st = _train_stats(store, name, lab, trained)
            train_rows.append([lab, st.get("examples", "-"), st.get("steps", "-"),
                               _num(st.get("first_loss")), _num(st.get("last_loss")),
                               st.get("seconds", "-"), st.get("loss_mode", "-")])
    return train_rows, rl_rows


ACCURACY_HEADERS = ["arm", "kind", "seeds", "problems", "accuracy % [95% CI]", "minus {base} (points) [95% CI]",
                    "McNemar only-arm/only-base, p", "maj@k / pass@k %", "mean tokens", "answers with backtrack %",
                    "justified %", "true %", "recovered %", "checks per answer", "true checks %"]


def _method(exp, problems: list, dataset: str, max_tokens: int, sampled_line: str) -> str:
    """The report's paragraph on what was measured and how."""
    return (f"{len(problems)} held-out problems of `{dataset}` (the first {len(problems)} stored with split=test), "
            f"greedy answers (max {max_tokens} tokens); {sampled_line}. Intervals: 95% percentile bootstrap "
            f"({exp.resamples} resamples) over problems and, where an arm has several, over training seeds. Paired "
            f"differences resample the same problems for both arms. McNemar: exact binomial test on (problem, seed) "
            f"pairs pooled over seeds (seed i with the baseline's seed i). Backtrack columns replay each greedy answer "
            f"through the task (analysis/backtracks.py): share of answers with a backtrack; of the backtracks, how many "
            f"abandoned a step that really was wrong (justified) and how many reflections stated only true things "
            f"(true); of the answers with a backtrack, how many still ended correct (recovered). Check lines: how many "
            f"an answer writes, and of them how many follow a step that was not a mistake and state what the task "
            f"says of it (true checks).")


def _sections(base_name: str, base_curve: dict | None, compute_rows: list, data: dict, data_rows: list,
              train_rows: list, rl_rows: list) -> list[str]:
    """The compute-matched, data, training and GRPO sections ("" for one with nothing to show)."""
    return [
        ("## Compute-matched\n\nEach arm's greedy answer costs its mean tokens; the baseline "
         f"(`{base_name}`) answers k times (k = those tokens / its {base_curve['tokens_per_sample']:.1f} tokens per "
         "sample, rounded, within 1..K) and votes (maj@k) or is scored if any sample is right (pass@k, unbiased "
         "estimator).\n\n" + _md(["arm", "greedy accuracy % [CI]", "mean tokens", f"{base_name} k",
                                   f"{base_name} tokens at k", f"{base_name} maj@k %", f"{base_name} pass@k %"],
                                  compute_rows) + "\n\n![compute](compute.png)") if compute_rows else
        "## Compute-matched\n\nNo sampled answers of the baseline arm are stored (experiment.sample_arms).",
        (f"## Data\n\nFrom {data['trees']} explored trees, {data['shared_trees']} give a trajectory to every arm "
         f"(matched); budget: equal {data['budget']}" + (f" ({data['budget_value']})" if data["budget_value"] else "")
         + (f", each arm first capped at {data['max_examples']} examples" if data.get("max_examples") else "")
         + ".\n\n" + _md(["arm", "kind", "examples", "problems", "completion tokens", "backtracks per example: count",
                          "check lines", "arm options"], data_rows)) if data_rows else "",
        ("## Training\n\n" + _md(["model", "examples", "steps", "first loss", "last loss", "seconds", "loss"],
                                 train_rows)) if train_rows else "",
        ("## GRPO\n\nrl arms: GRPO on the training problems' verifier rewards from the named arm's adapter of "
         "the same seed (curves.png beside each adapter).\n\n"
         + _md(["model", "from", "problems", "steps", "first reward", "last reward", "mean accuracy", "last KL",
                "seconds"], rl_rows)) if rl_rows else "",
    ]


def _summary(problems: list, base_name: str, rows: list, compute_rows: list, verdicts: list[str]) -> str:
    """What the experiment prints: the accuracy table, the compute-matched one and the verdicts."""
    summary = table(["arm", "seeds", "accuracy % [95% CI]", f"minus {base_name} [CI]", "McNemar", "tokens",
                     "backtrack %", "justified %", "true %", "recovered %", "checks", "true checks %"],
                    [[r[0], r[2], r[4], r[5], r[6], r[8], r[9], r[10], r[11], r[12], r[13], r[14]] for r in rows],
                    title=f"[experiment] {len(problems)} held-out problems")
    if compute_rows:
        summary += "\n" + table(["arm", "accuracy", "tokens", "k", f"{base_name} maj@k", f"{base_name} pass@k"],
                                [[r[0], r[1], r[2], r[3], r[5], r[6]] for r in compute_rows],
                                title="[experiment] compute-matched")
    if verdicts:
        summary += "\n" + "\n".join(v.replace("**", "") for v in verdicts)
    return summary


def write_report(cfg, exp, store, task, evaluated: dict, data: dict, trained: dict, times: dict) -> dict[str, Any]:
    """report.md and its figures in `experiment.dir` from the stored answers; returns the path, the
    printed summary, the figures and each arm's accuracy interval."""
    out_dir = Path(exp.dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    problems = evaluated["problems"]
    problem_ids = [evaluated["key_to_id"][p.key] for p in problems]
    evals, samples = collect(store, evaluated["run_id"], problem_ids)
    arms = arm_table(exp, task, problems, problem_ids, evals, samples)
    if not arms:
        raise ValueError("no arm has answers to every held-out problem stored yet")
    base_name = exp.baseline if exp.baseline in arms else next(iter(arms))
    acc = {n: bootstrap_mean(a["correct"], exp.resamples, seed=cfg.seed) for n, a in arms.items()}
    curves = {n: sampled_curves(a, problem_ids, samples, task.same_answer) for n, a in arms.items()}
    base_curve = curves.get(base_name)
    rows, verdicts = _accuracy_rows(exp, cfg.seed, arms, base_name, acc, curves)
    compute_rows = _compute_rows(arms, acc, base_curve)
    figures = _figures(out_dir, arms, base_name, base_curve, acc)
    train_rows, rl_rows = _training_rows(store, cfg.name, exp, arms, trained)
    ev = OmegaConf.to_container(cfg.eval, resolve=True)
    sampled = ", ".join(n for n in arms if curves.get(n))
    sampled_line = (f"sampled answers at temperature {ev['temperature']} for {sampled}" if sampled
                    else "no sampled answers (experiment.sample_arms)")
    headers = [h.format(base=base_name) for h in ACCURACY_HEADERS]
    text = "\n\n".join(filter(None, [
        f"# Experiment `{cfg.name}`: {', '.join(arms)}",
        _method(exp, problems, task.dataset, ev["max_tokens"], sampled_line),
        "## Verdict\n\n" + "\n".join(f"- {v}" for v in verdicts) if verdicts else "",
        "## Accuracy\n\n" + _md(headers, rows) + "\n\n![accuracy](accuracy.png)",
        *_sections(base_name, base_curve, compute_rows, data, _data_rows(exp, data), train_rows, rl_rows),
        "## Run\n\n" + _md(["", ""], [
            ["store", f"`{mask_url(cfg.store.url)}`"], ["eval run", f"`{cfg.name}/experiment` (id {evaluated['run_id']})"],
            ["git", f"`{git_sha() or '-'}`"],
            ["wall time (this job)", ", ".join(f"{k} {v:.0f} s" for k, v in times.items())],
            ["versions", ", ".join(f"{k} {v}" for k, v in sorted(versions().items()))]]),
        "## Configuration\n\n```yaml\n" + masked_yaml(cfg).strip() + "\n```",  # a store password stays out
    ]))
    path = out_dir / "report.md"
    path.write_text(text + "\n")
    return {"path": path, "text": _summary(problems, base_name, rows, compute_rows, verdicts), "figures": figures,
            "arms": {n: {"accuracy": acc[n].value, "low": acc[n].low, "high": acc[n].high} for n in arms}}
