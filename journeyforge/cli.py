"""`journeyforge <stage> [overrides]`: one Hydra app whose first argument picks the stage."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from journeyforge.credentials import scrub_text

# oneDNN's AMX kernels die with "Illegal instruction" on some CPUs (every training step and vLLM);
# capping the ISA at AVX512_CORE_BF16 avoids them and changes nothing elsewhere.
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# The configs ship inside the package (package-data), so the CLI works outside a checkout.
CONF_DIR = str(Path(__file__).resolve().parent / "conf")

USAGE = """usage: journeyforge <stage> [key=value ...] [-m key=a,b ...]

stages:
  explore    grow search trees with the policy model; every node goes into the store
  linearize  turn stored trees into shortcut / journey / stream trajectories
  export     write Hugging Face datasets (sft, stepwise, preference) and a dataset card
  train      LoRA SFT (TRL) on the exported dataset of each kind
  eval       greedy accuracy of the base and tuned models on held-out problems
  rl         GRPO (TRL) on the task's verifier rewards, from the base model or an SFT adapter
  run        all of the above, in order
  prm        a process reward model (step scorer) from the stepwise export, graded on held-out trees
  experiment journey vs shortcut with seeds, intervals and a compute-matched comparison (report.md)
  view       a static site of the run and its trees in <workdir>/view; `serve=true` serves it
  db         schema migrations and read-only checks: `journeyforge db upgrade|current|check [store.url=...]`

`journeyforge <stage> --help` lists the configuration and every option; `--cfg job` prints
the resolved configuration without running.
"""


def EXPECTED_ERRORS() -> tuple[type[BaseException], ...]:
    from db.store import StoreError
    from journeyforge.settings import ConfigError
    from journeyforge.stages.common import StageError
    from search.policies.base import PolicyUnavailable
    from search.tasks.rows import ProblemFileError

    return (StageError, StoreError, PolicyUnavailable, ProblemFileError, ConfigError)


def _DATABASE_ERRORS() -> tuple[type[BaseException], ...]:
    from sqlalchemy.exc import DBAPIError

    return (DBAPIError,)


def error_line(err: BaseException, cfg) -> str:
    """The one line a stage prints for an expected error: a store problem (corrupt, locked, read-only)
    named with the store and what to do, a file system error with its path, else the error's text."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(err, DBAPIError):
        from db.engine import explain_error, mask_url

        url = str(cfg.store.url)
        return explain_error(err, url, cfg.store.get("busy_timeout")) or (
            f"trace store {mask_url(url)}: {' '.join(str(err.orig).split())}")
    if isinstance(err, OSError) and not isinstance(err, EXPECTED_ERRORS()) and err.strerror:
        where = f"{err.filename}: " if err.filename else ""
        return f"{where}{err.strerror} (a folder the stage writes: check workdir, export.dir, view.dir, train.dir)"
    return " ".join(str(err).split())


def _scrub_hydra_files(cfg) -> set[str]:
    """Mask the config's secrets (a store URL's password) in the files Hydra saved for this job
    (`.hydra/*.yaml`, `multirun.yaml`), which hold the command line verbatim; returns the secrets."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from journeyforge.credentials import scrub_files, secrets_in

    secrets = secrets_in(OmegaConf.to_container(cfg, resolve=True))
    if not secrets or not HydraConfig.initialized():
        return secrets
    hc = HydraConfig.get()
    files = []
    if hc.output_subdir is not None:
        files += list((Path(hc.runtime.output_dir) / hc.output_subdir).glob("*.yaml"))
    files += [Path(hc.sweep.dir) / "multirun.yaml"]
    scrub_files(files, secrets)
    return secrets


def _register_configs() -> None:
    # The settings dataclasses are the `schema/<group>` configs every YAML file extends; tests and
    # `journeyforge db` compose CONF_DIR themselves, so they (and the configs' resolvers) are
    # registered on import.
    import journeyforge.resolvers  # noqa: F401
    from journeyforge.settings import register_configs

    register_configs()


_register_configs()


def _variants(overrides: list[str]) -> list[list[str]]:
    """Single-job override lists that together use every value of every sweep (`-m key=a,b`)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    parsed = []
    for text in overrides:
        try:
            parsed += parser.parse_overrides([text])
        except (ValueError, RecursionError) as err:  # e.g. an integer of more than 4,300 digits
            shown = text if len(text) <= 60 else text[:57] + "..."
            raise ValueError(f"{shown}: cannot be read ({' '.join(str(err).split())[:120]})") from None
    first = [o.input_line if not o.is_sweep_override() else
             f"{o.get_key_element()}={next(iter(o.sweep_string_iterator()))}" for o in parsed]
    out = [first]
    for i, o in enumerate(parsed):
        if o.is_sweep_override():
            for value in list(o.sweep_string_iterator())[1:]:
                out.append(first[:i] + [f"{o.get_key_element()}={value}"] + first[i + 1:])
    return out


def _options_near(key: str, overrides: list[str]) -> str:
    """' (did you mean x.y?)' from the options beside `key` in the config, or ''."""
    import difflib

    from hydra import compose, initialize_config_dir
    from omegaconf import DictConfig, OmegaConf

    parent, _, leaf = key.rpartition(".")
    choices = [o for o in overrides if "=" in o and "." not in o.split("=", 1)[0] and o[0] not in "+~"]
    try:
        with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
            cfg = compose(config_name="config", overrides=choices)
        node = OmegaConf.select(cfg, parent) if parent else cfg
    except Exception:  # noqa: BLE001 - a suggestion is optional
        return ""
    if not isinstance(node, DictConfig):
        return ""
    close = difflib.get_close_matches(leaf, [str(k) for k in node.keys()], n=1)
    return f" (did you mean {parent + '.' if parent else ''}{close[0]}?)" if close else ""


def config_error_line(err: BaseException, overrides: list[str]) -> str:
    """One line that names the option of a Hydra composition error and says what to do."""
    import re

    text = str(err)
    cause = err.__cause__
    if m := re.match(r"Could not override '([^']+)'", text):
        key = m.group(1)
        return (f"{key} is not an option{_options_near(key, overrides)}: fix the name (`--cfg job` prints "
                f"every option), or write +{key}=... to add a key where a config allows new ones")
    if m := re.match(r"Could not append to config\. An item is already at '([^']+)'", text):
        return f"{m.group(1)} is already an option: set it without the leading +, e.g. {m.group(1)}=..."
    if m := re.search(r"Could not find '([^']+)/([^']+)'", text):
        group, option = m.groups()
        options = re.findall(r"^\t(\S+)$", text, re.M)
        return f"{group}={option} is not a {group} config; choose one of {', '.join(options) or '(none)'}"
    if m := re.match(r"Error merging override (\S+)", text):
        reason = " ".join(str(cause).split("\n", 1)[0].split()) if cause else "invalid value"
        return f"{m.group(1)}: {reason}"
    return " ".join(text.split("\n", 1)[0].split())


def check_overrides(overrides: list[str], validate: bool = True) -> str | None:
    """Compose the config with `overrides` (each sweep value once) and, with `validate`, check every
    setting (`validate_config`); the first error as one line, or None."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from journeyforge.settings import ConfigError, validate_config

    try:
        variants = _variants(overrides)
    except HydraException as err:  # an override that does not parse
        return " ".join(str(err).split("\n", 1)[0].split()) + " (overrides are key=value, see --help)"
    except ValueError as err:
        return str(err)
    for variant in variants:
        try:
            with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
                cfg = compose(config_name="config", overrides=variant)
        except (HydraException, OmegaConfBaseException) as err:
            return config_error_line(err, variant)
        try:  # Hydra resolves its run directory from `workdir`/`name` before any stage runs
            OmegaConf.to_container(cfg, resolve=True)
        except OmegaConfBaseException as err:
            key = getattr(err, "full_key", None)
            return f"{key + ': ' if key else ''}{' '.join(str(err).split(chr(10), 1)[0].split())}"
        if validate:
            try:
                validate_config(cfg)
            except ConfigError as err:
                return " ".join(str(err).split())
            from journeyforge.folders import folder_problem

            problem = folder_problem(str(cfg.workdir), "workdir")
            if problem:
                return problem
    return None




def _preflight(stage: str, rest: list[str]) -> None:
    """Hydra prints a composition error as several lines whose first rarely says what to do (an
    unknown key: "To append to your config use +key=value"); compose once ourselves and stop with one
    line instead, and check every setting of every job of a sweep before the first one writes. Help,
    completion and other config directories are left to Hydra; `--cfg` prints even a bad config."""
    from hydra._internal.utils import get_args_parser

    try:
        args = get_args_parser().parse_args(rest)
    except SystemExit:  # Hydra reports bad flags itself
        return
    if (args.help or args.hydra_help or args.shell_completion or args.info or args.config_path
            or args.config_name or args.config_dir):
        return
    problem = check_overrides(list(args.overrides), validate=not args.cfg)
    if problem:
        sys.exit(f"journeyforge {stage}: {problem}")


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
    if stage.startswith("-") or "=" in stage:
        sys.exit(f"journeyforge: the first argument is the stage, got {stage!r}\n\n{USAGE}")
    if stage == "view":  # `journeyforge view serve=true port=8001`: the stage's own keys without `view.`
        from viewer.settings import expand_shorthands

        rest = expand_shorthands(rest)
    # Before the stages are imported (datasets, torch: seconds): a bad setting fails at once.
    _preflight(stage, rest)
    stages = _stages()
    if stage not in stages:
        sys.exit(f"journeyforge: unknown stage {stage!r}\n\n{USAGE}")

    import hydra

    @hydra.main(config_path=CONF_DIR, config_name="config", version_base=None)
    def _app(cfg):
        import logging

        from journeyforge.stages.common import fail_started_runs

        # Alembic announces its migration context on every store open; keep stage output readable.
        logging.getLogger("alembic").setLevel(logging.WARNING)
        secrets = _scrub_hydra_files(cfg)
        try:
            return stages[stage](cfg)
        except (*EXPECTED_ERRORS(), OSError, *_DATABASE_ERRORS()) as err:
            # Input and environment problems get one clear message, not a traceback; one line even
            # when a driver's own text spans several (psycopg: "...refused\n\tIs the server running").
            line = scrub_text(error_line(err, cfg), secrets)
            fail_started_runs(line)
            sys.exit(f"journeyforge {stage}: {line}")
        except KeyboardInterrupt:
            # The explorer has already handed its trees back; every finished wave is stored.
            print(f"journeyforge {stage}: interrupted; what was finished is stored, the same command "
                  "resumes", file=sys.stderr)
            sys.exit(130)

    sys.argv = [f"journeyforge {stage}", *rest]
    _app()


if __name__ == "__main__":
    main()
