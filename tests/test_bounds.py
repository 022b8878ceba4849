"""Every count and rate has a bound a slip of the keyboard reaches: one line naming the option and the
bound, at config time, with the store untouched; every default and every preset stays inside them."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from sqlalchemy import text

from db import TraceStore
from journeyforge.cli import CONF_DIR
from journeyforge.settings import validate_config
from journeyforge.stages import explore
from search.algorithms import SearchSettings
from search.explore_settings import ExploreSettings
from search.policies.hf_settings import HFSettings
from search.policies.scripted_settings import ScriptedSettings
from search.policies.simulated_settings import SimulatedSettings
from search.policies.symbolic_settings import SymbolicSettings
from search.policies.vllm_settings import VLLMSettings
from tests.explore_processes import ENV, REPO, journeyforge
from traces.journey import JourneyConfig
from traces.linearize_settings import LinearizeSettings
from training.eval_settings import EvalSettings
from training.sft_settings import SFTSettings
from training.prm_settings import PRMSettings
from training.rl_settings import RLSettings

# (settings class, option, a value a slip reaches, the line it gets)
TOO_MUCH = [
    (EvalSettings, "scaling", [1, 1_000_000_000],
     "eval.scaling must be a list of integers in [1, 10,000] (samples per problem), got [1, 1000000000]"),
    (EvalSettings, "samples", 100_000, "eval.samples must be an integer <= 10,000, got 100000"),
    (EvalSettings, "max_tokens", 10**9, "eval.max_tokens must be an integer <= 131,072, got 1000000000"),
    (SimulatedSettings, "prefill_tokens_per_s", 1e-9,
     "policy.prefill_tokens_per_s must be in [1, 1e+09] tokens/s, got 1e-09"),
    (SimulatedSettings, "sequence_tokens_per_s", 1e-6,
     "policy.sequence_tokens_per_s must be in [1, 1e+09] tokens/s, got 1e-06"),
    (SimulatedSettings, "tokens_per_s", 1e12, "policy.tokens_per_s must be in [1, 1e+09] tokens/s, got 1000000000000.0"),
    (SimulatedSettings, "length_tail", 800.0, "policy.length_tail must be in [0, 3] (lognormal sigma), got 800.0"),
    (SimulatedSettings, "chars_per_token", 0.01,
     "policy.chars_per_token must be in [1, 16] characters per token, got 0.01"),
    (SimulatedSettings, "max_batch", 10**9, "policy.max_batch must be in [1, 65,536] sequences, got 1000000000"),
    (ScriptedSettings, "latency", 1e20, "policy.latency must be in [0, 3,600] seconds, got 1e+20"),
    (HFSettings, "batch_size", 10**7, "policy.batch_size must be in [1, 65,536] sequences, got 10000000"),
    (VLLMSettings, "tensor_parallel_size", 1000, "policy.tensor_parallel_size must be in [1, 64] GPUs, got 1000"),
    (SymbolicSettings, "k", 10**6, "policy.k must be in [1, 1,024] steps, got 1000000"),
    (SearchSettings, "k", 10**6, "search.k must be an integer <= 1,024, got 1000000"),
    (SearchSettings, "rollouts", 10**9, "search.rollouts must be an integer <= 1,024, got 1000000000"),
    (SearchSettings, "max_expansions", 10**9, "search.max_expansions must be an integer <= 1,000,000, got 1000000000"),
    (ExploreSettings, "max_active_trees", 10**9,
     "explore.max_active_trees must be an integer <= 1,000,000, got 1000000000"),
    (ExploreSettings, "poll_seconds", 1e30, "explore.poll_seconds must be a number in [0, 86400] seconds, got 1e+30"),
    (SFTSettings, "max_steps", 10**9, "train.max_steps must be an integer <= 1,000,000, got 1000000000"),
    (SFTSettings, "per_device_train_batch_size", 10**6,
     "train.per_device_train_batch_size must be an integer <= 4,096, got 1000000"),
    (RLSettings, "num_generations", 10**6, "rl.num_generations must be an integer <= 1,024, got 1000000"),
    (PRMSettings, "max_steps", 10**9, "prm.max_steps must be an integer <= 1,000,000, got 1000000000"),
]


@pytest.mark.parametrize("cls, option, value, line", TOO_MUCH, ids=[f"{c.__name__}.{o}" for c, o, _, _ in TOO_MUCH])
def test_a_value_past_its_bound_is_one_line_naming_the_option_and_the_bound(cls, option, value, line):
    with pytest.raises(ValueError) as err:
        settings = cls(**{option: value})
        if hasattr(settings, "validate"):
            settings.validate()
    assert str(err.value) == line


def test_the_epochs_bound_applies_only_when_epochs_decide_the_length():
    SFTSettings(max_steps=5, epochs=10**6).validate()  # max_steps decides: epochs is not read
    with pytest.raises(ValueError, match=r"train\.epochs must be a number in \[0, 1000\]"):
        SFTSettings(max_steps=0, epochs=10**6).validate()


def test_linearize_counts_are_bounded_in_the_kind_options_and_the_rewrite():
    with pytest.raises(ValueError, match=r"^linearize\.journey\.per_tree must be an integer <= 1,000, got 1000000000$"):
        LinearizeSettings(journey=JourneyConfig(per_tree=10**9))
    with pytest.raises(ValueError, match=r"^linearize\.rewrite\.max_tokens must be an integer <= 131,072, got 10000000$"):
        LinearizeSettings(rewrite={"backend": "hf", "max_tokens": 10**7})
    LinearizeSettings(journey=JourneyConfig(per_tree=2, max_backtracks=3))


def test_the_simulated_range_ends_are_accepted():
    SimulatedSettings(tokens_per_s=1, sequence_tokens_per_s=1, prefill_tokens_per_s=1e9, chars_per_token=16,
                      length_tail=3, max_batch=65_536, prefix_cache_tokens=0)


PRESETS = sorted(p.stem for p in (Path(CONF_DIR) / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_and_default_is_inside_the_bounds(preset):
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        cfg = compose(config_name="config", overrides=[f"experiment={preset}"])
    validate_config(cfg)
    for cls in (EvalSettings, SFTSettings, RLSettings):
        cls().validate()
    for cls in (LinearizeSettings, PRMSettings, SimulatedSettings, ScriptedSettings, HFSettings, VLLMSettings, SymbolicSettings,
                SearchSettings, ExploreSettings):
        cls()


def _dump(url: str) -> tuple:
    with TraceStore(url) as store, store.engine.connect() as conn:
        return tuple(conn.execute(text(f"SELECT COUNT(*), MAX(id) FROM {t}")).one() for t in ("runs", "trees", "nodes")) + \
            tuple(conn.execute(text("SELECT id, status, finished_at FROM runs ORDER BY id")).all())


def test_the_reported_slips_end_in_one_line_and_leave_the_store_as_it_was(tmp_path):
    url = f"sqlite:///{tmp_path / 'traces.db'}"
    common = [f"store.url={url}", f"workdir={tmp_path / 'out'}", "task.n_train=3", "task.n_test=2",
              "explore.progress=false"]
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        explore.run(compose(config_name="config", overrides=[*common, "policy=scripted"]))
    before = _dump(url)
    for stage, slip, line in (
            ("eval", "eval.scaling=[1000000000]", "eval.scaling must be a list of integers in [1, 10,000]"),
            ("explore", "policy.prefill_tokens_per_s=1e-9", "policy.prefill_tokens_per_s must be in [1, 1e+09]"),
            ("explore", "policy.sequence_tokens_per_s=1e-6", "policy.sequence_tokens_per_s must be in [1, 1e+09]")):
        extra = ["policy=simulated", "name=slow"] if stage == "explore" else ["policy=scripted"]
        done = subprocess.run(journeyforge(stage, *common, *extra, slip), cwd=REPO, env=ENV, capture_output=True,
                              text=True, timeout=300)
        lines = done.stderr.strip().splitlines()
        assert done.returncode != 0 and len(lines) == 1 and line in lines[0], done.stderr
        assert _dump(url) == before
