"""The other rounds of a self-evolution run: which explore runs belong to the same evolve run as the
one shown, and which of their trees grew the same problems.

`journeyforge evolve` names round k's runs `<name>/round-<k>` and records in `runs` each run's round,
the run it came from (`parent_run_id`: round k-1's explore run for round k's explore run) and the
model that grew it (journeyforge/stages/evolve.py). An explore run is in the shown run's family when
its name is a round of the same evolve name, or when parent links join it to the shown run, so that a
round whose name was changed still links. Every value is read through `Cleaner`: a shared store is
not trusted, and a `parent_run_id` that is no run id simply links nothing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from viewer.clean import Cleaner

# How evolve names a round's runs (journeyforge/stages/evolve.py round_name).
ROUND_NAME = re.compile(r"^(?P<evolve>.+)/round-(?P<k>\d+)$")
# The part of a model's sha256 shown beside it (as the evolve report does); the full one on hover.
SHA_CHARS = 12


@dataclass
class RoundRun:
    """One explore run of an evolve run, as the pages show it."""

    id: int
    name: str
    round: int | None
    """runs.round; for a run that has none, the <k> of its `<evolve>/round-<k>` name; else None."""
    model: str | None
    """runs.model: the model that grew the run's trees (a name, a directory or a backend), as text."""
    model_sha256: str | None
    trees: list[dict] = field(default_factory=list)
    """The run's `trees` rows (each with its `problem`) of the problems the site shows."""
    all_trees: int = 0
    solved: set[int] = field(default_factory=set)
    """Ids of the run's solved trees."""

    def lineage(self) -> dict:
        """The run's round and model, as a page's data shows them."""
        sha = self.model_sha256
        return {"round": self.round, "model": self.model, "model_sha256": sha,
                "model_sha256_short": sha[:SHA_CHARS] if sha else None}


def evolve_name(run_name: str) -> str | None:
    """`X` for a run named `X/round-<k>`, else None."""
    match = ROUND_NAME.match(run_name)
    return match["evolve"] if match else None


def _round_run(run: dict, cleaner: Cleaner) -> RoundRun:
    name = Cleaner.text(run.get("name")) or ""
    k = cleaner.integer("runs.round", run.get("round"))
    if k is None and (match := ROUND_NAME.match(name)):
        k = int(match["k"])  # a round run stopped before evolve recorded its lineage
    return RoundRun(id=run["id"], name=name, round=k, model=Cleaner.text(run.get("model")),
                    model_sha256=Cleaner.text(run.get("model_sha256")))


def family_runs(runs: list[dict], shown: dict, cleaner: Cleaner) -> list[RoundRun]:
    """The explore runs of `runs` (every `runs` row) in the shown explore run's evolve run, the
    shown one included, by round then id; just the shown run when it is in no evolve run."""
    explores = {r["id"]: r for r in runs if r.get("stage") == "explore"}
    explores[shown["id"]] = shown
    links = Cleaner()  # parent links only decide membership: runs outside the family are not counted
    parent = {i: links.integer("runs.parent_run_id", r.get("parent_run_id")) for i, r in explores.items()}
    members = {shown["id"]}
    evolve = evolve_name(Cleaner.text(shown.get("name")) or "")
    if evolve is not None:
        members |= {i for i, r in explores.items() if evolve_name(Cleaner.text(r.get("name")) or "") == evolve}
    grown = True
    while grown:  # parent links, both ways, until nothing joins
        grown = False
        for child, up in parent.items():
            if up in explores and up != child and (child in members) != (up in members):
                members |= {child, up}
                grown = True
    family = [_round_run(explores[i], cleaner) for i in members]
    return sorted(family, key=lambda r: (r.round is None, r.round if r.round is not None else 0, r.id))


def read_family(store, shown: dict, problem_ids: set[int], cleaner: Cleaner) -> list[RoundRun]:
    """`family_runs` of the store, each run with its trees of `problem_ids` and its solved tree ids."""
    family = family_runs(store.runs(), shown, cleaner)
    if len(family) < 2:
        return family
    for run in family:
        trees = store.trees(run.id)
        run.all_trees = len(trees)
        run.trees = [t for t in trees if t.get("problem_id") in problem_ids]
        run.solved = set(store.solved(run.id))
    return family


def problem_rounds(family: list[RoundRun]) -> dict[int, list[dict]]:
    """{problem id: the trees every round of `family` grew for it}, each entry {round, run, tree_id,
    status, solved}, in the family's order; empty when there are no other rounds."""
    if len(family) < 2:
        return {}
    out: dict[int, list[dict]] = {}
    for run in family:
        for tree in run.trees:
            out.setdefault(tree["problem_id"], []).append(
                {"round": run.round, "run": run.name, "tree_id": tree["id"], "status": Cleaner.text(tree.get("status")),
                 "solved": tree["id"] in run.solved})
    return out


def rounds_summary(family: list[RoundRun], shown_id: int) -> list[dict]:
    """One row per round of the evolve run for the index: its run, model, trees, solved trees and how
    many of them grew a problem the site shows (those have pages); [] outside an evolve run."""
    if len(family) < 2:
        return []
    return [{**run.lineage(), "run": run.name, "shown": run.id == shown_id, "trees": run.all_trees,
             "solved": len(run.solved), "linked": len(run.trees)} for run in family]
