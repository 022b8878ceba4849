#!/bin/bash
# The pilot scans of docs/results/sudoku-lab/README.md, as they were run (one seed, 300 held-out
# puzzles, 2-layer 64-wide students, batches of 32, one thread each; 2026-12-07 on the shared 2-core
# development machine, load 7-10). Stores and logs go to /tmp/pilot/<name>.{db,log}.
set -u
cd "$(dirname "$0")/../../.."
export OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
run() {  # name, then overrides of the sudoku_lab preset
  local name=$1; shift
  .venv/bin/journeyforge experiment experiment=sudoku_lab name=pilot-$name workdir=/tmp/pilot/$name \
    store.url=sqlite:////tmp/pilot/$name.db task.n_test=300 eval.n_problems=300 experiment.seeds=[0] \
    experiment.samples=8 experiment.jobs=1 explore.progress=false "$@" > /tmp/pilot/$name.log 2>&1
  .venv/bin/python docs/results/sudoku-lab/check_evals.py /tmp/pilot/$name.db
}
mkdir -p /tmp/pilot
# P1-P4 ran with the preset's students of the time, 2 layers x 64 (the preset now trains 4 x 128)
S2="train.student.layers=2 train.student.width=64 train.student.heads=2"
# P1: 600 examples x 8 epochs (152 steps), three arms
run s4b10 $S2 task.n_train=900 experiment.max_examples=600 experiment.select=[shortcut,dfs,journey] eval.max_tokens=400
# P2 / P3: 4,000 examples x 8 epochs (1,000 steps), shortcut and dfs on their own
run s4b10n4k $S2 experiment.select=[shortcut] eval.max_tokens=200
run s4b10n4k-dfs $S2 experiment.select=[dfs] eval.max_tokens=300
# P4: P2 with the givens shown as placements
run s4b10n4k-cells $S2 task.puzzle_format=cells experiment.select=[shortcut] eval.max_tokens=200
# P5 (added later, 2026-12-07): P2 / P3 with a 4-layer, 128-wide student, seeds 0 and 1 (experiment.seeds=[1])
S4="train.student.layers=4 train.student.width=128 train.student.heads=4"
run s4b10n4k-4x128 $S4 experiment.select=[shortcut] eval.max_tokens=200
run s4b10n4k-4x128-dfs $S4 experiment.select=[dfs] eval.max_tokens=300
run s4b10n4k-4x128-dfs-s1 $S4 experiment.seeds=[1] experiment.select=[dfs] eval.max_tokens=300
# (shortcut seed 1 was started and stopped: the session ran out of time)
.venv/bin/python docs/results/sudoku-lab/sample_dfs.py /tmp/pilot/s4b10n4k-4x128-dfs.db \
  /tmp/pilot/s4b10n4k-4x128-dfs/models/dfs-s0 100 1.0
