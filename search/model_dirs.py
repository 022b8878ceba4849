"""Model, adapter, scorer and tokenizer folders, checked before a stage writes anything.

A folder with a garbage `config.json`, a truncated `model.safetensors` or no tokenizer used to be
opened only when the stage first needed it, after runs, trees and evals were written, and it ended in
a library's traceback (`SafetensorError: invalid header length`). `model_dir_problem` opens what
the loaders will open, without loading a tensor: the config (parsed by transformers itself), the
tokenizer (AutoTokenizer, local files only) and the header of every weight file, and says in one line
what is wrong, naming the option and the folder.

Names that are not folders:
- the bundled default (`smollm2-135m`): its converted folder in the cache is checked when it is there;
  before its first use only the packaged GGUF it is converted from is looked for;
- a hub id (`org/name`, one '/', no such local path): with the hub off (HF_HUB_OFFLINE=1) it must be
  in the local Hugging Face cache, whose snapshot is checked like a folder; with the hub on it is left
  to the loader, which downloads what is missing (a config-time check would need the network);
- anything else that does not exist is named as a missing folder (a typo in a path is the common case).
Results are kept per folder and per state of its files, so a stage that checks its settings again
after the command line did pays once.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path

from search.policies.default_model import DEFAULT_MODEL, bundled_gguf, cache_dir

# `org/name` as the hub spells repository ids (huggingface_hub's validate_repo_id, without its length rule).
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json", "vocab.txt")
WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.pth")
_CHECKED: dict[tuple, str | None] = {}


def model_dir_problem(path: str, option: str, *, tokenizer: bool = True) -> str | None:
    """Why the model / adapter / scorer folder `path` of option `option` cannot be loaded, as one line
    naming both, or None. Checks that it exists, that `config.json` (or a peft adapter's
    `adapter_config.json`) parses and names a model type transformers knows, that the tokenizer loads
    (with `tokenizer`), and that every `*.safetensors` header reads and matches the file's size."""
    name = str(path)
    shown = f"{option}={name}"
    if name in (DEFAULT_MODEL, "default", ""):
        folder = cache_dir() / "models" / "SmolLM2-135M-Instruct"
        if not (folder / "config.json").exists():  # converted on first use, from the packaged GGUF
            try:
                bundled_gguf()
            except FileNotFoundError as err:
                return f"{shown}: {err}"
            return None
    else:
        folder = Path(name).expanduser()
        if not folder.exists():
            if HUB_ID.match(name):
                return _hub_problem(name, shown, tokenizer)
            return (f"{shown}: no such model folder; give a folder with config.json, weights and tokenizer, "
                    f"{DEFAULT_MODEL} (the bundled model) or a hub id org/name")
    if not folder.is_dir():
        return f"{shown}: {folder} is a file, not a model folder"
    reason = _folder_reason(folder, tokenizer)
    return f"{shown}: {reason}" if reason else None


def _hub_problem(repo_id: str, shown: str, tokenizer: bool) -> str | None:
    """A hub id: left to the loader while the hub is on; offline, its cached snapshot is checked."""
    from huggingface_hub import try_to_load_from_cache

    if not hub_off():
        return None
    cached = try_to_load_from_cache(repo_id, "config.json")
    if not isinstance(cached, str):
        return (f"{shown}: not a local folder, and not in the Hugging Face cache while the hub is off "
                "(HF_HUB_OFFLINE=1): download it once with the hub on, or give a local folder")
    reason = _folder_reason(Path(cached).parent, tokenizer)
    return f"{shown}: {reason} (its cached snapshot {Path(cached).parent})" if reason else None


def _folder_reason(folder: Path, tokenizer: bool) -> str | None:
    """What is wrong with a model folder, without the option (cached while its files stay the same)."""
    try:
        state = tuple(sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()))
    except OSError as err:
        return f"{folder} cannot be read ({err.strerror or err})"
    key = (str(folder.resolve()), tokenizer, state)
    if key not in _CHECKED:
        _CHECKED[key] = (_config_reason(folder) or _weights_reason(folder)
                         or (_tokenizer_reason(folder) if tokenizer else None))
    return _CHECKED[key]


def _read_json(file: Path) -> tuple[dict | None, str | None]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as err:
        return None, f"{file.name} cannot be read ({err.strerror or err})"
    except UnicodeDecodeError:
        return None, f"{file.name} is not text (not UTF-8): not a transformers config"
    except json.JSONDecodeError as err:
        return None, f"{file.name} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})"
    if not isinstance(data, dict):
        return None, f"{file.name} holds a {type(data).__name__}, not a JSON object"
    return data, None


def _config_reason(folder: Path) -> str | None:
    """config.json (or a peft adapter's adapter_config.json) parses and names what transformers knows."""
    adapter = folder / "adapter_config.json"
    if adapter.exists():
        data, reason = _read_json(adapter)
        if reason:
            return reason
        if not data.get("peft_type"):
            return "adapter_config.json names no peft_type: not a peft adapter folder"
        return None
    config = folder / "config.json"
    if not config.exists():
        return "no config.json (nor adapter_config.json): not a transformers model folder"
    data, reason = _read_json(config)
    if reason:
        return reason
    from transformers import AutoConfig, __version__
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    model_type = data.get("model_type")
    if not model_type:
        return "config.json names no model_type: transformers cannot tell which architecture to build"
    if model_type not in CONFIG_MAPPING:
        return (f"config.json names model_type {model_type!r}, which transformers {__version__} does not know "
                "(a newer transformers, or a folder of another library?)")
    try:
        with _quiet():
            AutoConfig.from_pretrained(str(folder), local_files_only=True)
    except Exception as err:  # noqa: BLE001 - any failure of the config is the folder's problem, named here
        return f"config.json does not load in transformers ({_short(err)})"
    return None


def _weights_reason(folder: Path) -> str | None:
    """Some weight file is there, and every safetensors header reads and covers its file exactly."""
    index = folder / "model.safetensors.index.json"
    if index.exists():
        data, reason = _read_json(index)
        if reason:
            return reason
        missing = sorted({str(f) for f in (data.get("weight_map") or {}).values()} - {p.name for p in folder.iterdir()})
        if missing:
            return f"{index.name} names {missing[0]}, which is not in the folder (an incomplete copy?)"
    files = sorted(folder.glob("*.safetensors"))
    if not files and not any(next(folder.glob(pattern), None) for pattern in WEIGHT_PATTERNS):
        return "no weight files (*.safetensors, *.bin): an incomplete copy, or a folder of something else"
    for file in files:
        reason = safetensors_header_problem(file)
        if reason:
            return f"{file.name} {reason}"
    return None


def safetensors_header_problem(file: Path) -> str | None:
    """What is wrong with a safetensors file's header, or None: the 8-byte little-endian length, the
    JSON header of that length, and tensors whose byte ranges end exactly at the end of the file (a
    truncated copy ends early). Reads the header only, never the tensors."""
    try:
        size = file.stat().st_size
        with file.open("rb") as fh:
            head = fh.read(8)
            length = int.from_bytes(head, "little") if len(head) == 8 else -1
            raw = fh.read(length) if 0 < length <= size - 8 else b""
    except OSError as err:
        return f"cannot be read ({err.strerror or err})"
    if length < 0:
        return f"is truncated: {size} bytes, fewer than the 8 of a safetensors header length"
    if not 0 < length <= size - 8:
        return (f"is truncated or not a safetensors file: its header length {length} does not fit in its "
                f"{size} bytes")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "is not a safetensors file: its header is not JSON"
    if not isinstance(header, dict):
        return "is not a safetensors file: its header is not a JSON object"
    ends = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            return f"is not a safetensors file: tensor {name!r} has no data_offsets"
        ends.append(offsets[1])
    data = size - 8 - length
    if max(ends, default=0) != data:
        return (f"is truncated or damaged: its header places tensors in {max(ends, default=0)} bytes, the file "
                f"holds {data} after the header")
    return None


def _tokenizer_reason(folder: Path) -> str | None:
    """The tokenizer loads as the stages load it (AutoTokenizer), from local files only."""
    if not any((folder / name).exists() for name in TOKENIZER_FILES):
        return ("no tokenizer (tokenizer.json / tokenizer_config.json): save the tokenizer beside the model "
                "(tokenizer.save_pretrained)")
    from transformers import AutoTokenizer

    try:
        with _quiet():
            AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except Exception as err:  # noqa: BLE001 - any failure to load is the folder's problem, named here
        return f"the tokenizer does not load ({_short(err)})"
    return None


def _short(err: BaseException, limit: int = 160) -> str:
    """An exception's first line, at most `limit` characters: a library's message can be a paragraph."""
    text = " ".join(str(err).split("\n", 1)[0].split())
    if len(text) < 40:  # a bare KeyError's key or an empty message says little without its kind
        text = f"{type(err).__name__}: {text}" if text else type(err).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


def hub_off() -> bool:
    """Whether the hub is switched off for this process (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE), read
    now: huggingface_hub reads its constant once, at import."""
    return any(os.environ.get(v, "").upper() in ("1", "ON", "YES", "TRUE") for v in ("HF_HUB_OFFLINE",
                                                                                     "TRANSFORMERS_OFFLINE"))


@contextlib.contextmanager
def _quiet():
    """transformers' warnings while a folder is checked would be lines of their own before the one line."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
