"""Value estimators: the role beside the search algorithm that says how good a new node is.

- `label`: the task's own step labels (exact for Countdown, whose solver is an oracle); no model
  calls. A node's value is the verifier's reward at terminals and `search.label_values` elsewhere.
- `rollout`: Monte-Carlo estimation as in Math-Shepherd (Wang et al. 2024), OmegaPRM (Luo et al.
  2024) and ASTRO: from each new non-final node, M completions are sampled to the end of a solution,
  each final answer is verified, and the node's value is the fraction that were correct (the soft
  estimate; the hard estimate "any correct" is kept too). A node no completion rescues is a mistake
  (`dead_end`, "0 of 8 completions reached the answer"); a node with some success is `valid`.

Rollouts of a wave go to the policy in ONE batched `generate` call after the wave's expansions, and
are written in the wave's transaction, so they are neither lost nor duplicated by a crash.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from search.policies.base import GenerationRequest, Policy
from search.tasks.base import DEAD_END, MISTAKE_LABELS, VALID, StepResult, Task
from search.tree import SearchNode, SearchTree

ESTIMATORS = ("label", "rollout", "prm")


@dataclass
class Valued:
    """A new node waiting for its value, and where its stored row will be in the wave."""

    tree: SearchTree
    node: SearchNode
    row_index: int      # position of the node among the wave's new rows


class ValueEstimator:
    """`label`: the task's labels are the values; nothing to sample."""

    name = "label"

    def __init__(self, task: Task):
        self.task = task

    def wants(self, node: SearchNode, result: StepResult) -> bool:
        """Whether `node` (just created from `result`) needs an estimate from this estimator."""
        return False

    def estimate(self, items: list[Valued], policy: Policy, seed: int) -> tuple[list[dict[str, Any]], int]:
        """Value every item (setting `mc_value`, `mc_hard`, label, reason, terminal on its node);
        returns the `rollouts` rows (each naming its node by `node_index`) and the tokens spent."""
        return [], 0


class RolloutValue(ValueEstimator):
    """Monte-Carlo values from `m` completions per node (one batched call per wave)."""

    name = "rollout"

    def __init__(self, task: Task, m: int = 8, max_tokens: int = 256, temperature: float = 0.8, top_p: float = 1.0):
        super().__init__(task)
        if m < 1:
            raise ValueError(f"search.rollouts must be >= 1, got {m}")
        if max_tokens < 1:
            raise ValueError(f"search.rollout_max_tokens must be >= 1, got {max_tokens}")
        self.m, self.max_tokens, self.temperature, self.top_p = m, max_tokens, temperature, top_p

    def wants(self, node: SearchNode, result: StepResult) -> bool:
        # Final steps are judged by the verifier and illegal ones by the rules; every other label
        # (an oracle's valid / dead_end included) is replaced by what the rollouts find.
        return not result.final and node.state is not None and node.label in (VALID, DEAD_END)

    def estimate(self, items: list[Valued], policy: Policy, seed: int) -> tuple[list[dict[str, Any]], int]:
        if not items:
            return [], 0
        token_prompts = getattr(policy, "token_prompts", False)
        requests = [GenerationRequest(
            prompt=it.tree.prompt_for(it.node),
            prompt_token_ids=it.tree.prompt_ids_for(it.node) if token_prompts else None,
            n=self.m, max_tokens=self.max_tokens, stop=tuple(self.task.answer_stop),
            temperature=self.temperature, top_p=self.top_p,
            seed=hash((seed, 1, it.tree.tree_id, it.node.seq)) & 0x7FFFFFFF,  # ints only: stable across processes
            meta={"state": it.node.state, "problem": it.tree.problem, "rollout": True},
        ) for it in items]
        outputs = policy.generate(requests)
        texts = [[self.task.close_answer(c.text, c.finish_reason) for c in cs] for cs in outputs]
        answers = [[self.task.extract_answer(t) for t in ts] for ts in texts]
        verdicts = iter(self.task.verify_many(
            [(it.tree.problem, a) for it, ans in zip(items, answers) for a in ans]))
        rows: list[dict[str, Any]] = []
        tokens = 0
        for it, completions, ts, ans in zip(items, outputs, texts, answers):
            correct = 0
            for idx, (c, text, answer) in enumerate(zip(completions, ts, ans)):
                ok = bool(next(verdicts)) and answer is not None
                correct += ok
                n_tokens = len(c.token_ids or ())
                tokens += n_tokens
                rows.append({"node_index": it.row_index, "tree_id": it.tree.tree_id, "idx": idx, "text": text,
                             "token_ids": c.token_ids, "answer": answer, "is_correct": ok,
                             "n_tokens": n_tokens, "finish_reason": c.finish_reason})
            node, total = it.node, len(completions)
            node.mc_value = correct / total if total else 0.0
            node.mc_hard = 1.0 if correct else 0.0
            if correct:
                node.label, node.reason, node.terminal = VALID, None, False
            else:
                node.label, node.terminal = DEAD_END, True
                node.reason = f"0 of {total} completions reached the answer"
        return rows, tokens


class PRMValue(ValueEstimator):
    """A trained step scorer's value of every new node (`journeyforge prm`; Math-Shepherd, rStar-Math's
    process preference model): the question and the node's path of steps, scored at the last step, in
    one batched forward pass per wave. Labels stay the task's; the score is the node's value
    (`nodes.prm_score`)."""

    name = "prm"

    def __init__(self, task: Task, scorer_dir: str, batch_size: int = 32, max_length: int = 1024):
        from search.prm_scorer import load_scorer

        super().__init__(task)
        self.scorer_dir, self.batch_size, self.max_length = scorer_dir, batch_size, max_length
        self.model, self.tokenizer = load_scorer(scorer_dir)

    def wants(self, node: SearchNode, result: StepResult) -> bool:
        # As with rollouts: final steps are judged by the verifier and illegal ones by the rules.
        return not result.final and node.state is not None and node.label in (VALID, DEAD_END)

    def estimate(self, items: list[Valued], policy: Policy, seed: int) -> tuple[list[dict[str, Any]], int]:
        from search.prm_scorer import score_paths

        if not items:
            return [], 0
        rows = [{"prompt": self.task.question(it.tree.problem),
                 "completions": [self.task.quote(n.text) for n in it.node.path() if n.parent is not None]}
                for it in items]
        scores = score_paths(self.model, self.tokenizer, rows, self.max_length, self.batch_size)
        for it, path_scores in zip(items, scores):
            it.node.prm_score = path_scores[-1] if path_scores and path_scores[-1] is not None else None
        return [], 0


def mark_first_error(node: SearchNode) -> None:
    """OmegaPRM's first error: a mistake none of whose ancestors is one."""
    if node.label in MISTAKE_LABELS:
        parent = node.parent
        while parent is not None:
            if parent.label in MISTAKE_LABELS:
                return
            parent = parent.parent
        node.first_error = True


def make_value_estimator(task: Task, name: str | None = None, *, rollouts: int = 8, max_tokens: int = 256,
                         temperature: float = 0.8, top_p: float = 1.0, prm: str | None = None,
                         prm_batch_size: int = 32) -> ValueEstimator:
    """The estimator called `name` (None: the task's `default_value`)."""
    name = name or task.default_value
    if name == "label":
        return ValueEstimator(task)
    if name == "rollout":
        return RolloutValue(task, rollouts, max_tokens, temperature, top_p)
    if name == "prm":
        return PRMValue(task, prm, prm_batch_size)
    raise ValueError(f"search.value={name!r} is unknown; choose one of {', '.join(ESTIMATORS)}")
