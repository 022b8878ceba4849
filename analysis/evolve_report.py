"""The report of an evolve run: per round trees solved, nodes per solved tree, tokens, held-out accuracy
with 95% intervals, PRM figures, the repeated-mistake rate between rounds, and a plot of accuracy by round.

Everything is read back from the store (the round views of db/views.py and the runs' stats), so a
report rewritten after a resume covers every round, whichever process ran it.
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import bindparam, text

from analysis.stats import bootstrap_mean, mcnemar_exact, paired_difference

RESAMPLES = 2000   # bootstrap resamples of the held-out problems per interval
PRM_FIGURES = ("f1", "auc", "first_error_f1")
ROUND_STAGES = ("explore", "sample")
SAMPLE_FIGURES = ("problems", "samples_per_problem", "samples", "verified", "solved", "kept", "keep", "seconds")   # the first run of a round: its trees, or its samples (expert iteration)


def _round_names(store, name: str) -> list[tuple[int, str]]:
    """(round, run name) of every round of evolve run `name` (its explore run, or its sample run when
    the round learned from samples alone), by round."""
    prefix = f"{name}/round-"
    out = set()
    for run in store.runs():
        tail = run["name"][len(prefix):] if run["name"].startswith(prefix) else ""
        if run["stage"] in ROUND_STAGES and tail.isdigit() and run.get("round") == int(tail):
            out.add((int(tail), run["name"]))
    return sorted(out)


def round_rows(store, name: str, kind: str, rl: bool = False) -> list[dict]:
    """One dict per round of evolve run `name`: its figures as the report shows them."""
    names = _round_names(store, name)
    if not names:
        return []
    with store.engine.connect() as conn:
        trees = conn.execute(text(
            "SELECT name, COUNT(*) AS trees, SUM(solved) AS solved, "
            "AVG(CASE WHEN solved = 1 THEN 1.0 * nodes END) AS nodes_per_solved "
            "FROM round_trees WHERE name IN :names GROUP BY name").bindparams(
                bindparam("names", expanding=True)), {"names": [n for _, n in names]}).mappings().all()
        repeats = conn.execute(text(
            "SELECT next_round, COUNT(*) AS mistakes, SUM(repeated) AS repeated FROM repeated_mistakes "
            "WHERE run_id IN (SELECT run_id FROM round_trees WHERE name IN :names) GROUP BY next_round").bindparams(
                bindparam("names", expanding=True)), {"names": [n for _, n in names]}).mappings().all()
    per_tree = {r["name"]: r for r in trees}
    per_next = {r["next_round"]: r for r in repeats}
    label = f"rl-{kind}" if rl else kind
    out = []
    for k, run_name in names:
        explore = store.get_run(run_name, "explore")
        sample = store.get_run(run_name, "sample")
        first = explore or sample
        t = per_tree.get(run_name) or {}
        row = {"round": k, "name": run_name, "model": first.get("model"), "model_sha256": first.get("model_sha256"),
               "trees": int(t.get("trees") or 0), "solved": int(t.get("solved") or 0),
               "nodes_per_solved": None if t.get("nodes_per_solved") is None else float(t["nodes_per_solved"]),
               "tokens": ((explore or sample).get("stats") or {}).get("generated_tokens")}
        if sample is not None and sample["status"] == "done":
            row["sampled"] = {key: (sample.get("stats") or {}).get(key) for key in SAMPLE_FIGURES}
        trained = store.get_run(f"{run_name}/{kind}", "train")
        stats = (trained or {}).get("stats") or {}
        if stats.get("examples_by_round"):
            row["examples_by_round"] = {int(r): n for r, n in stats["examples_by_round"].items()}
        elif stats.get("examples"):  # trained by the train stage on the round's own export
            row["examples_by_round"] = {k: int(stats["examples"])}
        ev = store.get_run(run_name, "eval")
        evals = [r for r in store.evals(ev["id"]) if r["model"] == label] if ev else []
        if evals:
            interval = bootstrap_mean([bool(r["is_correct"]) for r in evals], resamples=RESAMPLES, seed=k)
            row.update(eval_model=label, n_heldout=len(evals), accuracy=interval.value, low=interval.low,
                       high=interval.high, correct_by_problem={r["problem_id"]: bool(r["is_correct"]) for r in evals})
        prm = store.get_run(run_name, "prm")
        if prm and prm["status"] == "done":
            row["prm"] = _prm_figures(prm.get("stats") or {})
        rep = per_next.get(k)
        if rep is not None and rep["mistakes"]:
            row.update(mistakes_before=int(rep["mistakes"]), repeated=int(rep["repeated"] or 0),
                       repeat_rate=int(rep["repeated"] or 0) / int(rep["mistakes"]))
        out.append(row)
    return out


def _prm_figures(stats: dict) -> dict:
    """The first grading figures found in a prm run's stats (held-out trees against labels / oracle)."""
    found: dict = {}

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in PRM_FIGURES and isinstance(value, (int, float)) and key not in found:
                    found[key] = value
                else:
                    walk(value, path + [key])
    walk(stats, [])
    return found


def _fmt(value, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def write_report(store, name: str, kind: str, out_dir: Path, rl: bool = False) -> dict:
    """Write `<out_dir>/report.md` and `accuracy_by_round.png` for evolve run `name`; returns paths, text and rows."""
    rows = round_rows(store, name, kind, rl)
    out_dir.mkdir(parents=True, exist_ok=True)
    plot = out_dir / "accuracy_by_round.png"
    _plot(rows, plot, name)
    lines = [f"# evolve run `{name}`", "",
             f"Round 0 grew its trees with the configured policy; round k >= 1 grew them with round k-1's tuned "
             f"`{kind}` model{' after GRPO' if rl else ''}, or (expert iteration) had that model answer its training "
             "problems (no trees: 0). Held-out accuracy is greedy, on the same held-out problems every "
             "round, with a 95% percentile-bootstrap interval over problems "
             f"({RESAMPLES} resamples). A repeated mistake is a step of round k-1 marked a mistake (invalid, "
             "dead end or first error) whose text or task state round k's tree of the same problem marks a "
             "mistake again (view `repeated_mistakes`), over the problems both rounds grew.", "",
             "| round | grown (or sampled) by | trees | solved | nodes per solved tree | tokens | held-out accuracy (95% CI) | n | "
             "mistakes of round k-1 made again |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        acc = (f"{100 * r['accuracy']:.1f}% [{100 * r['low']:.1f}, {100 * r['high']:.1f}]"
               if "accuracy" in r else "-")
        rep = (f"{r['repeated']} of {r['mistakes_before']} ({100 * r['repeat_rate']:.1f}%)"
               if "repeat_rate" in r else "-")
        model = r["model"] or "-"
        if r.get("model_sha256"):
            model += f" (sha256 {r['model_sha256'][:12]})"
        lines.append(f"| {r['round']} | {model} | {r['trees']} | {r['solved']} | {_fmt(r['nodes_per_solved'])} | "
                     f"{_fmt(r['tokens'])} | {acc} | {r.get('n_heldout', '-')} | {rep} |")
    prm_rows = [r for r in rows if r.get("prm")]
    if prm_rows:
        lines += ["", "Step scorer (PRM) of each round, graded on held-out trees:", "",
                  "| round | " + " | ".join(PRM_FIGURES) + " |", "|---|" + "---|" * len(PRM_FIGURES)]
        for r in prm_rows:
            lines.append(f"| {r['round']} | " + " | ".join(_fmt(r["prm"].get(f), 3) for f in PRM_FIGURES) + " |")
    lines += _expert_lines(rows)
    paired = paired_last_vs_first(rows)
    if paired:
        lines += ["", paired["text"]]
    lines += ["", f"![held-out accuracy and training problems solved by round]({plot.name})", "",
              "The same figures in SQL: docs/evolve.md (views `round_trees`, `repeated_mistakes`).", ""]
    report = out_dir / "report.md"
    report.write_text("\n".join(lines))
    return {"path": str(report), "plot": str(plot), "text": "\n".join(lines), "report_rows": rows, "paired": paired}


def _share(part: int, whole: int) -> str:
    return f"{part} of {whole} ({100 * part / whole:.1f}%)" if whole else "-"


def _expert_lines(rows: list[dict]) -> list[str]:
    """The expert-iteration table: per round the training problems its trees and its samples solved, the
    answers sampled, verified and kept, and the examples it trained on by the round they came from."""
    if not any("sampled" in r or "examples_by_round" in r for r in rows):
        return []
    lines = ["", "Training problems solved by each round, and what its model trained on. In a round that samples "
             "(expert iteration), round k-1's model answers each training problem k times; an answer is kept when "
             "it is verified, each distinct answer once. Examples are counted by the round they came from "
             "(`evolve.data=accumulate` keeps every earlier round's).", "",
             "| round | solved by its trees | solved by its samples | answers sampled | verified | kept | "
             "examples trained on, by round |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        sampled = r.get("sampled") or {}
        by_round = r.get("examples_by_round") or {}
        lines.append(f"| {r['round']} | {_share(r['solved'], r['trees'])} | "
                     f"{_share(sampled.get('solved') or 0, sampled.get('problems') or 0)} | "
                     f"{_fmt(sampled.get('samples'))} | {_fmt(sampled.get('verified'))} | {_fmt(sampled.get('kept'))} | "
                     + (", ".join(f"round {j}: {n}" for j, n in sorted(by_round.items())) or "-") + " |")
    return lines


def paired_last_vs_first(rows: list[dict]) -> dict | None:
    """The last scored round against the first on the held-out problems both answered: the difference in
    accuracy with a paired bootstrap interval and McNemar's exact test (analysis/stats.py)."""
    scored = [r for r in rows if r.get("correct_by_problem")]
    if len(scored) < 2:
        return None
    first, last = scored[0], scored[-1]
    common = sorted(set(first["correct_by_problem"]) & set(last["correct_by_problem"]))
    if not common:
        return None
    x = [last["correct_by_problem"][p] for p in common]
    y = [first["correct_by_problem"][p] for p in common]
    diff = paired_difference(x, y, seed=0)
    only_last, only_first, p_value = mcnemar_exact(x, y)
    text = (f"Round {last['round']} against round {first['round']} on the same {len(common)} held-out problems: "
            f"{100 * diff.value:+.1f} points, paired 95% bootstrap interval [{100 * diff.low:+.1f}, "
            f"{100 * diff.high:+.1f}] (problems resampled together); {only_last} problems only round {last['round']} "
            f"answers, {only_first} only round {first['round']}, McNemar exact p = {p_value:.3g}.")
    return {"first": first["round"], "last": last["round"], "n": len(common), "difference": diff.value,
            "low": diff.low, "high": diff.high, "only_last": only_last, "only_first": only_first, "p": p_value,
            "text": text}


def _plot(rows: list[dict], path: Path, name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, solved_ax) = plt.subplots(1, 2, figsize=(9, 3.2))
    _plot_accuracy(ax, rows, name)
    _plot_solved(solved_ax, rows)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_accuracy(ax, rows: list[dict], name: str) -> None:
    scored = [r for r in rows if "accuracy" in r]
    top = 10.0  # percent: an axis of all-zero accuracies still reads as percent, not as 0.05
    if scored:
        xs = [r["round"] for r in scored]
        ys = [100 * r["accuracy"] for r in scored]
        err = [[100 * (r["accuracy"] - r["low"]) for r in scored], [100 * (r["high"] - r["accuracy"]) for r in scored]]
        ax.errorbar(xs, ys, yerr=err, marker="o", capsize=4)
        top = max(top, 1.2 * max(100 * r["high"] for r in scored))
    for r in rows:  # a round that grew trees but trained nothing (it solved none) has no accuracy
        if "accuracy" not in r:
            ax.annotate("not trained", (r["round"], 0), textcoords="offset points", xytext=(0, 8),
                        ha="center", fontsize=8, color="gray")
    _round_axis(ax, rows)
    ax.set_ylabel("held-out accuracy (%)")
    ax.set_title(f"{name}: accuracy by round (95% CI)", fontsize=9)
    ax.set_ylim(0, min(100.0, top))


def _plot_solved(ax, rows: list[dict]) -> None:
    """The share of training problems each round solved: by its trees, and by its k sampled answers."""
    for label, pick in (("by its trees", lambda r: (r["solved"], r["trees"])),
                        ("by its samples", lambda r: ((r.get("sampled") or {}).get("solved") or 0,
                                                      (r.get("sampled") or {}).get("problems") or 0))):
        points = [(r["round"], 100 * a / b) for r in rows for a, b in [pick(r)] if b]
        if points:
            ax.plot(*zip(*points), marker="o", label=label)
    _round_axis(ax, rows)
    ax.set_ylabel("training problems solved (%)")
    ax.set_title("training problems solved by round", fontsize=9)
    ax.set_ylim(0, 100)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)


def _round_axis(ax, rows: list[dict]) -> None:
    ax.set_xticks([r["round"] for r in rows] or [0])
    if rows:
        ax.set_xlim(min(r["round"] for r in rows) - 0.5, max(r["round"] for r in rows) + 0.5)
    ax.set_xlabel("round")
