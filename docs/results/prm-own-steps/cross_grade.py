"""Each step scorer graded on the other one's held-out trees (issue 40 item 1).

`journeyforge prm` grades a scorer on its own export's held-out paths only. This grades a scorer on
another run's held-out paths the same way (journeyforge/stages/prm.py `_grade`: against the stored
labels and the Countdown oracle, threshold 0.5), so the scorer trained on the symbolic trees can be
graded on the student's own trees (its slips) and the other way round.

    python docs/results/prm-own-steps/cross_grade.py sqlite:////tmp/prmown/prm.db \
        sym:/tmp/prmown/sym/prm own:/tmp/prmown/own/prm

Arguments: the store URL, then run:scorer pairs; every scorer is graded on every run's held-out paths.
"""
from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

from analysis.tables import table
from db.store import TraceStore
from journeyforge.stages.prm import COLUMNS, _fmt, _grade, _stepwise
from search.tasks import make_task


def main(url: str, *pairs: str) -> None:
    store = TraceStore(url)
    runs = [p.split(":", 1) for p in pairs]
    lines = []
    for data_run, _ in runs:
        export = store.get_run(data_run, "export")
        task = make_task(export["config"]["task"])
        test_rows = _stepwise(export).get("test", [])
        for scorer_run, scorer in runs:
            opts = SimpleNamespace(max_length=128, threshold=0.5)
            graded = _grade(store, task, Path(scorer), test_rows, opts, {})["graded"]
            for what in ("prm vs stored labels", "prm vs oracle"):
                g = graded[what]
                lines.append([f"{scorer_run} scorer", f"{data_run} trees ({len(test_rows)} paths)", what,
                              *[_fmt(g[c]) for c in COLUMNS]])
    print(table(["scorer", "graded on", "against", *COLUMNS], lines,
                title="[cross-grade] each scorer on each run's held-out paths; a step is a mistake below 0.5"))


if __name__ == "__main__":
    main(*sys.argv[1:])
