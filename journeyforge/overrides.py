"""The command line's overrides, checked before any stage runs: compose the packaged config with them
(every value of every sweep once), validate every setting, and say what is wrong in one line.

Shared by `journeyforge <stage>` (journeyforge/cli.py) and `journeyforge db` (journeyforge/db_command.py),
which both sit above this module. Importing it registers the settings dataclasses as Hydra's
`schema/<group>` configs.
"""
from __future__ import annotations

from pathlib import Path

# The configs ship inside the package (package-data), so the CLI works outside a checkout.
CONF_DIR = str(Path(__file__).resolve().parent / "conf")


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


def _group_choices(overrides: list[str], without: str | None = None) -> list[str]:
    """The group choices among `overrides` (`policy=hf`, `experiment=cpu_lab`; not dotted options, not
    + or ~ ones), less the choice of group `without`: what a hint composes the config with."""
    return [o for o in overrides if "=" in o and "." not in o.split("=", 1)[0] and o[0] not in "+~"
            and o.split("=", 1)[0] != without]


def _options_near(key: str, overrides: list[str]) -> str:
    """' (did you mean x.y?)' from the options beside `key` in the config, or ''."""
    import difflib

    from hydra import compose, initialize_config_dir
    from omegaconf import DictConfig, OmegaConf

    parent, _, leaf = key.rpartition(".")
    choices = _group_choices(overrides)
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


def _choices_with(key: str, overrides: list[str]) -> list[str]:
    """The configs of `key`'s group (`policy=hf`, `policy=vllm`, ...) that have the option `key`, when the
    chosen one does not: setting `policy.backend=hf` changes one field of the chosen config, while the
    group choice `policy=hf` brings that backend's options. Empty when `key` is no group's option."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    group, _, rest = key.partition(".")
    folder = Path(CONF_DIR) / group
    if not rest or not folder.is_dir():
        return []
    choices = _group_choices(overrides, without=group)
    parent, _, leaf = key.rpartition(".")
    having = []
    for option in sorted(p.stem for p in folder.glob("*.yaml")):
        try:
            with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
                cfg = compose(config_name="config", overrides=[*choices, f"{group}={option}"])
            node = OmegaConf.select(cfg, parent)
        except Exception:  # noqa: BLE001 - a hint is optional; a choice that does not compose gives none
            continue
        if node is not None and hasattr(node, "keys") and leaf in node.keys():
            having.append(f"{group}={option}")
    return having


def config_error_line(err: BaseException, overrides: list[str]) -> str:
    """One line that names the option of a Hydra composition error and says what to do."""
    import re

    text = str(err)
    cause = err.__cause__
    if m := re.match(r"Could not override '([^']+)'", text):
        key = m.group(1)
        if cause is not None and re.search(rf"full_key: {re.escape(key)}\.\S+", str(cause)):
            # The option exists and is a mapping; the override gives it keys it does not hold yet, which
            # Hydra's struct mode accepts only with `+`.
            return (f"{key} is a mapping option that takes new keys only with a leading +: write "
                    f"+{key}=... (or +{key}.<name>=<value>)")
        elsewhere = _choices_with(key, overrides)
        if elsewhere:
            return (f"{key} is not an option of the chosen {key.split('.')[0]} config; {', '.join(elsewhere)} "
                    f"{'has' if len(elsewhere) == 1 else 'have'} it: choose one first, e.g. {elsewhere[0]} {key}=...")
        return (f"{key} is not an option{_options_near(key, overrides)}: fix the name (`--cfg job` prints "
                f"every option), or write +{key}=... to add a key where a config allows new ones")
    if m := re.match(r"Could not append to config\. An item is already at '([^']+)'", text):
        return f"{m.group(1)} is already an option: set it without the leading +, e.g. {m.group(1)}=..."
    if m := re.search(r"Could not find '([^']+)/([^']+)'", text):
        group, option = m.groups()
        options = re.findall(r"^\t(\S+)$", text, re.M)
        return f"{group}={option} is not a {group} config; choose one of {', '.join(options) or '(none)'}"
    if m := re.search(r"In '([^']+)': ConfigKeyError raised while composing config:\s*Key '[^']+' not in '([^']+)'"
                      r"\s*full_key: (\S+)", text):
        # A config file (a preset) sets an option the chosen group lacks: e.g. experiment=cpu_lab sets
        # Countdown's task.n_numbers, and task=math has no such option.
        where, schema, key = m.groups()
        return (f"{where}.yaml sets {key}, which {schema} does not have: that config is written for another "
                f"choice of {key.split('.')[0]} (see its file), or remove {key} from it")
    if m := re.match(r"Error merging override (\S+)", text):
        reason = " ".join(str(cause).split("\n", 1)[0].split()) if cause else "invalid value"
        return f"{m.group(1)}: {reason}"
    return " ".join(text.split("\n", 1)[0].split())


def check_overrides(overrides: list[str], validate: bool = True, stage: str | None = None) -> str | None:
    """Compose the config with `overrides` (each sweep value once) and, with `validate`, check every
    setting (`validate_config`) and, for `stage`, every folder it reads models from or writes into
    (journeyforge/stage_folders.py; without a stage, `workdir`); the first error as one line, or None."""
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
                validate_config(cfg, stage)
            except ConfigError as err:
                return " ".join(str(err).split())
            from journeyforge.folders import folder_problem

            problem = folder_problem(str(cfg.workdir), "workdir") if stage is None else None
            if problem:
                return problem
    return None
