"""Shared fixtures: real models (tiny random and the bundled default), real stores."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# oneDNN's AMX kernels die with "Illegal instruction" on some CPUs; harmless elsewhere.
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

POSTGRES_URL = os.environ.get("JOURNEYFORGE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def default_model_dir() -> Path:
    """The real SmolLM2-135M-Instruct, converted from the bundled GGUF (cached across runs)."""
    from search.policies.default_model import default_model_dir as resolve

    return resolve()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, default_model_dir) -> Path:
    """A randomly initialised 2-layer Llama with the default model's tokenizer, saved to disk."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    out = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = AutoTokenizer.from_pretrained(default_model_dir)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(autouse=True)
def _streams_keep_their_grammar(monkeypatch):
    """Every stream a test makes through `linearize_tree` is read by the grammar of docs/stream.md
    (issue 27): a stream that breaks it fails the test that made it."""
    from tests.sos_grammar import checked_stream_linearizer
    from traces import linearize

    monkeypatch.setitem(linearize.LINEARIZERS, "stream", checked_stream_linearizer(linearize.LINEARIZERS["stream"]))


@pytest.fixture(autouse=True)
def _each_test_starts_no_runs_yet():
    """Each test is its own process as far as `fail_started_runs` knows: runs that earlier in-process
    tests started (in other stores) are not this test's to mark failed."""
    from journeyforge.stages import common

    common._STARTED.clear()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A fresh SQLite trace store file."""
    return f"sqlite:///{tmp_path / 'traces.db'}"
