"""The export stage's lines on contamination, duplicates and cost (its summary, besides the tables)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def print_publishing(facts: Mapping[str, Any]) -> None:
    """Contaminated training problems by source, duplicates merged and dropped, cost per accepted trajectory."""
    found = facts["contamination"]
    by_source = ", ".join(f"{source}: {n}" for source, n in found["by_source"].items()) or "none"
    kept = found["problems"] - found["removed"]
    print(f"[export] contamination: {found['problems']} contaminated training problems ({by_source}); "
          f"{found['removed']} left out of every training split"
          + (f", {kept} kept (export.keep_contaminated=true)" if kept else ""))
    duplicates = facts.get("duplicates") or {}
    repeated = facts.get("repeated_trajectories") or {}
    print(f"[export] duplicates: {duplicates.get('rows_merged', 0)} problem rows merged into "
          f"{duplicates.get('problems', 0)} problems at load; {sum(repeated.values())} repeated trajectories dropped"
          + (" (" + ", ".join(f"{k}: {n}" for k, n in repeated.items()) + ")" if repeated else ""))
    cost = facts.get("cost")
    if cost is None:
        print("[export] cost: the explore run has no cost row (stored before journeyforge recorded costs)")
        return
    for kind, k in cost["per_kind"].items():
        gpu = f", {k['gpu_seconds_per_accepted']} GPU-s" if k.get("gpu_seconds_per_accepted") is not None else ""
        print(f"[export] cost per accepted {kind} trajectory ({k['accepted']}): {k['generated_tokens_per_accepted']} "
              f"generated tokens, {k['prompt_tokens_per_accepted']} prompt tokens, "
              f"{k['policy_seconds_per_accepted']} policy seconds{gpu}")
