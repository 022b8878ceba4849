"""A bad setting stops a stage before it writes anything: the store is left exactly as it was, and the
user reads ONE line that names the option and what to do, never a traceback. Real `journeyforge`
processes against a real SQLite store, plus the same checks in-process."""
from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from journeyforge.cli import CONF_DIR
from journeyforge.settings import ConfigError, validate_config
from journeyforge.stages import evaluate, explore, export, linearize, train
from search.policies import BACKEND_CHECKS, validate_policy_config
from tests.explore_processes import ENV, REPO, journeyforge

SCRIPTED = ["policy=scripted", "task.n_train=3", "task.n_test=2", "explore.progress=false", "search.k=2",
            "search.max_expansions=2"]


def _overrides(tmp_path: Path) -> list[str]:
    return [f"store.url=sqlite:///{tmp_path / 'traces.db'}", f"workdir={tmp_path / 'out'}"]


def _run(stage: str, *overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(journeyforge(stage, *overrides), cwd=REPO, env=ENV, capture_output=True, text=True,
                          timeout=120)


def _snapshot(db: Path) -> tuple[str, int, dict[str, int]]:
    """sha256 of the store file, bytes in its WAL (a write lands there first), then the row count of
    every table (read-only; SQLite may create an empty -wal and a -shm for that)."""
    wal = db.with_name(db.name + "-wal")
    files = (hashlib.sha256(db.read_bytes()).hexdigest(), wal.stat().st_size if wal.exists() else 0)
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    conn.close()
    return (*files, counts)


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> Path:
    """A store that already holds a finished explore run named `x` (and its problems)."""
    tmp_path = tmp_path_factory.mktemp("store")
    done = _run("explore", "name=x", *_overrides(tmp_path), *SCRIPTED)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(tmp_path / "traces.db") as conn:  # fold the WAL in: the file alone is the store
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return tmp_path


def _fails_with_one_line(stage: str, tmp_path: Path, *overrides: str) -> str:
    db = tmp_path / "traces.db"
    before = _snapshot(db)
    assert before[2]["runs"] >= 1 and before[2]["nodes"] > 0 and before[1] == 0
    flags = [o for o in overrides if o.startswith("-")]  # Hydra takes flags before the overrides
    done = _run(stage, *flags, "name=x", *_overrides(tmp_path), *SCRIPTED, *[o for o in overrides if o not in flags])
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert _snapshot(db) == before, "a failed start changed the store"
    assert lines[0].startswith(f"journeyforge {stage}: ")
    return lines[0][len(f"journeyforge {stage}: "):]


@pytest.mark.parametrize("stage,overrides,message", [
    ("explore", ["search.max_expanions=3"],
     "search.max_expanions is not an option (did you mean search.max_expansions?): fix the name"),
    ("explore", ["search=foo"], "search=foo is not a search config; choose one of beam, best_of_n, bfs, dfs, mcts"),
    ("explore", ["search.algorithm=foo"], "search.algorithm='foo' is unknown; choose one of mcts, beam"),
    ("explore", ["policy.latency=-1"], "policy.latency must be a number of seconds >= 0, got -1"),
    ("explore", ["policy.latancy=1"], "policy.latancy is not an option (did you mean policy.latency?)"),
    ("explore", ["policy.backend=hf", "policy.model=x"],  # the field is not the group choice
     "policy.model is not an option of the chosen policy config; policy=hf, policy=openai, policy=vllm have "
     "it: choose one first, e.g. policy=hf policy.model=..."),
    ("explore", ["task.n_numbers=9"], "task.n_numbers must be 2..6"),
    ("explore", ["task.n_numbers=abc"], "task.n_numbers=abc: Value 'abc' of type 'str' could not be converted to Integer"),
    ("explore", ["task.prompt_format=poem"], "task.prompt_format must be one of"),
    ("explore", ["task.source=file"], "task.path is required when task.source='file'"),
    ("explore", ["task.max_target=5000000"], "task.max_target must be at most 1,000,000, got 5000000"),
    ("explore", ["search.value=oracle"], "search.value='oracle' is unknown; choose label, rollout, prm or null"),
    ("explore", ["search.rollouts=0"], "search.rollouts must be an integer >= 1, got 0"),
    ("explore", ["explore.max_tokens=0"], "explore.max_tokens must be an integer >= 1, got 0"),
    ("explore", ["+search.k=3"], "search.k is already an option: set it without the leading +"),
    ("explore", ["-m", "search=mcts,nope"], "search=nope is not a search config"),
    ("explore", ["name=${nope}"], "Interpolation key 'nope' not found"),
    ("linearize", ["linearize.journey.k=1"], "linearize.journey.k=1: must be >= 2"),
    ("linearize", ["linearize.kinds=[journey,trail]"], "linearize.kinds: unknown kind 'trail'"),
    ("linearize", ["linearize.journey.reflection=llm", "linearize.rewrite.backend=openai"],
     "linearize.rewrite.device, linearize.rewrite.seed: unknown option for backend 'openai'"),
    ("export", ["export.test_fraction=1.5"], "export.test_fraction must be in [0, 1), got 1.5"),
    ("train", ["train.format=chatml"], "train.format must be one of"),
    ("train", ["train.kinds=[stream,poem]"], "train.kinds ['poem'] are not among linearize.kinds"),
    ("eval", ["eval.samples=0"], "eval.samples must be an integer >= 1, got 0"),
    ("run", ["search.k=0"], "search.k must be an integer >= 1, got 0"),
])
def test_bad_setting_leaves_the_store_unchanged_and_says_so_in_one_line(stored, stage, overrides, message):
    line = _fails_with_one_line(stage, stored, *overrides)
    assert message in line, line


def test_policy_without_its_required_option_names_it(stored):
    line = _fails_with_one_line("explore", stored, "policy=openai")
    assert line == "policy.model is not set (??? in the config): set policy.model=..."


def _cfg(tmp_path: Path, *overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        return compose(config_name="config", overrides=["name=x", *_overrides(tmp_path), *SCRIPTED, *overrides])


@pytest.mark.parametrize("stage", [explore, linearize, export, train, evaluate], ids=lambda m: m.__name__)
def test_every_stage_validates_before_it_opens_the_store(tmp_path, stage):
    """Called without the CLI: ConfigError, and not even an empty store file appears."""
    cfg = _cfg(tmp_path, "search.max_expansions=0")
    with pytest.raises(ConfigError, match=r"search\.max_expansions must be an integer >= 1, got 0"):
        stage.run(cfg)
    assert not list(tmp_path.glob("traces.db*"))


@pytest.mark.parametrize("overrides,message", [
    (["policy.error_rate=1.5"], r"policy\.error_rate must be a probability in \[0, 1\], got 1.5"),
    (["policy=hf", "policy.dtype=float8"], r"policy\.dtype must be one of float32, bfloat16, float16"),
    (["policy=hf", "policy.batch_size=0"], r"policy\.batch_size must be an integer >= 1, got 0"),
    (["policy=vllm", "policy.gpu_memory_utilization=1.5"], r"policy\.gpu_memory_utilization must be a fraction"),
    (["policy=openai", "policy.model=m", "policy.concurrency=0"], r"policy\.concurrency must be an integer >= 1"),
    (["linearize.train_kinds=[stream]", "linearize.kinds=[shortcut]"], r"linearize\.train_kinds \['stream'\]"),
    (["store.url=traces.db"], r"store\.url='traces\.db' is not a database URL"),
    (["name=a/b"], r"name='a/b': an experiment name is one folder name under outputs/: no '/'"),
])
def test_validate_config_names_the_option(tmp_path, overrides, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(_cfg(tmp_path, *overrides))


def test_default_configs_of_every_group_are_valid(tmp_path):
    for overrides in ([], ["search=beam"], ["search=best_of_n"], ["search=bfs"], ["search=dfs"],
                      ["linearize=journey"], ["linearize=shortcut"], ["policy=hf"], ["policy=vllm"],
                      ["policy=openai", "policy.model=served"], ["store=postgres"],
                      ["linearize.journey.reflection=llm"]):
        validate_config(_cfg(tmp_path, *overrides))


def test_policy_validation_loads_no_model_and_imports_no_backend():
    code = ("import sys; from search.policies import validate_policy_config as v; "
            "v({'backend': 'hf', 'model': 'x', 'dtype': 'float32'}); v({'backend': 'vllm'}); "
            "print(sorted(m for m in ('torch', 'transformers', 'vllm', 'search.policies.hf') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=ENV, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_hf_dtype_check_matches_the_backend():
    from search.policies.hf import DTYPES

    accepts, _ = BACKEND_CHECKS["hf"]["dtype"]
    assert all(accepts(name) for name in DTYPES) and not accepts("float8")
    with pytest.raises(ValueError, match="policy.dtype"):
        validate_policy_config({"backend": "hf", "dtype": "int4"})
