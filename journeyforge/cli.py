"""`journeyforge <stage> [overrides]`: one Hydra app whose first argument picks the stage."""
from __future__ import annotations

import os
import sys
from pathlib import Path

# oneDNN's AMX kernels die with "Illegal instruction" on some CPUs (every training step and vLLM);
# capping the ISA at AVX512_CORE_BF16 avoids them and changes nothing elsewhere.
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")

USAGE = """usage: journeyforge <stage> [key=value ...] [-m key=a,b ...]

stages:
  explore    grow search trees with the policy model; every node goes into the store
  linearize  turn stored trees into shortcut / journey / stream trajectories
  export     write Hugging Face datasets (sft, stepwise, preference) and a dataset card
  train      LoRA SFT (TRL) on the exported dataset of each kind
  eval       greedy accuracy of the base and tuned models on held-out problems
  run        all of the above, in order
  db         schema migrations: `journeyforge db upgrade|current [store.url=...]`

`journeyforge <stage> --help` lists the configuration and every option; `--cfg job` prints
the resolved configuration without running.
"""


def EXPECTED_ERRORS() -> tuple[type[BaseException], ...]:
    from db.store import StoreError
    from journeyforge.stages.common import StageError
    from search.policies.base import PolicyUnavailable
    from search.tasks.rows import ProblemFileError

    return (StageError, StoreError, PolicyUnavailable, ProblemFileError)


def _stages():
    from journeyforge.stages import STAGES

    return STAGES


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return
    stage, rest = argv[0], argv[1:]
    if stage == "db":
        from journeyforge.db_command import main as db_main

        db_main(rest)
        return
    stages = _stages()
    if stage not in stages:
        sys.exit(f"journeyforge: unknown stage {stage!r}\n\n{USAGE}")

    import hydra

    import journeyforge.resolvers  # noqa: F401

    @hydra.main(config_path=CONF_DIR, config_name="config", version_base=None)
    def _app(cfg):
        import logging

        # Alembic announces its migration context on every store open; keep stage output readable.
        logging.getLogger("alembic").setLevel(logging.WARNING)
        try:
            return stages[stage](cfg)
        except EXPECTED_ERRORS() as err:
            # Input and environment problems get one clear message, not a traceback; one line even
            # when a driver's own text spans several (psycopg: "...refused\n\tIs the server running").
            sys.exit(f"journeyforge {stage}: {' '.join(str(err).split())}")

    sys.argv = [f"journeyforge {stage}", *rest]
    _app()


if __name__ == "__main__":
    main()
