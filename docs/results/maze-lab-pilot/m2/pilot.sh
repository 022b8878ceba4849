#!/bin/bash
# M2: 5x5 perfect mazes shown as cells with their open neighbours (task.maze_format=cells), 3-layer 64-wide
# students, 3,000 examples x 6 epochs; shortcut vs dfs, one seed, 300 held-out mazes.
set -u
cd /work/main
export OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16
name=m2
time .venv/bin/journeyforge experiment experiment=maze_lab name=pilot-$name workdir=/tmp/pilot/$name \
  store.url=sqlite:////tmp/pilot/$name.db task.size=5 task.min_moves=5 task.maze_format=cells \
  task.n_train=3200 experiment.max_examples=3000 train.epochs=6 train.student.layers=3 \
  task.n_test=300 eval.n_problems=300 eval.max_tokens=300 'experiment.seeds=[0]' \
  experiment.jobs=2 explore.progress=false 'experiment.select=[shortcut,dfs]'
