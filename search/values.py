"""Value estimators: the role beside the search algorithm that says how good a new node is.

- `label`: the task's own step labels (exact where the task's solver is an oracle); no model
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

from dataclasses import dataclass, field
from typing import Any

from search.policies.base import GenerationRequest, Policy
from search.prm_scorer import check_scorer_dir
from search.tasks.base import DEAD_END, INVALID, MISTAKE_LABELS, SOLUTION, VALID, WRONG_ANSWER, StepResult, Task
from search.tree import SearchNode, SearchTree


# -- the options each estimator owns (fields of the Hydra group `search`) ----------------------------

@dataclass
class ValueChoiceSettings:
    """Which estimator values the new nodes (`search.value`)."""

    value: str | None = None
    """The value estimator beside the algorithm (search/values.py ESTIMATORS): `label` (the task's
    own step labels), `rollout` (Monte-Carlo completions, Math-Shepherd / OmegaPRM), `prm` (a step
    scorer trained by `journeyforge prm`, `search.prm`), or null for the task's default."""

    def check(self) -> None:
        """ValueError naming search.value unless it names a registered estimator or is null."""
        if self.value is not None and self.value not in ESTIMATORS:
            raise ValueError(f"search.value={self.value!r} is unknown; choose {', '.join(ESTIMATORS)} or null "
                             "(the task's default)")


@dataclass
class LabelValueSettings:
    """The `label` estimator's option; every value falls back on it where no other estimate exists."""

    label_values: dict[str, float] = field(default_factory=lambda: {
        VALID: 0.5, INVALID: 0.0, DEAD_END: 0.0, SOLUTION: 1.0, WRONG_ANSWER: 0.0})
    """Value of a new node from its label; terminals get the verifier's reward instead."""


@dataclass
class RolloutValueSettings:
    """The `rollout` estimator's options (`search.rollouts`, ...). Rollouts sample with the explore
    stage's `explore.top_p` (the nucleus of every sample of the run); their temperature is their own."""

    rollouts: int = 8
    """With `value=rollout`: completions (M) sampled from each new non-terminal node."""
    rollout_max_tokens: int = 256
    """With `value=rollout`: token cap of one rollout (it runs to the final answer)."""
    rollout_temperature: float = 0.8
    """With `value=rollout`: sampling temperature of the rollouts (their top_p is `explore.top_p`)."""
    graft_rollouts: bool = True
    """With `value=rollout`: add the first correct rollout of a node to the tree as nodes (its
    steps, then its final answer), marked `finish_reason='rollout'`. The rollout is the policy's
    own continuation from that node, so the tree gains the verified solution the estimate found
    (MCTS variants that keep the simulated path); with a weak policy this is where most solutions
    come from."""

    def check(self) -> None:
        """ValueError naming the option for a count below 1 or a negative temperature."""
        for name in ("rollouts", "rollout_max_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"search.{name} must be an integer >= 1, got {value!r}")
        if self.rollout_temperature < 0:
            raise ValueError(f"search.rollout_temperature must be >= 0, got {self.rollout_temperature!r}")


@dataclass
class PRMValueSettings:
    """The `prm` estimator's options (`search.prm`, `search.prm_batch_size`)."""

    prm: str | None = None
    """With `value=prm`: the scorer's directory (`<workdir>/prm` of the run that trained it)."""
    prm_batch_size: int = 32
    """With `value=prm`: paths per forward pass of the scorer (every new node of a wave is scored)."""

    def check(self) -> None:
        """ValueError naming the option: no scorer where `value=prm` needs one, or a batch below 1."""
        if getattr(self, "value", None) == "prm":
            check_scorer_dir(self.prm)
        if isinstance(self.prm_batch_size, bool) or not isinstance(self.prm_batch_size, int) or self.prm_batch_size < 1:
            raise ValueError(f"search.prm_batch_size must be an integer >= 1, got {self.prm_batch_size!r}")


@dataclass
class Valued:
    """A new node waiting for its value, and where its stored row will be in the wave."""

    tree: SearchTree
    node: SearchNode
    row_index: int      # position of the node among the wave's new rows


class ValueEstimator:
    """`label`: the task's labels are the values; nothing to sample."""

    name = "label"
    settings_class: type = LabelValueSettings

    @classmethod
    def from_settings(cls, task: Task, settings: Any, top_p: float) -> "ValueEstimator":
        """The estimator from the joined `search` settings (search/algorithms/__init__.py SearchSettings,
        which holds every estimator's options under their own names) and the run's `explore.top_p`."""
        return cls(task)

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
    settings_class = RolloutValueSettings

    @classmethod
    def from_settings(cls, task: Task, settings: Any, top_p: float) -> "RolloutValue":
        return cls(task, settings, top_p)

    def __init__(self, task: Task, settings: RolloutValueSettings | None = None, top_p: float = 1.0):
        super().__init__(task)
        self.settings = settings or RolloutValueSettings()
        RolloutValueSettings.check(self.settings)  # its own options, in the joined `search` settings too
        self.top_p = top_p

    @property
    def m(self) -> int:
        """Completions per node (`search.rollouts`)."""
        return self.settings.rollouts

    @property
    def max_tokens(self) -> int:
        """Token cap of one rollout (`search.rollout_max_tokens`): the explorer checks each rollout
        prompt against the policy's context with it before any rollout is sent."""
        return self.settings.rollout_max_tokens

    def wants(self, node: SearchNode, result: StepResult) -> bool:
        # Final steps are judged by the verifier and illegal ones by the rules; every other label
        # (an oracle's valid / dead_end included) is replaced by what the rollouts find.
        return not result.final and node.state is not None and node.label in (VALID, DEAD_END)

    def estimate(self, items: list[Valued], policy: Policy, seed: int) -> tuple[list[dict[str, Any]], int]:
        if not items:
            return [], 0
        return self.finish(items, policy.generate(self.requests(items, policy, seed)))

    def requests(self, items: list[Valued], policy: Policy, seed: int) -> list[GenerationRequest]:
        """The `m`-sample rollout request of every item (explore.continuous sends them with `submit`)."""
        token_prompts = getattr(policy, "token_prompts", False)
        return [GenerationRequest(
            prompt=it.tree.prompt_for(it.node),
            prompt_token_ids=it.tree.prompt_ids_for(it.node) if token_prompts else None,
            n=self.m, max_tokens=self.settings.rollout_max_tokens, stop=tuple(self.task.answer_stop),
            temperature=self.settings.rollout_temperature, top_p=self.top_p,
            seed=hash((seed, 1, it.tree.tree_id, it.node.seq)) & 0x7FFFFFFF,  # ints only: stable across processes
            meta={"state": it.node.state, "problem": it.tree.problem, "rollout": True},
        ) for it in items]

    def finish(self, items: list[Valued], outputs: list) -> tuple[list[dict[str, Any]], int]:
        """`estimate` from the rollouts drawn for `items` (one list of completions per item)."""
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
    settings_class = PRMValueSettings

    @classmethod
    def from_settings(cls, task: Task, settings: Any, top_p: float) -> "PRMValue":
        return cls(task, settings.prm, settings.prm_batch_size)

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


# The one registry of value estimators: `search.value` accepts these names, and each estimator's
# `settings_class` joins the Hydra group `search` (search/algorithms/__init__.py SearchSettings).
ESTIMATORS: dict[str, type[ValueEstimator]] = {"label": ValueEstimator, "rollout": RolloutValue, "prm": PRMValue}


def make_value_estimator(task: Task, settings: Any, top_p: float) -> ValueEstimator:
    """The estimator named by `settings.value` (None: the task's `default_value`), built from the joined
    `search` settings (each estimator reads its own options there) and the run's `explore.top_p`."""
    name = settings.value or task.default_value
    if name not in ESTIMATORS:
        raise ValueError(f"search.value={name!r} is unknown; choose one of {', '.join(ESTIMATORS)}")
    return ESTIMATORS[name].from_settings(task, settings, top_p)
