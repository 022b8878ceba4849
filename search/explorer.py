"""The explorer: grows every tree of a run together, in waves, against one trace store.

Each wave asks every active tree's algorithm for leaves, sends all expansions to the policy in ONE
batched `generate` call (batching across trees is what keeps a GPU, or a CPU, busy), applies the
steps through the task, and writes the wave in one transaction. With `explore.continuous` (backends
that take requests one by one) a tree's next expansion is sent as soon as its last one is back, and
a wave is whatever came back together: no tree waits for the slowest completion. A crash loses at
most the wave in flight; re-running continues from the stored nodes. Trees are claimed with leases,
so several explorer processes can share one run on PostgreSQL.
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
from search.explore_settings import ExploreSettings, ExploreSummary
from search.policies.base import GenerationRequest, Policy, context_overflow
from search.tasks.base import ROOT, SOLUTION, VALID, Problem, Task
from search.tree import SearchNode, SearchTree
from search.values import ValueEstimator, Valued, make_value_estimator, mark_first_error

log = logging.getLogger(__name__)


def _one_line(err: BaseException) -> str:
    return " ".join(str(getattr(err, "orig", None) or err).split())[:300]


def _warn_once(stopped: BaseException, err: BaseException, what: str) -> None:
    """Log `what` with `err` in one line, unless `err` says what `stopped` (the error the stage will
    print) already says."""
    if _one_line(err) != _one_line(stopped):
        log.warning("%s: %s", what, _one_line(err))


@dataclass
class _Applied:
    """Expansions applied to their trees and waiting to be backed up and written (one wave's, or
    several trees' under explore.continuous): (tree, leaf, children), new (tree, node)s in row
    order, nodes to value (`row_index` into `new_nodes`), and their rollouts once drawn."""

    expanded: list = field(default_factory=list)
    new_nodes: list = field(default_factory=list)
    to_value: list = field(default_factory=list)
    rollouts: list = field(default_factory=list)
    rollout_tokens: int = 0

    @staticmethod
    def merge(parts: list["_Applied"]) -> "_Applied":
        """One part of several, row indices (of valued nodes and their rollouts) shifted to match."""
        if len(parts) == 1:
            return parts[0]
        out = _Applied()
        for part in parts:
            offset = len(out.new_nodes)
            for item in part.to_value:
                item.row_index += offset
            for row in part.rollouts:
                row["node_index"] += offset
            out.expanded += part.expanded
            out.new_nodes += part.new_nodes
            out.to_value += part.to_value
            out.rollouts += part.rollouts
            out.rollout_tokens += part.rollout_tokens
        return out


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
                 values: ValueEstimator | None = None):
        self.store = store
        self.task = task
        self.policy = policy
        self.algo = algorithm
        algorithm.bind(task)  # whether a state can be continued (search.expand_dead_ends)
        self.s = settings
        # Each estimator reads its own options from the `search` settings; rollouts sample with explore.top_p.
        self.values = values or make_value_estimator(task, algorithm.s, top_p=self.s.top_p)
        self.worker = settings.worker or f"{socket.gethostname()}:{os.getpid()}"
        self._prompts: dict[str, tuple[str, list[int] | None]] = {}
        self._writer = None     # the background write thread (explore.overlap_writes)
        self._pending = None    # the wave being written there: (future, its new nodes)
        # explore.continuous: tree id -> its expansion's (tree, leaf, future)s in flight, and tree id ->
        # (its applied expansion, its rollouts' futures)
        self._flying: dict[int, list] = {}
        self._valuing: dict[int, tuple] = {}

    # -- trees -------------------------------------------------------------------------------
    def _prompt(self, problem: Problem) -> tuple[str, list[int] | None]:
        render_chat = self.policy.render_chat if self.task.prompt_format == "chat" else None
        text = self.task.prompt(problem, render_chat=render_chat)
        ids = self.policy.encode(text) if getattr(self.policy, "token_prompts", False) else None
        return text, ids

    def _load(self, infos: list[dict[str, Any]]) -> list[SearchTree]:
        """The claimed trees, from their stored nodes or with new roots (written in one wave);
        trees whose lease is already lost are left out."""
        trees, fresh = [], []
        for info in infos:
            p = info["problem"]
            problem = Problem.from_row(p)
            prompt, prompt_ids = self._prompt(problem)
            rows = self.store.nodes(info["id"])  # a released or reclaimed tree continues from its nodes
            if rows:
                trees.append(SearchTree.from_rows(info["id"], problem, prompt, prompt_ids, rows, _terminal_row,
                                                  self.task.step_delimiter))
            else:
                fresh.append(SearchTree(info["id"], problem, prompt, prompt_ids, self.task.initial_state(problem),
                                        self.task.step_delimiter))
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
        claimed: list[int] = []   # handed back on failure too: loading them (their prompts' tokens) may fail
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
                    self._finish_write(summary)   # its trees' final status is part of it
                    unfinished = [t for t in self.store.trees(run_id) if t["status"] not in ("done", "failed")]
                    if not unfinished or self.s.max_waves is not None:
                        break
                    time.sleep(self.s.poll_seconds)  # other workers hold the rest; wait for leases
                    continue
                if self.s.max_waves is not None and summary.waves >= self.s.max_waves:
                    break
                step = self._continuous_step if self.s.continuous else self._wave
                finished, lost, failed = step(active, summary)
                summary.waves += 1
                for tid, why in failed.items():
                    tree = active.pop(tid)
                    log.warning("tree %d (problem %s) %s: %s", tid, tree.problem.key,
                                "is done (solved)" if tree.solved else "failed", why)
                    summary.trees_done += tree.solved
                    summary.solved += tree.solved
                    summary.trees_failed += not tree.solved
                    bar.update(1)
                for tid in lost:
                    log.warning("lost the lease of tree %d to another worker; its last wave was not written", tid)
                    active.pop(tid, None)   # with overlap_writes a tree may be gone (finished) before its write
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
            for tid in self._finish_write(summary):   # the last wave's write (overlap_writes)
                active.pop(tid, None)
        except BaseException as stopped:
            # Hand unfinished trees back at once; their stored nodes are kept and resumed. What failed
            # here is logged in one line and no traceback: the stage prints the error that stopped it
            # (often the same one, e.g. a full disk), and a traceback would bury that line.
            try:
                self._finish_write(summary)
            except Exception as err:  # the write in flight failed too: that wave is lost, earlier ones are stored
                _warn_once(stopped, err, "the wave being written was not stored (earlier waves are)")
            if active or claimed:   # release() skips trees finished or lost since they were claimed
                try:
                    self.store.release(list({*active, *claimed}), self.worker, "pending")
                except Exception as err:  # the store itself may be what failed
                    _warn_once(stopped, err, "could not hand the trees back; their leases will expire")
            raise
        finally:
            bar.close()
            if self._writer is not None:
                self._writer.shutdown(wait=True)
                self._writer = None
        if active:  # max_waves reached
            self.store.release(list(active), self.worker, "pending")
        summary.seconds = time.perf_counter() - start
        summary.generated_tokens = self.policy.stats.generated_tokens
        return summary

    def _wave(self, active: dict[int, SearchTree],
              summary: ExploreSummary) -> tuple[list[int], list[int], dict[int, str]]:
        """One wave over every active tree: (trees this worker finished, trees it lost to another
        worker, trees it stopped because a prompt does not fit the policy's context -> why)."""
        jobs, requests, finished, refused = self._requests(active.values())
        t0 = time.perf_counter()
        outputs = self.policy.generate(requests) if requests else []
        part = self._apply(jobs, outputs, refused)
        # The wave's rollouts (or scores): one more batched call, before any value is backed up.
        part.rollouts, part.rollout_tokens = self.values.estimate(part.to_value, self.policy, self.s.seed)
        summary.policy_seconds += time.perf_counter() - t0
        return self._commit(active, part, finished, refused, summary)

    def _continuous_step(self, active: dict[int, SearchTree],
                         summary: ExploreSummary) -> tuple[list[int], list[int], dict[int, str]]:
        """explore.continuous: send the next expansion of every active tree that has nothing in flight;
        a tree whose expansion is back has its steps applied and its rollouts sent at once; then every
        tree whose expansion (and rollouts) are back is backed up and written as one wave. Waits until
        at least one tree is ready. Same trees as `_wave`."""
        from concurrent.futures import FIRST_COMPLETED, wait

        flying, valuing = self._flying, self._valuing
        for tid in [t for t in (*flying, *valuing) if t not in active]:   # lost or given back meanwhile
            flying.pop(tid, None)
            valuing.pop(tid, None)
        idle = [tree for tid, tree in active.items() if tid not in flying and tid not in valuing]
        jobs, requests, finished, refused = self._requests(idle)
        if requests:
            for (tree, leaf), future in zip(jobs, self.policy.submit(requests)):
                flying.setdefault(tree.tree_id, []).append((tree, leaf, future))
        rollouts = self.values.name == "rollout"
        ready: list[_Applied] = []
        t0 = time.perf_counter()
        while not ready and not finished and not refused and (flying or valuing):
            pending = [f for sent in flying.values() for _, _, f in sent]
            pending += [f for _, fs in valuing.values() for f in fs]
            wait(pending, return_when=FIRST_COMPLETED)
            if self.s.gather_seconds:   # let more trees come back, for fewer, larger transactions
                time.sleep(self.s.gather_seconds)
            for tid in [t for t, sent in flying.items() if all(f.done() for _, _, f in sent)]:
                sent = flying.pop(tid)
                # a failed request raises here, as generate would
                part = self._apply([(tree, leaf) for tree, leaf, _ in sent], [f.result() for *_, f in sent], refused)
                if rollouts and part.to_value:
                    valuing[tid] = (part, self.policy.submit(self.values.requests(part.to_value, self.policy,
                                                                                  self.s.seed)))
                else:   # nothing to value, or a local scorer (search.value=prm): no engine call to wait for
                    part.rollouts, part.rollout_tokens = self.values.estimate(part.to_value, self.policy, self.s.seed)
                    ready.append(part)
            for tid in [t for t, (_, fs) in valuing.items() if all(f.done() for f in fs)]:
                part, fs = valuing.pop(tid)
                part.rollouts, part.rollout_tokens = self.values.finish(part.to_value, [f.result() for f in fs])
                ready.append(part)
        summary.policy_seconds += time.perf_counter() - t0
        return self._commit(active, _Applied.merge(ready), finished, refused, summary)

    def _requests(self, trees) -> tuple[list, list[GenerationRequest], list[int], dict[int, str]]:
        """The next expansion of each of `trees`: ((tree, leaf) per request, the requests, trees with
        nothing left to expand, trees whose prompt does not fit -> why)."""
        jobs: list[tuple[SearchTree, SearchNode]] = []
        requests: list[GenerationRequest] = []
        finished: list[int] = []
        refused: dict[int, str] = {}
        token_prompts = getattr(self.policy, "token_prompts", False)
        for tree in trees:
            leaves = self.algo.select(tree)
            if not leaves:
                finished.append(tree.tree_id)
                continue
            mine = [(leaf, GenerationRequest(
                prompt=tree.prompt_for(leaf),
                prompt_token_ids=tree.prompt_ids_for(leaf) if token_prompts else None,
                n=self.algo.samples(tree, leaf), max_tokens=self.s.max_tokens,
                stop=tuple(self.task.stop), temperature=self.s.temperature, top_p=self.s.top_p,
                seed=hash((self.s.seed, tree.tree_id, leaf.seq, tree.expansions)) & 0x7FFFFFFF,
                meta={"state": leaf.state, "problem": tree.problem},
            )) for leaf in leaves]
            why = next((w for leaf, r in mine if (w := self._refusal(tree, leaf, r, "step"))), None)
            if why is not None:   # none of its requests is sent; the rest of the wave goes on
                refused[tree.tree_id] = why
                continue
            for leaf, request in mine:
                jobs.append((tree, leaf))
                requests.append(request)
        return jobs, requests, finished, refused

    def _apply(self, jobs: list, outputs: list, refused: dict[int, str]) -> "_Applied":
        """The expansions that came back (`outputs`, one list per job) as new child nodes, and which
        of them need a value. A tree with a rollout prompt that does not fit stops here (`refused`);
        its new steps are still stored."""
        part = _Applied()
        for (tree, leaf), completions in zip(jobs, outputs):
            children = []
            for c in completions:
                result = self.task.apply_step(leaf.state, c.text, tree.problem)
                child, is_new = tree.add_child(leaf, c.text, result, token_ids=c.token_ids,
                                               logprob=c.logprob, finish_reason=c.finish_reason)
                if is_new:
                    if self.values.wants(child, result):
                        part.to_value.append(Valued(tree, child, len(part.new_nodes)))
                    part.new_nodes.append((tree, child))
                children.append(child)
            part.expanded.append((tree, leaf, children))
        for item in part.to_value if self.values.name == "rollout" else ():
            if item.tree.tree_id not in refused:
                why = self._refusal(item.tree, item.node, self._rollout_request(item.tree, item.node), "rollout")
                if why is not None:
                    refused[item.tree.tree_id] = why
        part.to_value = [item for item in part.to_value if item.tree.tree_id not in refused]
        return part

    def _commit(self, active: dict[int, SearchTree], part: "_Applied", finished: list[int],
                refused: dict[int, str], summary: ExploreSummary) -> tuple[list[int], list[int], dict[int, str]]:
        """Back up the valued expansions of `part` and write them, with `finished` and `refused`
        trees' final rows, as one wave: (trees finished, trees lost to another worker, trees refused)."""
        expanded, new_nodes, to_value, rollouts = part.expanded, part.new_nodes, part.to_value, part.rollouts
        summary.rollouts += len(rollouts)
        summary.rollout_tokens += part.rollout_tokens
        if rollouts and self.algo.s.graft_rollouts:
            self._graft(to_value, rollouts, new_nodes)
        for _, child in new_nodes:
            mark_first_error(child)
            summary.labels[child.label] += 1

        # The previous wave's write (overlap_writes) ends here: its new nodes' ids are needed below.
        earlier_lost = self._finish_write(summary)
        touched: dict[int, SearchTree] = {}
        changed: dict[int, tuple[SearchTree, SearchNode]] = {}  # stored nodes whose visits/value moved
        for tree, leaf, children in expanded:
            self.algo.on_expanded(tree, leaf, children)
            touched[tree.tree_id] = tree
            # Backups only touch the leaf's path and its (possibly merged) children.
            for n in (*leaf.path(), *children):
                if n.id is not None:
                    changed[id(n)] = (tree, n)
        for tree in touched.values():
            self.algo.end_wave(tree)

        rows = [tree.row(node) for tree, node in new_nodes]
        position = {id(node): i for i, (_, node) in enumerate(new_nodes)}
        for row, (_, node) in zip(rows, new_nodes):
            if node.parent is not None and node.parent.id is None:  # a grafted rollout's later steps
                row["parent_index"] = position[id(node.parent)]
        updates = [{"id": n.id, "tree_id": tree.tree_id, "visits": n.visits, "value": n.value, "count": n.count,
                    "expansions": n.times_expanded}
                   for tree, n in changed.values() if n.dirty]
        tree_updates = [self._tree_update(active[tid]) for tid in finished]
        tree_updates += [self._tree_update(active[tid], why) for tid, why in refused.items()]
        # The rows and updates are a snapshot: what changes from here on is dirty again for the next wave.
        for _, n in changed.values():
            n.dirty = False
        for _, n in new_nodes:
            n.dirty = False
        # Fenced by this worker's leases: if a slow wave let a lease expire and another worker took
        # the tree over, none of this wave's rows for it are written (the store renews the others).
        write = (rows, updates, tree_updates)
        if self.s.overlap_writes:
            from concurrent.futures import ThreadPoolExecutor

            if self._writer is None:
                self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="explore-writer")
            self._pending = (self._writer.submit(self._write, write, rollouts), new_nodes)
            lost = set(earlier_lost)
        else:
            self._pending = (self._write(write, rollouts), new_nodes)
            lost = set(self._finish_write(summary))
        return ([tid for tid in finished if tid not in lost], sorted(lost),
                {tid: why for tid, why in refused.items() if tid not in lost})

    def _write(self, write: tuple, rollouts: list[dict[str, Any]]) -> tuple[list, float]:
        """Write one wave (rows, node updates, tree updates, rollouts): (its node ids, seconds)."""
        t0 = time.perf_counter()
        ids = self.store.write_wave(*write, worker=self.worker, rollouts=rollouts)
        return ids, time.perf_counter() - t0

    def _finish_write(self, summary: ExploreSummary) -> list[int]:
        """Wait for the wave being written (if any), give its new nodes their ids and return the trees
        it lost to another worker."""
        if self._pending is None:
            return []
        result, new_nodes = self._pending
        self._pending = None
        if not isinstance(result, tuple):   # a background write
            t0 = time.perf_counter()
            result = result.result()
            summary.store_wait_seconds += time.perf_counter() - t0
        ids, seconds = result
        summary.store_seconds += seconds
        for (_, node), nid in zip(new_nodes, ids):
            node.id = nid
        summary.nodes += sum(nid is not None for nid in ids)
        return sorted(ids.lost)

    def _rollout_request(self, tree: SearchTree, node: SearchNode) -> GenerationRequest:
        """The prompt and token budget of `node`'s rollouts, as the value estimator sends them."""
        token_prompts = getattr(self.policy, "token_prompts", False)
        return GenerationRequest(prompt=tree.prompt_for(node), max_tokens=getattr(self.values, "max_tokens", 1),
                                 prompt_token_ids=tree.prompt_ids_for(node) if token_prompts else None)

    def _refusal(self, tree: SearchTree, node: SearchNode, request: GenerationRequest, what: str) -> str | None:
        """Why `request` (a `what` request for `node`) is not sent: it does not fit the policy's
        context (`context_overflow`); None when it fits. Checked per request, before any is sent."""
        why = context_overflow(self.policy, request)
        if why is None:
            return None
        where = "the problem's own prompt" if node.parent is None and what == "step" else \
            f"the {what} prompt of node {node.id if node.id is not None else node.seq} (depth {node.depth})"
        return f"{where}: {why}"

    def _graft(self, valued: list[Valued], rollouts: list[dict[str, Any]], new_nodes: list) -> None:
        """Add each valued node's first correct rollout to its tree as nodes (see
        `SearchSettings.graft_rollouts`); a chain the task does not accept step by step up to a
        verified solution is left out entirely."""
        first_correct: dict[int, dict[str, Any]] = {}
        for r in rollouts:
            if r["is_correct"]:
                first_correct.setdefault(r["node_index"], r)
        for item in valued:
            rollout = first_correct.get(item.row_index)
            if rollout is None:
                continue
            steps, tail = self.task.completion_steps(rollout["text"])
            chain, state, solved = [], item.node.state, False
            for i, text in enumerate([*steps, tail] if tail else steps):
                result = self.task.apply_step(state, text, item.tree.problem)
                if result.label not in (VALID, SOLUTION) or (i >= len(steps) and result.label != SOLUTION):
                    break
                chain.append((text, result))
                if result.label == SOLUTION:
                    solved = True
                    break
                state = result.state
            if not solved:
                continue
            parent = item.node
            item.node.expanded = True  # it has children now; as after a restart, MCTS may widen it
            for text, result in chain:
                child, is_new = item.tree.add_child(parent, text, result, finish_reason="rollout")
                if is_new:
                    new_nodes.append((item.tree, child))
                if result.label != SOLUTION:
                    child.expanded = True  # the graft is its continuation; MCTS may still widen it
                parent = child

    def _tree_update(self, tree: SearchTree, refused: str | None = None) -> dict[str, Any]:
        """The tree's final row: `done`; with `refused` (a prompt that does not fit the policy's
        context) `failed` with the reason in `stats.error`, or `done` with it in `stats.stopped`
        when the tree already holds a solution (search stopped at the context, the solution stands)."""
        labels = Counter(n.label for n in tree.nodes)
        stats = {"nodes": len(tree.nodes), "expansions": tree.expansions, "solved": tree.solved, "labels": dict(labels)}
        if refused is not None:
            stats["stopped" if tree.solved else "error"] = refused
        return {"id": tree.tree_id, "status": "failed" if refused is not None and not tree.solved else "done",
                "stats": stats}
