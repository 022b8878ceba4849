"""Each extension point has one registry, and every list a user sees is read from it (issue 41): the
stages in the CLI's usage and the config's help header, the algorithms `mixed` can draw."""
from __future__ import annotations

import importlib

import pytest
from hydra import compose, initialize_config_dir

from journeyforge.cli import CONF_DIR, USAGE
from journeyforge.stages import STAGES


def _help_header() -> str:
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        cfg = compose(config_name="config", return_hydra_config=True)
    return cfg.hydra.help.header


def test_the_usage_and_the_help_header_list_every_registered_stage_once():
    header = _help_header()
    for text in (USAGE, header):
        listed = [line.split()[0] for line in text.splitlines() if line.startswith("  ") and line.strip()]
        assert listed == [*STAGES, "db"], text
    assert "{kinds}" not in USAGE + header and "shortcut / journey" in header


def test_a_stage_added_to_the_registry_is_listed_without_another_edit(monkeypatch):
    import journeyforge.cli as cli
    from journeyforge.stages import Stage

    monkeypatch.setitem(STAGES, "toy", Stage("toy", "toy", "a toy stage from this test"))
    assert "  toy        a toy stage from this test" in cli._usage().splitlines()
    assert "  toy        a toy stage from this test" in _help_header().splitlines()


@pytest.mark.parametrize("name", list(STAGES))
def test_every_registered_stage_is_a_module_with_run(name):
    assert callable(importlib.import_module(f"journeyforge.stages.{STAGES[name].module}").run)


def test_a_new_algorithm_in_the_registry_can_be_mixed(monkeypatch):
    from search.algorithms import ALGORITHMS, SearchSettings, make_algorithm
    from search.algorithms.frontier import DFS
    from search.tasks.base import Problem
    from search.tree import SearchTree
    from tests.linearize_trees import countdown_task

    class Deepest(DFS):
        """A new algorithm: nothing but its class and a registry entry."""

    monkeypatch.setitem(ALGORITHMS, "deepest", Deepest)
    algo = make_algorithm(SearchSettings(algorithm="mixed", mix=["deepest", "beam:3"]))
    assert [type(a).__name__ for a in algo.strategies] == ["Deepest", "BeamSearch"]
    assert algo.strategies[1].s.beam_width == 3 and algo.strategies[0].s.algorithm == "deepest"
    task = countdown_task()
    problems = [Problem(key=f"1,2,{n}->10", payload={"nums": [1, 2, n], "target": 10}) for n in range(3, 30)]
    trees = [SearchTree(i, p, "", None, task.initial_state(p), "\n") for i, p in enumerate(problems)]
    assert {type(algo.strategy(t)).__name__ for t in trees} == {"Deepest", "BeamSearch"}
    with pytest.raises(ValueError, match=r"search.mix: 'mixed' is not a strategy; use one of mcts, .*deepest"):
        make_algorithm(SearchSettings(algorithm="mixed", mix=["mixed"]))
    with pytest.raises(ValueError, match=r"search.mix: 'deepest:2' is not a strategy"):
        make_algorithm(SearchSettings(algorithm="mixed", mix=["deepest:2"]))


def test_every_registered_kind_has_its_options_under_linearize_by_its_name():
    """`linearize.<kind>` is read from traces/linearize.py KINDS, not typed by hand: each kind's options
    class, with its defaults (the journey recipe's where the stage starts from one), and its help."""
    import dataclasses

    from traces.linearize import KINDS
    from traces.linearize_settings import RECIPES, LinearizeSettings

    fields = {f.name: f for f in dataclasses.fields(LinearizeSettings)}
    settings = LinearizeSettings()
    for name, kind in KINDS.items():
        assert fields[name].type is kind.config and type(settings.kind_options(name)) is kind.config
        expected = RECIPES[name][0]() if name in RECIPES else kind.config()
        assert settings.kind_options(name) == expected
        assert kind.help in fields[name].metadata["help"]
    assert settings.journey.backtracks == [1.0, 1.0, 1.0] and settings.journey.checks == 0.5
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        cfg = compose(config_name="config", overrides=["linearize.journey.k=3", "linearize.stream.failed=true"])
    assert cfg.linearize.journey.k == 3 and cfg.linearize.stream.failed is True
