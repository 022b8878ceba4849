"""What shapes an explore run's trees, stored with the run so that a name means one run.

An explore run's fingerprint is the plain settings that decide which trees grow and how (the task and
its problem selection, the policy model and its sampling, the search algorithm, its budget and value
estimator, the seeds), the sha256 of every problem file the task names, and the sha256 of the problem
rows that were loaded. It is stored in `runs.config["fingerprint"]`:

    {"sha256": ..., "settings": {"task": {...}, "policy": {...}, "search": {...}, "explore": {...}},
     "files": {"problems.jsonl": "<sha256>"}, "problems": "<sha256 of the loaded rows>"}

Re-running explore under an existing name resumes only when the fingerprints agree (`check_resume`);
settings that cannot change a tree (progress bars, workers, leases, batch sizes, server addresses)
are left out, so that the workers of a sweep share one run and a run moves between machines.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterable

# The config groups whose settings shape the trees, in the order differences are reported.
GROUPS = ("task", "policy", "search", "explore")

# Options of those groups that change how fast or where a run goes, never what a tree holds: the
# per-request sampling seeds come from (explore.seed, tree, node), not from batches or worker slots.
NOT_SHAPING = {
    "explore": {"progress", "worker", "worker_index", "lease_seconds", "poll_seconds", "max_waves",
                "max_active_trees", "overlap_writes",
                "continuous", "gather_seconds"},
    "policy": {"batch_size", "prefix_cache", "device", "base_url", "api_key", "concurrency", "timeout",
               "max_retries", "backoff", "vllm_extras", "gpu_memory_utilization", "tensor_parallel_size",
               "enable_prefix_caching", "enforce_eager", "latency",
               # policy=simulated's engine pacing: how long a wave takes, not what it writes
               "tokens_per_s", "sequence_tokens_per_s", "prefill_tokens_per_s", "max_batch",
               "prefix_cache_tokens", "pace", "length_tail"},
    "search": {"prm_batch_size"},
}

# Whatever a key like these holds never goes into a fingerprint (the stored config is the
# run_config module's business; a fingerprint is printed in error messages).
SECRET_WORDS = {"key", "token", "password", "secret"}

# The group whose choice is typed as `group=option` on the command line: a difference there is
# reported as `search: mcts -> beam`, and the group's other options are not listed after it.
CHOICE = {"task": "name", "policy": "backend", "search": "algorithm"}

# How many differences one message lists.
SHOWN = 4


def _secret(key: str) -> bool:
    return bool(SECRET_WORDS & set(key.lower().split("_")))  # api_key, hf_token; not max_tokens


def settings_of(config: dict) -> dict[str, dict]:
    """The tree-shaping settings of a resolved config (a plain dict, as `runs.config` stores it)."""
    out: dict[str, dict] = {}
    for group in GROUPS:
        node = config.get(group)
        if isinstance(node, dict):
            skip = NOT_SHAPING.get(group, set())
            out[group] = {k: v for k, v in node.items() if k not in skip and not _secret(k)}
    _name_default_heuristic(out)
    return out


def _name_default_heuristic(settings: dict[str, dict]) -> None:
    """`policy.heuristic=default` as the heuristic it means (the task's first), so that a run stored
    when the symbolic policy's default was written `sum` resumes under today's `default`, and the
    two spellings of one choice are one fingerprint."""
    policy, task = settings.get("policy") or {}, settings.get("task") or {}
    if policy.get("backend") != "symbolic" or policy.get("heuristic") != "default":
        return
    from search.tasks import TASKS, task_classes

    if task.get("name") in TASKS:
        heuristics = task_classes(task["name"])[0].heuristics
        policy["heuristic"] = heuristics[0] if heuristics else None


def file_checksums(task_settings: dict) -> dict[str, str]:
    """sha256 of every task option that names an existing file (problem files; bundled names that
    are not paths are covered by the rows' checksum)."""
    out = {}
    for key, value in sorted(task_settings.items()):
        if isinstance(value, str) and value and Path(value).is_file():
            out[value] = hashlib.sha256(Path(value).read_bytes()).hexdigest()
    return out


def problems_checksum(rows: Iterable[dict]) -> str:
    """sha256 of the problem rows a run loads (dataset, key, split, payload, answer), in order."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(row, sort_keys=True, separators=(",", ":"), default=str).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def explore_fingerprint(config: dict, problem_rows: list[dict]) -> dict[str, Any]:
    """The fingerprint of an explore run with resolved `config` that loaded `problem_rows`."""
    settings = settings_of(config)
    body = {"settings": settings, "files": file_checksums(settings.get("task", {})),
            "problems": problems_checksum(problem_rows)}
    sha = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    return {"sha256": sha, **body}


def _flat(node: Any, prefix: str) -> dict[str, Any]:
    if isinstance(node, dict) and node:
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flat(value, f"{prefix}.{key}"))
        return out
    return {prefix: node}


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def differences(stored: dict, new: dict) -> list[str]:
    """`key: stored -> new` for every tree-shaping setting that differs, task first, then policy,
    search, explore, files and problems. A key only one side has is not a difference: settings
    added in a later version keep their old behaviour by default."""
    out = []
    old_settings, new_settings = stored.get("settings") or {}, new.get("settings") or {}
    for group in GROUPS:
        old, now = old_settings.get(group), new_settings.get(group)
        if old is None or now is None:
            continue
        choice = CHOICE.get(group)
        if choice and choice in old and choice in now and old[choice] != now[choice]:
            out.append(f"{group}: {_shown(old[choice])} -> {_shown(now[choice])}")
            continue  # the other options of another task/policy/algorithm say nothing more
        flat_old, flat_new = _flat(old, group), _flat(now, group)
        for key in flat_new:
            if key in flat_old and flat_old[key] != flat_new[key]:
                out.append(f"{key}: {_shown(flat_old[key])} -> {_shown(flat_new[key])}")
    if "files" in stored:
        for path, sha in new.get("files", {}).items():
            before = stored["files"].get(path)
            if before is not None and before != sha:
                out.append(f"file {path}: sha256 {before[:12]} -> {sha[:12]}")
    if not out and stored.get("problems") and new.get("problems") and stored["problems"] != new["problems"]:
        out.append(f"problems (the loaded rows): sha256 {stored['problems'][:12]} -> {new['problems'][:12]}")
    return out


class FingerprintMismatch(Exception):
    """The run exists with other tree-shaping settings; the message is the one line to show, and
    `differences` the settings that differ (`key: stored -> new`)."""

    def __init__(self, message: str, differences: list[str]):
        super().__init__(message)
        self.differences = differences


def check_resume(name: str, stored_config: dict | None, new: dict) -> str | None:
    """None when the explore run `name` (its stored `runs.config`) may be resumed with fingerprint
    `new`, a note when it may but was made before fingerprints existed; raises FingerprintMismatch
    naming the first settings that differ and the way out otherwise."""
    stored_config = stored_config or {}
    stored = stored_config.get("fingerprint")
    note = None
    if not isinstance(stored, dict):
        if not any(isinstance(stored_config.get(g), dict) for g in GROUPS):
            return (f"run {name!r} was stored without its settings (made before runs kept a fingerprint): "
                    "resuming it unchecked")
        # Made before fingerprints: its stored config holds the same settings; files were not recorded.
        stored = {"settings": settings_of(stored_config)}
        note = (f"run {name!r} was made before runs kept a fingerprint: its stored settings match; "
                "problem files were not recorded then and are not compared")
    elif stored.get("sha256") == new["sha256"]:
        return None
    diffs = differences(stored, new)
    if not diffs:
        return note
    more = f" (+{len(diffs) - SHOWN} more)" if len(diffs) > SHOWN else ""
    raise FingerprintMismatch(
        f"explore run {name!r} exists with other settings that shape its trees ({'; '.join(diffs[:SHOWN])}{more}), "
        f"and resuming it would mix trees grown differently; nothing was written. Give the new settings a run "
        f"of their own with name=<new name>, or resume {name!r} with its stored settings "
        f"(runs.config of {name!r} holds them)", diffs
    )


# Files of a model directory that make the model: weights, configs, tokenizer. Not the training
# record (rewritten after training), logs, plots or checkpoints.
MODEL_SUFFIXES = (".safetensors", ".bin", ".json", ".model", ".txt", ".gguf")


def model_digest(path: str | Path) -> str | None:
    """sha256 over the model files of directory `path` (names and bytes, sorted); None for a name
    that is no directory (a base model or a backend such as `scripted`)."""
    folder = Path(path)
    if not folder.is_dir():
        return None
    digest = hashlib.sha256()
    for file in sorted(folder.iterdir()):
        if file.is_file() and file.suffix in MODEL_SUFFIXES and not file.name.startswith("journeyforge_"):
            digest.update(file.name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()
