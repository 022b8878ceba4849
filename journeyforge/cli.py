"""`journeyforge <stage> [overrides]`: one Hydra app whose first argument picks the stage."""
from __future__ import annotations

import os
import sys
from pathlib import Path

# oneDNN's AMX kernels die with "Illegal instruction" on some CPUs (every training step and vLLM);
# capping the ISA at AVX512_CORE_BF16 avoids them and changes nothing elsewhere.
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_USAGE = """usage: journeyforge <stage> [key=value ...] [-m key=a,b ...]

stages:
{stages}

`journeyforge <stage> --help` lists the configuration and every option; `--cfg job` prints
the resolved configuration without running.
"""


def __getattr__(name: str):
    """`CONF_DIR`, `check_overrides` (read from here by tests and benchmarks) and `USAGE`, imported
    when first asked for: this module's own import stays light, so that Ctrl-C in the second the
    stage's libraries take to import is caught by `main` like any other."""
    if name in ("CONF_DIR", "check_overrides"):
        from journeyforge import overrides   # after the environment above: it registers every stage's schema

        return getattr(overrides, name)
    if name == "USAGE":
        return _usage()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _usage() -> str:
    from journeyforge.stages import stage_lines
    from traces.linearize import kind_names

    return _USAGE.format(stages=stage_lines(kind_names()))  # journeyforge/stages/__init__.py STAGES


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
        from db.settings import StoreSettings
        from journeyforge.settings import settings

        # The stage checked the store settings before it opened the store, so building them here
        # cannot fail; the wait named in a lock's message is the one the store used.
        store = settings(StoreSettings, cfg.store, "store")
        return explain_error(err, store.url, store.busy_timeout) or (
            f"trace store {mask_url(store.url)}: {' '.join(str(err.orig).split())}")
    if isinstance(err, OSError) and not isinstance(err, EXPECTED_ERRORS()) and err.strerror:
        where = f"{err.filename}: " if err.filename else ""
        return f"{where}{err.strerror} (a folder the stage writes: check workdir, export.dir, view.dir, train.dir)"
    return " ".join(str(err).split())


def _report_bug(stage: str, err: Exception, secrets: set[str]) -> None:
    """An unexpected error (a bug, not bad input): its traceback for a report, then one last line,
    exit 1. Left to Hydra, it would print "Error executing job with overrides: [...]" with the command
    line verbatim, a store URL's password included; here every line is scrubbed of the secrets, and
    the runs this process left `running` are marked failed."""
    import traceback

    from journeyforge.credentials import scrub_text
    from journeyforge.stages.common import fail_started_runs

    line = scrub_text(f"{type(err).__name__}: {' '.join(str(err).split())}", secrets)
    fail_started_runs(line)
    sys.stderr.write(scrub_text("".join(traceback.format_exception(err)), secrets))
    sys.exit(f"journeyforge {stage}: unexpected error ({line}); the traceback above is for a bug report")


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
    from journeyforge.overrides import check_overrides

    problem = check_overrides(list(args.overrides), validate=not args.cfg, stage=stage)
    if problem:
        sys.exit(f"journeyforge {stage}: {problem}")


def _stages():
    from journeyforge.stages import STAGES

    return STAGES


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        _main(argv)
    except KeyboardInterrupt:   # before the stage ran (importing, checking the settings): nothing was written
        _interrupted(argv[0] if argv and not argv[0].startswith("-") else "")


def _interrupted(stage: str) -> None:
    """Ctrl-C's one line (exit 130), whenever it comes: the explorer has handed its trees back and
    every finished wave is stored. CPython 3.11 turns the exit into death by SIGINT when the interrupt
    landed in code compiled from a string (a namedtuple being made): the shell's $? is 130 either way."""
    print(f"journeyforge{' ' + stage if stage else ''}: interrupted; what was finished is stored, the same "
          "command resumes", file=sys.stderr)
    sys.exit(130)


def _main(argv: list[str]) -> None:
    from journeyforge.overrides import CONF_DIR

    usage = _usage()
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage)
        return
    stage, rest = argv[0], argv[1:]
    if stage == "db":
        from journeyforge.db_command import main as db_main

        db_main(rest)
        return
    if stage.startswith("-") or "=" in stage:
        sys.exit(f"journeyforge: the first argument is the stage, got {stage!r}\n\n{usage}")
    if stage == "view":  # `journeyforge view serve=true port=8001`: the stage's own keys without `view.`
        from viewer.settings import expand_shorthands

        rest = expand_shorthands(rest)
    # Before the stages are imported (datasets, torch: seconds): a bad setting fails at once.
    _preflight(stage, rest)
    stages = _stages()
    if stage not in stages:
        sys.exit(f"journeyforge: unknown stage {stage!r}\n\n{usage}")

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
            from journeyforge.credentials import scrub_text

            line = scrub_text(error_line(err, cfg), secrets)
            fail_started_runs(line)
            sys.exit(f"journeyforge {stage}: {line}")
        except KeyboardInterrupt:
            _interrupted(stage)
        except Exception as err:  # noqa: BLE001 - a bug: reported here, not by Hydra
            _report_bug(stage, err, secrets)

    sys.argv = [f"journeyforge {stage}", *rest]
    _app()


if __name__ == "__main__":
    main()
