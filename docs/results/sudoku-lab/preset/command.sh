#!/usr/bin/env bash
# The sudoku_lab preset as committed (4 x 128 students, shortcut and dfs, 3 seeds, 500 held-out
# puzzles), run on 2026-12-07 on the 2-core development machine (2 workers, one thread each).
set -euo pipefail
journeyforge experiment experiment=sudoku_lab workdir=/tmp/sdk3/out store.url=sqlite:////tmp/sdk3/lab.db \
  explore.progress=false

# The dropped-trace pilot (Dualformer, drop 0.5), one seed, in its own store (the same 4,200 trees:
# explore is seeded):
journeyforge experiment experiment=sudoku_lab name=sudoku-dropped-pilot workdir=/tmp/sdkd/out \
  store.url=sqlite:////tmp/sdkd/lab.db explore.progress=false 'experiment.select=[dropped]' \
  'experiment.seeds=[0]' experiment.jobs=1

# Re-check from the committed stores, no model needed (from docs/results/sudoku-lab/):
#   gunzip -k preset/store.db.gz dropped/store.db.gz
#   journeyforge experiment experiment=sudoku_lab store.url=sqlite:///preset/store.db experiment.report_only=true
#   python check_evals.py preset/store.db; python check_evals.py dropped/store.db
#   python by_backtrack.py preset/store.db dropped/store.db
#   python dropped/paired_stores.py preset/store.db shortcut/s0,shortcut/s1,shortcut/s2 dropped/store.db dropped/s0
