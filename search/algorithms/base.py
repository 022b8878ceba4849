"""The search-algorithm interface: which leaves to expand, and how to back values up.

An algorithm never calls the model (LLM Reasoners' `SearchAlgorithm` separation): the explorer asks
every tree of a wave for its leaves, sends all of them to the policy at once, then hands the new
children back to the algorithm.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from search.tasks.base import DEAD_END, INVALID, SOLUTION, VALID, WRONG_ANSWER
from search.tree import SearchNode, SearchTree


@dataclass
class SearchSettings:
    """Options shared by all algorithms (Hydra group `search`; `conf/search/<algorithm>.yaml` holds
    only what an algorithm changes). `__post_init__` rejects values no algorithm can use."""

    algorithm: str = "mcts"
    """Which algorithm grows the trees: mcts | beam | best_of_n | bfs | dfs | mixed (one of `mix` per tree)."""
    k: int = 4
    """Samples (children) drawn per expansion."""
    max_expansions: int = 16
    """Expansions (MCTS simulations) per tree; the tree is finished after this many."""
    max_nodes: int = 64
    """Stop growing a tree once it has this many nodes."""
    max_depth: int = 8
    """Never expand a node at this depth or deeper."""
    stop_on_solution: bool = False
    """Stop a tree at its first solution (journeys want the wrong branches explored after it)."""
    expansions_per_wave: int = 1
    """Leaves expanded per tree per wave (MCTS keeps them apart with virtual loss when > 1)."""
    c_uct: float = 1.4
    """UCT exploration constant of MCTS (0: pure exploitation)."""
    max_children: int = 16
    """MCTS samples again from a node whose children all failed (progressive widening) until this
    many samples were drawn from it: small models often need several tries for one legal step
    (0: never re-sample)."""
    beam_width: int = 2
    """Beam search: nodes kept per depth."""
    n_chains: int = 8
    """Best-of-N: independent chains sampled from the root."""
    value: str | None = None
    """The value estimator beside the algorithm (search/values.py): `label` (the task's own step
    labels), `rollout` (Monte-Carlo completions, Math-Shepherd / OmegaPRM), `prm` (a step scorer
    trained by `journeyforge prm`, `search.prm`), or null for the task's default."""
    prm: str | None = None
    """With `value=prm`: the scorer's directory (`<workdir>/prm` of the run that trained it)."""
    prm_batch_size: int = 32
    """With `value=prm`: paths per forward pass of the scorer (every new node of a wave is scored)."""
    rollouts: int = 8
    """With `value=rollout`: completions (M) sampled from each new non-terminal node."""
    rollout_max_tokens: int = 256
    """With `value=rollout`: token cap of one rollout (it runs to the final answer)."""
    rollout_temperature: float = 0.8
    """With `value=rollout`: sampling temperature of the rollouts."""
    graft_rollouts: bool = True
    """With `value=rollout`: add the first correct rollout of a node to the tree as nodes (its
    steps, then its final answer), marked `finish_reason='rollout'`. The rollout is the policy's
    own continuation from that node, so the tree gains the verified solution the estimate found
    (MCTS variants that keep the simulated path); with a weak policy this is where most solutions
    come from."""
    best_first: bool = False
    """BFS and DFS: expand the best-scored open nodes first, by the policy's score of each step (its
    log-probability; the symbolic policy's is the negated heuristic, Stream of Search's order). BFS
    then expands the `beam_width` best open nodes of the tree per wave (Stream of Search's BFS pops
    `beam_size` nodes off one heap), DFS the best child of the deepest node."""
    expand_dead_ends: bool = False
    """BFS and DFS: search on below legal steps the task's oracle marked `dead_end` while the task
    can continue them (Stream of Search's generator has no oracle: its searches walk into dead
    branches and back out, and its streams show that)."""
    mix: list[str] = field(default_factory=list)
    """With `algorithm=mixed`: the strategies drawn per tree (by a hash of the problem's key and
    `mix_seed`), each `bfs`, `dfs` or `bfs:<beam_width>`, e.g. [bfs:1, bfs:3, dfs] (Stream of Search
    mixed BFS of several beam sizes and DFS across problems)."""
    mix_seed: int = 0
    """Seed of the per-tree draw of `mix`."""
    label_values: dict[str, float] = field(default_factory=lambda: {
        VALID: 0.5, INVALID: 0.0, DEAD_END: 0.0, SOLUTION: 1.0, WRONG_ANSWER: 0.0})
    """Value of a new node from its label; terminals get the verifier's reward instead."""

    def __post_init__(self) -> None:
        for name in ("k", "max_expansions", "max_nodes", "max_depth", "expansions_per_wave", "beam_width",
                     "n_chains", "rollouts", "rollout_max_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"search.{name} must be an integer >= 1, got {value!r}")
        if self.max_children < 0:
            raise ValueError(f"search.max_children must be >= 0 (0: never re-sample), got {self.max_children!r}")
        for name in ("c_uct", "rollout_temperature"):
            if getattr(self, name) < 0:
                raise ValueError(f"search.{name} must be >= 0, got {getattr(self, name)!r}")
        # The estimators of search/values.py (ESTIMATORS); null picks the task's default.
        if self.value not in (None, "label", "rollout", "prm"):
            raise ValueError(f"search.value={self.value!r} is unknown; choose label, rollout, prm or null "
                             "(the task's default)")
        if self.value == "prm":
            check_scorer_dir(self.prm)
        if isinstance(self.prm_batch_size, bool) or not isinstance(self.prm_batch_size, int) or self.prm_batch_size < 1:
            raise ValueError(f"search.prm_batch_size must be an integer >= 1, got {self.prm_batch_size!r}")

def check_scorer_dir(path: str | None) -> dict:
    """The `prm.json` of the scorer directory `path`; ValueError naming search.prm when there is none."""
    import json
    from pathlib import Path

    from search.prm_scorer import SCORER_FILE

    if not path:
        raise ValueError("search.value=prm needs search.prm=<the scorer directory `journeyforge prm` wrote>")
    meta = Path(path) / SCORER_FILE
    if not meta.is_file():
        raise ValueError(f"search.prm={path}: no step scorer there (no {SCORER_FILE}); train one with "
                         "`journeyforge prm` (it writes <workdir>/prm)")
    try:
        return json.loads(meta.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"search.prm={path}: {meta} cannot be read ({err})") from None


def node_value(node: SearchNode, settings: SearchSettings) -> float:
    """Verifier reward at terminals, the Monte-Carlo estimate where rollouts gave one (the MCTS
    simulation step of Math-Shepherd / ASTRO), otherwise the step label's value."""
    if node.terminal and node.reward is not None and node.label != INVALID:
        return float(node.reward)
    if node.mc_value is not None:
        return float(node.mc_value)
    if node.prm_score is not None:
        return float(node.prm_score)
    return float(settings.label_values.get(node.label, 0.0))


def backup(node: SearchNode, value: float) -> None:
    """Add one visit with `value` to `node` and each ancestor."""
    n: SearchNode | None = node
    while n is not None:
        n.visits += 1
        n.value_sum += value
        n.dirty = True
        n = n.parent


def _has_state(state) -> bool:
    return state is not None


def expandable(node: SearchNode, settings: SearchSettings) -> bool:
    return not node.terminal and not node.expanded and node.depth < settings.max_depth


class Algorithm(ABC):
    """Chooses leaves per wave; evaluates and backs up the children the policy produced."""

    def __init__(self, settings: SearchSettings):
        self.s = settings
        self.can_continue = _has_state

    def bind(self, task) -> None:
        """Learn from the task whether a state can still be continued (`Task.can_continue`); the
        explorer calls this once. Algorithms still never call the model."""
        self.can_continue = task.can_continue

    def budget_left(self, tree: SearchTree) -> bool:
        if tree.expansions >= self.s.max_expansions or len(tree.nodes) >= self.s.max_nodes:
            return False
        return not (self.s.stop_on_solution and tree.solved)

    def select(self, tree: SearchTree) -> list[SearchNode]:
        """Leaves to expand in this wave; an empty list means the tree is finished."""
        if not self.budget_left(tree):
            return []
        return self._select(tree)

    @abstractmethod
    def _select(self, tree: SearchTree) -> list[SearchNode]:
        ...

    def samples(self, tree: SearchTree, node: SearchNode) -> int:
        """How many children to sample for `node`."""
        return self.s.k

    def on_expanded(self, tree: SearchTree, node: SearchNode, children: list[SearchNode]) -> None:
        """Evaluate the sampled children and back their values up.

        `children` has one entry per completion: a sample merged into an existing sibling appears
        again, and counts as one more visit of it.
        """
        node.expanded = True
        node.times_expanded += 1
        node.dirty = True
        tree.expansions += 1
        for child in children:
            backup(child, node_value(child, self.s))

    def end_wave(self, tree: SearchTree) -> None:
        """Called once per tree after all of its expansions in a wave were applied."""
