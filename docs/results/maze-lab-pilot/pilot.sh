#!/bin/bash
# M1: maze_lab preset as it is (6x6 perfect mazes, 2x64 students, 4,000 examples x 8 epochs), shortcut vs dfs,
# one seed, 300 held-out mazes.
set -u
cd /work/main
export OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16
name=m1   # outputs under /tmp/pilot; from a clone choose your own workdir and store.url
time .venv/bin/journeyforge experiment experiment=maze_lab name=pilot-$name workdir=/tmp/pilot/$name \
  store.url=sqlite:////tmp/pilot/$name.db task.n_test=300 eval.n_problems=300 experiment.seeds=[0] \
  experiment.jobs=2 explore.progress=false 'experiment.select=[shortcut,dfs]'
