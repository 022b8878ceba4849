"""No file a stage writes holds the store's password: an experiment, an evolve run, a prm run and a
view as real `journeyforge` processes (their inputs grown in this one) on a PostgreSQL store whose URL
carries one (trust auth accepts any password), then every file under the workdir (reports, cards,
json, datasets, models, plots, logs, Hydra's saved configs, the site) and every stored row is searched."""
from __future__ import annotations

import subprocess
from pathlib import Path

from hydra import compose, initialize_config_dir
from sqlalchemy import inspect, text

from db.engine import make_engine
from db.masking import masked_yaml
from journeyforge.cli import CONF_DIR
from journeyforge.stages import explore, export, linearize
from tests.explore_processes import ENV, REPO, fresh_pg_url, journeyforge  # noqa: F401 (fixture)
from tests.test_evolve import SMOKE as EVOLVE_SMOKE

PASSWORD = "s3cretPW-jf38"
TINY = ["task.n_train=10", "task.n_test=5", "explore.progress=false"]


def _run(stage: str, *overrides: str) -> str:
    done = subprocess.run(journeyforge(stage, *overrides), cwd=REPO, env=ENV, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return done.stdout + done.stderr


def _in_process(stage, *overrides: str) -> None:
    """A stage run in this process (the trees and exports the measured commands start from)."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        stage.run(compose(config_name="config", overrides=list(overrides)))


def _files_holding(root: Path, secret: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and secret in p.read_bytes()]


def test_masked_yaml_hides_url_passwords_and_api_keys():
    cfg = {"store": {"url": f"postgresql+psycopg://u:{PASSWORD}@h/d"}, "policy": {"api_key": "sk-1"}, "seed": 1}
    yaml = masked_yaml(cfg)
    assert PASSWORD not in yaml and "sk-1" not in yaml
    assert "postgresql+psycopg://u:***@h/d" in yaml and "api_key: '***'" in yaml and "seed: 1" in yaml


def test_experiment_evolve_and_prm_write_no_file_that_holds_the_store_password(fresh_pg_url, tmp_path, tiny_model_dir):
    url = fresh_pg_url.replace("postgresql+psycopg://postgres@", f"postgresql+psycopg://postgres:{PASSWORD}@", 1)
    assert PASSWORD in url
    work = tmp_path / "work"
    printed = ""
    # experiment (smoke, one seed, base + shortcut arms) on trees a scripted policy grew under its name
    exp = [f"store.url={url}", f"workdir={work / 'experiment'}", "experiment=smoke", *TINY,
           "experiment.seeds=[0]", "~experiment.arms.journey", "experiment.sample_arms=[]", "eval.n_problems=3",
           "eval.max_tokens=8",
           "train.per_device_train_batch_size=2", "experiment.resamples=100"]
    _in_process(explore, *exp, "policy=scripted")
    printed += _run("experiment", *exp, f"policy.model={tiny_model_dir}")
    assert (work / "experiment" / "experiment" / "report.md").is_file()
    # evolve: round 0 (scripted trees, a from-scratch student), its report
    printed += _run("evolve", *EVOLVE_SMOKE, f"store.url={url}", f"workdir={work / 'evolve'}", "evolve.rounds=1")
    # prm on a stepwise export
    prm = [f"store.url={url}", f"workdir={work / 'prm'}", "name=p", "policy=scripted", "task.n_train=16",
           "task.n_test=2", "explore.progress=false", "export.test_fraction=0.3"]
    for stage in (explore, linearize, export):
        _in_process(stage, *prm)
    printed += _run("prm", *prm, f"prm.model={tiny_model_dir}", "prm.max_steps=2", "prm.batch_size=4",
                    "prm.lora=false")
    assert (work / "prm" / "prm" / "metrics.json").is_file()
    printed += _run("view", *prm)  # the static site of the same trees
    assert (work / "prm" / "view" / "index.html").is_file()

    assert "postgresql+psycopg://postgres:***@" in (work / "experiment" / "experiment" / "report.md").read_text()
    assert PASSWORD not in printed
    logs = list(work.rglob("*.log")) + list(work.rglob(".hydra/*.yaml"))
    assert logs, "Hydra's logs and saved configs are among the files searched"
    assert _files_holding(work, PASSWORD.encode()) == []
    engine = make_engine(fresh_pg_url)
    try:
        with engine.connect() as conn:
            # the prm run ended done on PostgreSQL: its undefined metrics were stored as null, not NaN
            assert conn.execute(text("SELECT status FROM runs WHERE stage = 'prm'")).scalar_one() == "done"
            for table in inspect(conn).get_table_names():
                dump = " ".join(str(row) for row in conn.execute(text(f'SELECT * FROM "{table}"')))
                assert PASSWORD not in dump, table
    finally:
        engine.dispose()
