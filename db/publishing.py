"""The rows of `TraceStore` that make a dataset publishable (migration 0007): what an explore run spent
on its policy (`run_costs`) and the contaminated training problems an export found (`contamination`)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, insert, select, update

from db.connection import StoreConnection
from db.models import Contamination, RunCost

RUN_COSTS = RunCost.__table__
CONTAMINATION = Contamination.__table__
COST_FIELDS = ("prompt_tokens", "cached_prompt_tokens", "generated_tokens", "rollout_tokens", "policy_seconds")


class PublishingMixin(StoreConnection):
    """Costs of explore runs and the contamination an export found."""

    def add_run_cost(self, run_id: int, cost: Mapping[str, Any]) -> dict[str, Any]:
        """Add one invocation's policy cost (COST_FIELDS and `gpu_seconds`, missing ones 0 / NULL) to
        explore run `run_id`'s row, so that a resumed run counts all it spent; returns the row."""
        values = {name: cost.get(name) or 0 for name in COST_FIELDS}
        gpu = cost.get("gpu_seconds")
        with self._write(f"add_run_cost(run {run_id})") as conn:
            old = conn.execute(select(RUN_COSTS).where(RUN_COSTS.c.run_id == run_id)).mappings().first()
            if old is None:
                conn.execute(insert(RUN_COSTS), [{"run_id": run_id, **values, "gpu_seconds": gpu}])
            else:
                values = {name: (old[name] or 0) + values[name] for name in COST_FIELDS}
                if gpu is not None or old["gpu_seconds"] is not None:
                    gpu = (old["gpu_seconds"] or 0.0) + (gpu or 0.0)
                conn.execute(update(RUN_COSTS).where(RUN_COSTS.c.run_id == run_id).values(**values, gpu_seconds=gpu))
        return {"run_id": run_id, **values, "gpu_seconds": gpu}

    def run_cost(self, run_id: int) -> dict[str, Any] | None:
        """Explore run `run_id`'s cost row, None when it has none (stored before revision 0007)."""
        with self._read() as conn:
            row = conn.execute(select(RUN_COSTS).where(RUN_COSTS.c.run_id == run_id)).mappings().first()
        return dict(row) if row is not None else None

    def replace_contamination(self, run_id: int, rows: Sequence[Mapping[str, Any]]) -> None:
        """Replace export run `run_id`'s contaminated problems by `rows` (problem_id, source, matched,
        how, removed), in one transaction."""
        clean = [{"run_id": run_id, "problem_id": int(r["problem_id"]), "source": str(r["source"])[:200],
                  "matched": str(r["matched"])[:500], "how": str(r["how"])[:16], "removed": bool(r.get("removed", True))}
                 for r in rows]
        with self._write(f"replace_contamination(run {run_id})") as conn:
            conn.execute(delete(CONTAMINATION).where(CONTAMINATION.c.run_id == run_id))
            if clean:
                conn.execute(insert(CONTAMINATION), clean)

    def contamination(self, run_id: int) -> list[dict[str, Any]]:
        """Export run `run_id`'s contaminated problems, by problem id."""
        with self._read() as conn:
            query = select(CONTAMINATION).where(CONTAMINATION.c.run_id == run_id).order_by(CONTAMINATION.c.problem_id)
            return [dict(row) for row in conn.execute(query).mappings()]


__all__ = ["COST_FIELDS", "PublishingMixin"]
