"""Math through the stages (Hydra configs, real SQLite, scripted policy, real math-verify), and
journeys on a hand-built math tree."""
from __future__ import annotations

import re

import networkx as nx
import pytest
from datasets import load_from_disk
from hydra import compose, initialize_config_dir

from db import TraceStore
from journeyforge.cli import CONF_DIR
from journeyforge.stages import explore, export, linearize, train
from search.tasks import Problem, make_task
from search.tasks.base import DEAD_END, ROOT, SOLUTION, VALID, WRONG_ANSWER
from traces.journey import linearize_journey
from traces.shortcut import linearize_shortcut


def _cfg(tmp_path, *extra):
    overrides = ["name=m", f"workdir={tmp_path / 'out'}", f"store.url=sqlite:///{tmp_path / 'traces.db'}",
                 "task=math", "policy=scripted", "explore.progress=false", "task.n_train=10", "task.n_test=4",
                 *extra]
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return compose(config_name="config", overrides=overrides)


def test_math_run_stores_verified_boxed_trajectories_and_consistent_rollouts(tmp_path, tiny_model_dir):
    cfg = _cfg(tmp_path, f"train.model={tiny_model_dir}", "train.max_steps=1", "train.per_device_train_batch_size=2")
    out = explore.run(cfg)
    assert out["trees_done"] == 10 and out["solved"] > 0
    linearize.run(cfg)
    task = make_task(cfg.task)
    store = TraceStore(cfg.store.url)
    problems = {p["key"]: Problem.from_row(p) for p in store.problems(dataset="gsm8k")}
    run = store.get_run("m", "linearize")
    rows = store.trajectories(run_id=run["id"])
    kinds = {r["kind"] for r in rows}
    assert kinds == {"shortcut", "journey"}
    trees = {t["id"]: t for t in store.trees(store.get_run("m", "explore")["id"])}
    for r in rows:
        gold = problems[trees[r["tree_id"]]["problem"]["key"]]
        # Every stored math trajectory ends with a \boxed{} answer math-verify accepts against the gold.
        assert re.search(r"\\boxed\{[^{}]+\}\.?$", r["text"].strip()), r["text"][-80:]
        assert task.verify(gold, task.extract_answer(r["text"])) and r["is_correct"]
        if r["kind"] == "journey":
            assert r["n_backtracks"] in (0, 1, 2)  # the pipeline's mixed-count recipe
            # A reflection never states the gold answer unless a step of the tree wrote it.
            think = r["text"].split("</think>")[0]
            for line in think.splitlines():
                if line.startswith(("Wait", "Hmm", "Hold on", "Let me", "But", "Checking", "That")):
                    assert f"\\boxed{{{gold.answer}}}" not in line
    # Rollout values lie in [0, 1] and agree with the stored rollouts.
    for t in trees.values():
        nodes = {n["id"]: n for n in store.nodes(t["id"])}
        by_node: dict[int, list] = {}
        for r in store.rollouts(tree_id=t["id"]):
            by_node.setdefault(r["node_id"], []).append(r)
        for node_id, rolls in by_node.items():
            mc = nodes[node_id]["mc_value"]
            assert 0.0 <= mc <= 1.0 and mc == pytest.approx(sum(r["is_correct"] for r in rolls) / len(rolls))
    export.run(cfg)
    [out_dir] = [d for d in (tmp_path / "out" / "datasets").iterdir() if d.is_dir()]
    sft = load_from_disk(str(out_dir / "sft" / "journey"))
    assert "\\boxed{" in sft["train"][0]["messages"][-1]["content"]
    stepwise = load_from_disk(str(out_dir / "stepwise"))
    row = stepwise["train"][0]
    assert len(row["values"]) == len(row["labels"]) and all(0.0 <= v <= 1.0 for v in row["values"])
    card = (out_dir / "README.md").read_text()
    assert "math-verify" in card and "Monte-Carlo" in card
    summary = train.run(cfg)
    assert summary


def test_stream_for_math_is_refused_before_anything_is_written(tmp_path):
    from journeyforge.settings import ConfigError

    cfg = _cfg(tmp_path, "linearize.kinds=[shortcut,journey,stream]")
    with pytest.raises(ConfigError, match="stream, which task .math. cannot serve"):
        explore.run(cfg)
    assert not (tmp_path / "traces.db").exists()


def _math_tree() -> tuple[nx.DiGraph, Problem]:
    """Question: 3 apples + 4 apples, then doubled (gold 14). Root -> a "3 + 4 = 7" (valid) ->
    s "7 * 2 = 14. The answer is \\boxed{14}." (solution); root -> d "3 * 4 = 12" (dead end by
    rollouts); a -> w "7 * 3 = 21. The answer is \\boxed{21}." (wrong answer)."""
    problem = {"key": "t/0", "dataset": "gsm8k", "split": "train", "answer": "14",
               "payload": {"question": "Tom has 3 apples and buys 4. Then the count doubles. How many?"}}
    G = nx.DiGraph(tree_id=1, root=10, problem=problem)

    def add(node, parent, seq, text, label, reason=None, mc=None, answer=None):
        G.add_node(node, seq=seq, text=text, label=label, reason=reason, state={"n": seq, "numbers": [], "answer": answer},
                   value=0.5, mc_value=mc, logprob=-1.0)
        if parent is not None:
            G.add_edge(parent, node)

    add(10, None, 0, "", ROOT)
    add(11, 10, 1, "3 + 4 = 7", VALID, mc=0.5)
    add(12, 10, 2, "3 * 4 = 12", DEAD_END, reason="0 of 4 completions reached the answer", mc=0.0)
    add(13, 11, 3, "7 * 3 = 21. The answer is \\boxed{21}.", WRONG_ANSWER,
        reason="that gives 21, which doesn't fit the question", answer="21")
    add(14, 11, 4, "7 * 2 = 14. The answer is \\boxed{14}.", SOLUTION, answer="14")
    return G, Problem.from_row(problem)


def test_math_journey_on_a_hand_built_tree():
    task = make_task({"name": "math"})
    G, problem = _math_tree()
    [short] = linearize_shortcut(G, task)
    assert short["lines"] == ["3 + 4 = 7", "7 * 2 = 14. The answer is \\boxed{14}."]
    assert short["text"].endswith("</think>\nThe answer is \\boxed{14}.")
    [journey] = linearize_journey(G, task, {"k": 3, "max_backtracks": 3, "select": "plausible"})
    lines = journey["lines"]
    assert journey["n_backtracks"] == 2 and journey["is_correct"]
    # The dead end first, closed by a natural reflection (not "0 of 4 completions") and a return.
    assert lines[0] == "3 * 4 = 12"
    assert "completions" not in lines[1] and lines[3] == "3 + 4 = 7"
    # The wrong ending, closed by a reflection that names the model's own answer, then the solution.
    assert lines[4] == "7 * 3 = 21. The answer is \\boxed{21}."
    assert "that gives 21, which doesn't fit the question" in lines[5]
    assert lines[-1] == "7 * 2 = 14. The answer is \\boxed{14}."
    assert not any("14" in line for line in lines[1:3] + lines[5:7])  # reflections never leak the gold


def test_distinct_endings_keep_one_trial_per_wrong_answer():
    task = make_task({"name": "math"})
    G, _ = _math_tree()
    G.add_node(15, seq=5, text="7 + 14 = 21. The answer is \\boxed{21}.", label=WRONG_ANSWER,
               reason="that gives 21, which doesn't fit the question", state={"n": 2, "numbers": [], "answer": "21"},
               value=0.0, mc_value=None, logprob=-0.5)
    G.add_edge(11, 15)
    [journey] = linearize_journey(G, task, {"k": 4, "max_backtracks": 4, "select": "wrong_answer"})
    assert journey["n_backtracks"] == 1
    [both] = linearize_journey(G, task, {"k": 4, "max_backtracks": 4, "select": "wrong_answer",
                                         "distinct_endings": False})
    assert both["n_backtracks"] == 2


def test_llm_rewrite_check_for_math_keeps_every_number_and_the_answer():
    from traces.llm_reflection import check_rewrite

    task = make_task({"name": "math"})
    draft = task.render_completion(["3 * 4 = 12", "Hmm, that step looks wrong.", "3 + 4 = 7",
                                    "7 * 2 = 14. The answer is \\boxed{14}."], "14")
    kept = task.render_completion(["First I try 3 * 4 = 12, but in 1 second I see that is wrong,",
                                   "so 3 + 4 = 7 and 7 * 2 = 14. The answer is \\boxed{14}."], "14")
    assert check_rewrite(task, draft, kept) is None
    dropped = kept.replace("3 * 4 = 12, but", "hmm, but")
    assert check_rewrite(task, draft, dropped).startswith("equation dropped")
    changed = kept.replace("\\boxed{14}", "\\boxed{15}")
    assert check_rewrite(task, draft, changed).startswith("answer changed")


def test_math500_results_are_broken_down_by_level_and_subject():
    from training.answer_eval import breakdown_tables

    task = make_task({"name": "math", "train_path": "math500", "test_path": None, "dataset": "math500",
                      "n_train": 0, "n_test": 6})
    problems = [p for p in task.load_problems() if p.split == "test"]
    assert len(problems) == 6 and all("level" in p.payload and "subject" in p.payload for p in problems)
    rows = [{"model": m, "problem_id": p.key, "is_correct": m == "tuned" and i % 2 == 0}
            for m in ("base", "tuned") for i, p in enumerate(problems)]
    tables = breakdown_tables(rows, problems)
    assert set(tables) == {"level", "subject"}
    level_lines = tables["level"].splitlines()
    assert level_lines[0].split() == ["level", "base", "%", "tuned", "%", "n"]
    assert sum(int(line.split()[-1]) for line in level_lines[1:]) == 6
    assert all(line.split()[1] == "0.0" for line in level_lines[1:])  # base got none right


GPU_RECIPE = [  # README's GPU recipe for math; it cannot run here (no GPU, no model hub), so it is checked
    "task=math", "name=qwen-gsm8k", "policy=vllm", "policy.model=Qwen/Qwen2.5-Math-1.5B-Instruct",
    "policy.gpu_memory_utilization=0.85", "policy.max_model_len=4096", "task.prompt_format=chat",
    "task.select=first", "task.n_train=2000", "task.n_test=1319", "explore.max_active_trees=512",
    "explore.max_tokens=256", "search.k=4", "search.max_expansions=16", "search.max_depth=12",
    "search.rollouts=8", "search.rollout_max_tokens=1024", "train.model=Qwen/Qwen2.5-Math-1.5B-Instruct",
    "train.use_cpu=false", "eval.n_problems=1319", "eval.max_tokens=1024", "eval.samples=8",
]


def test_the_readme_gpu_recipe_for_math_composes_and_validates(tmp_path):
    from journeyforge.settings import validate_config

    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        cfg = compose(config_name="config", overrides=GPU_RECIPE + [f"store.url=sqlite:///{tmp_path / 't.db'}"])
    validate_config(cfg)
    assert cfg.policy.backend == "vllm" and cfg.search.rollouts == 8 and cfg.task.prompt_format == "chat"
    readme = (__import__("pathlib").Path(__file__).resolve().parent.parent / "README.md").read_text()
    for override in GPU_RECIPE:
        assert override in readme, f"README's GPU recipe lacks {override}"


@pytest.mark.slow
def test_bundled_model_grows_math_trees_with_rollout_values(tmp_path, default_model_dir):
    """SmolLM2-135M on two short GSM8K problems: real steps, real rollouts, real math-verify."""
    cfg = _cfg(tmp_path, "policy=hf", "policy.model=smollm2-135m", "task.n_train=2", "task.n_test=1",
               "search.k=2", "search.max_expansions=1", "search.rollouts=2", "search.rollout_max_tokens=48")
    out = explore.run(cfg)
    assert out["trees_done"] == 2
    store = TraceStore(cfg.store.url)
    steps = [n for t in store.trees(out["run_id"]) for n in store.nodes(t["id"]) if n["parent_id"] is not None]
    assert steps and all(n["label"] in ("valid", "invalid", "dead_end", "solution", "wrong_answer") for n in steps)
    sampled = [n for n in steps if n["finish_reason"] != "rollout"]
    assert all(n["token_ids"] for n in sampled)
    rollouts = store.rollouts()
    valued = [n for n in steps if n["mc_value"] is not None]
    assert len(rollouts) == 2 * len(valued)
    assert all(0.0 <= n["mc_value"] <= 1.0 for n in valued)
    assert all(r["n_tokens"] > 0 and r["token_ids"] for r in rollouts)
