"""The explorer: grows every tree of a run together, in waves, against one trace store.

Each wave asks every active tree's algorithm for leaves, sends all expansions to the policy in ONE
batched `generate` call (batching across trees is what keeps a GPU, or a CPU, busy), applies the
steps through the task, and writes the wave in one transaction. A crash loses at most the wave in
flight; re-running continues from the stored nodes. Trees are claimed with leases, so several
explorer processes can share one run on PostgreSQL.
"""
from __future__ import annotations

import logging
import os
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from search.algorithms.base import Algorithm
from search.policies.base import GenerationRequest, Policy
from search.tasks.base import ROOT, VALID, Problem, Task
from search.tree import SearchNode, SearchTree

log = logging.getLogger(__name__)


@dataclass
class ExploreSettings:
    """Sampling and scheduling options of the explore stage."""

    max_active_trees: int = 64     # trees grown together; their expansions share one batch
    max_tokens: int = 32           # tokens per step (a step is one line)
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0
    lease_seconds: float = 120.0   # a tree whose worker stops renewing is reclaimed after this
    poll_seconds: float = 2.0      # wait between claims when other workers hold the remaining trees
    worker: str | None = None      # worker id; default "<host>:<pid>"
    max_waves: int | None = None   # stop after this many waves (tests, benchmarks)
    progress: bool = True


@dataclass
class ExploreSummary:
    trees: int = 0
    trees_done: int = 0
    solved: int = 0
    nodes: int = 0
    waves: int = 0
    labels: Counter = field(default_factory=Counter)
    generated_tokens: int = 0
    seconds: float = 0.0
    policy_seconds: float = 0.0
    store_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in ("trees", "trees_done", "solved", "nodes", "waves",
                                            "generated_tokens", "seconds", "policy_seconds", "store_seconds")}
        d["labels"] = dict(self.labels)
        return d


def _terminal_row(row: dict[str, Any]) -> bool:
    return row["label"] not in (VALID, ROOT)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Explorer:
    """Runs one explore run to completion (or until `max_waves`)."""

    def __init__(self, store, task: Task, policy: Policy, algorithm: Algorithm, settings: ExploreSettings,
                 prompt_format: str = "fewshot"):
        self.store = store
        self.task = task
        self.policy = policy
        self.algo = algorithm
        self.s = settings
        self.prompt_format = prompt_format
        self.worker = settings.worker or f"{socket.gethostname()}:{os.getpid()}"
        self._prompts: dict[str, tuple[str, list[int] | None]] = {}

    # -- trees -------------------------------------------------------------------------------
    def _prompt(self, problem: Problem) -> tuple[str, list[int] | None]:
        if self.prompt_format == "chat":
            text = self.policy.render_chat(self.task.prompt_messages(problem))
        else:
            text = self.task.prompt(problem)
        ids = self.policy.encode(text) if getattr(self.policy, "token_prompts", False) else None
        return text, ids

    def _load(self, infos: list[dict[str, Any]]) -> list[SearchTree]:
        """The claimed trees, from their stored nodes or with new roots (written in one wave);
        trees whose lease is already lost are left out."""
        trees, fresh = [], []
        for info in infos:
            p = info["problem"]
            problem = Problem(key=p["key"], payload=p["payload"], answer=p.get("answer"),
                              split=p.get("split", "train"), dataset=p.get("dataset", ""))
            prompt, prompt_ids = self._prompt(problem)
            rows = self.store.nodes(info["id"])  # a released or reclaimed tree continues from its nodes
            if rows:
                trees.append(SearchTree.from_rows(info["id"], problem, prompt, prompt_ids, rows, _terminal_row))
            else:
                fresh.append(SearchTree(info["id"], problem, prompt, prompt_ids, self.task.initial_state(problem)))
        if fresh:
            written = self.store.write_wave([t.row(t.root) for t in fresh], worker=self.worker)
            for tree, nid in zip(fresh, written):
                if nid is None:
                    log.warning("lost the lease of tree %d to another worker before writing its root", tree.tree_id)
                    continue
                tree.root.id = nid
                trees.append(tree)
        return trees

    def _release_dead_local_workers(self, run_id: int) -> None:
        """Free trees held by explorer processes on this host that no longer exist (kill -9),
        so a re-run on one machine continues at once instead of waiting for their leases."""
        host = socket.gethostname()
        stale: dict[str, list[int]] = {}
        for t in self.store.trees(run_id, status="running"):
            owner = t.get("claimed_by") or ""
            h, _, pid = owner.rpartition(":")
            if h == host and pid.isdigit() and owner != self.worker and not _pid_alive(int(pid)):
                stale.setdefault(owner, []).append(t["id"])
        for owner, ids in stale.items():
            self.store.release(ids, owner, "pending")
            log.info("released %d trees of stopped worker %s", len(ids), owner)

    # -- the loop -----------------------------------------------------------------------------
    def run(self, run_id: int) -> ExploreSummary:
        start = time.perf_counter()
        summary = ExploreSummary()
        infos = {t["id"]: t for t in self.store.trees(run_id)}
        summary.trees = len(infos)
        done_before = sum(1 for t in infos.values() if t["status"] in ("done", "failed"))
        self._release_dead_local_workers(run_id)
        active: dict[int, SearchTree] = {}
        last_renew = time.monotonic()
        bar = tqdm(total=len(infos), initial=done_before, desc="explore", unit="tree",
                   disable=not self.s.progress, dynamic_ncols=True)
        try:
            while True:
                if len(active) < self.s.max_active_trees:
                    claimed = self.store.claim_trees(run_id, self.worker, self.s.max_active_trees - len(active),
                                                     self.s.lease_seconds)
                    for tree in self._load([infos[tid] for tid in claimed]):
                        active[tree.tree_id] = tree
                if not active:
                    unfinished = [t for t in self.store.trees(run_id) if t["status"] not in ("done", "failed")]
                    if not unfinished or self.s.max_waves is not None:
                        break
                    time.sleep(self.s.poll_seconds)  # other workers hold the rest; wait for leases
                    continue
                if self.s.max_waves is not None and summary.waves >= self.s.max_waves:
                    break
                finished, lost = self._wave(active, summary)
                summary.waves += 1
                for tid in lost:
                    log.warning("lost the lease of tree %d to another worker; its last wave was not written", tid)
                    active.pop(tid)
                for tid in finished:
                    tree = active.pop(tid)
                    summary.trees_done += 1
                    summary.solved += tree.solved
                    bar.update(1)
                if time.monotonic() - last_renew > self.s.lease_seconds / 3 and active:
                    kept = set(self.store.renew_lease(list(active), self.worker))
                    for tid in [t for t in active if t not in kept]:
                        log.warning("lost the lease of tree %d to another worker", tid)
                        active.pop(tid)
                    last_renew = time.monotonic()
                bar.set_postfix(nodes=summary.nodes, solved=summary.solved, wave=summary.waves)
        except BaseException:
            # Hand unfinished trees back at once; their stored nodes are kept and resumed.
            if active:
                try:
                    self.store.release(list(active), self.worker, "pending")
                except Exception:  # the store itself may be what failed
                    log.exception("could not release trees; their leases will expire")
            raise
        finally:
            bar.close()
        if active:  # max_waves reached
            self.store.release(list(active), self.worker, "pending")
        summary.seconds = time.perf_counter() - start
        summary.generated_tokens = self.policy.stats.generated_tokens
        return summary

    def _wave(self, active: dict[int, SearchTree], summary: ExploreSummary) -> tuple[list[int], list[int]]:
        """One wave over every active tree: (trees this worker finished, trees it lost to another worker)."""
        jobs: list[tuple[SearchTree, SearchNode]] = []
        requests: list[GenerationRequest] = []
        finished: list[int] = []
        token_prompts = getattr(self.policy, "token_prompts", False)
        for tree in active.values():
            leaves = self.algo.select(tree)
            if not leaves:
                finished.append(tree.tree_id)
                continue
            for leaf in leaves:
                jobs.append((tree, leaf))
                requests.append(GenerationRequest(
                    prompt=tree.prompt_for(leaf),
                    prompt_token_ids=tree.prompt_ids_for(leaf) if token_prompts else None,
                    n=self.algo.samples(tree, leaf), max_tokens=self.s.max_tokens,
                    stop=tuple(self.task.stop), temperature=self.s.temperature, top_p=self.s.top_p,
                    seed=hash((self.s.seed, tree.tree_id, leaf.seq, tree.expansions)) & 0x7FFFFFFF,
                    meta={"state": leaf.state},
                ))
        t0 = time.perf_counter()
        outputs = self.policy.generate(requests) if requests else []
        summary.policy_seconds += time.perf_counter() - t0

        new_nodes: list[tuple[SearchTree, SearchNode]] = []
        touched: dict[int, SearchTree] = {}
        changed: dict[int, tuple[SearchTree, SearchNode]] = {}  # stored nodes whose visits/value moved
        for (tree, leaf), completions in zip(jobs, outputs):
            children = []
            for c in completions:
                result = self.task.apply_step(leaf.state, c.text)
                child, is_new = tree.add_child(leaf, c.text, result, token_ids=c.token_ids,
                                               logprob=c.logprob, finish_reason=c.finish_reason)
                if is_new:
                    new_nodes.append((tree, child))
                    summary.labels[child.label] += 1
                children.append(child)
            self.algo.on_expanded(tree, leaf, children)
            touched[tree.tree_id] = tree
            # Backups only touch the leaf's path and its (possibly merged) children.
            for n in (*leaf.path(), *children):
                if n.id is not None:
                    changed[id(n)] = (tree, n)
        for tree in touched.values():
            self.algo.end_wave(tree)

        rows = [tree.row(node) for tree, node in new_nodes]
        updates = [{"id": n.id, "tree_id": tree.tree_id, "visits": n.visits, "value": n.value, "count": n.count}
                   for tree, n in changed.values() if n.dirty]
        tree_updates = [self._tree_update(active[tid]) for tid in finished]
        t0 = time.perf_counter()
        # Fenced by this worker's leases: if a slow wave let a lease expire and another worker took
        # the tree over, none of this wave's rows for it are written (the store renews the others).
        ids = self.store.write_wave(rows, updates, tree_updates, worker=self.worker)
        summary.store_seconds += time.perf_counter() - t0
        lost = set(ids.lost)
        for (tree, node), nid in zip(new_nodes, ids):
            node.id = nid
        for _, n in changed.values():
            n.dirty = False
        for _, n in new_nodes:
            n.dirty = False
        summary.nodes += sum(nid is not None for nid in ids)
        return [tid for tid in finished if tid not in lost], sorted(lost)

    def _tree_update(self, tree: SearchTree) -> dict[str, Any]:
        labels = Counter(n.label for n in tree.nodes)
        return {"id": tree.tree_id, "status": "done",
                "stats": {"nodes": len(tree.nodes), "expansions": tree.expansions,
                          "solved": tree.solved, "labels": dict(labels)}}
