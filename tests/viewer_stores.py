"""One small real store for the viewer tests: Countdown and math trees grown by the scripted policy
through the real explore and linearize stages, then the real `view` stage's site of each run."""
from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from journeyforge.cli import CONF_DIR


def compose_cfg(overrides: list[str]):
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return compose(config_name="config", overrides=overrides)


@pytest.fixture(scope="session")
def viewer_store(tmp_path_factory) -> dict:
    """{"url", "root", "countdown": overrides, "math": overrides}; each run explored and linearized,
    its site written to <root>/<name>/view. Countdown: 8 trees, some unsolved (error rate 0.7)."""
    from journeyforge.stages import explore, linearize, view

    root = tmp_path_factory.mktemp("viewer")
    url = f"sqlite:///{root / 'traces.db'}"
    runs = {
        "countdown": ["name=cd", "policy=scripted", "policy.error_rate=0.7", "task.n_train=8", "task.n_test=1",
                      "search.max_expansions=3"],
        "math": ["name=m", "task=math", "policy=scripted", "task.n_train=4", "task.n_test=1",
                 "search.max_expansions=3", "linearize.kinds=[shortcut,journey]"],
    }
    out = {"url": url, "root": root}
    for task, overrides in runs.items():
        name = overrides[0].split("=", 1)[1]
        common = [f"store.url={url}", f"workdir={root / name}", "explore.progress=false"]
        explore.run(compose_cfg(overrides + common))
        linearize.run(compose_cfg(overrides + common))
        # `view` needs no task=...: it builds the run's task from the run's stored config.
        view.run(compose_cfg([overrides[0]] + common))
        out[task] = [overrides[0]] + common
        out[f"{task}_site"] = Path(root / name / "view")
    return out
