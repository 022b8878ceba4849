"""Loading Countdown problems from JSONL and Parquet files, and the errors bad rows give."""
from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from search.tasks import make_task
from search.tasks.countdown.generator import split_of_target
from search.tasks.countdown.problem_files import ProblemFileError, load_problem_file

GOOD = [
    {"nums": [28, 18, 5], "target": 15, "split": "test", "id": "a"},
    {"nums": [3, 5, 7], "target": 22},
]


def write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_jsonl_rows_become_problems_with_given_or_held_out_splits(tmp_path):
    path = write_jsonl(tmp_path / "problems.jsonl", GOOD + [""])
    problems = make_task({"name": "countdown", "source": "file", "path": str(path)}).load_problems()
    assert [p.key for p in problems] == ["5,18,28->15", "3,5,7->22"]
    assert problems[0].split == "test" and problems[0].payload["id"] == "a"
    assert problems[1].split == split_of_target(22, 0.2)
    assert problems[0].answer is not None


def test_parquet_rows_become_problems(tmp_path):
    path = tmp_path / "problems.parquet"
    pq.write_table(pa.Table.from_pylist([{"nums": [28, 18, 5], "target": 15}, {"nums": [3, 5, 7], "target": 22}]), path)
    problems = make_task({"name": "countdown", "source": "file", "path": str(path)}).load_problems()
    assert [p.payload for p in problems] == [{"nums": [28, 18, 5], "target": 15}, {"nums": [3, 5, 7], "target": 22}]


BAD_JSONL = [
    ('{"target": 5}', "field 'nums' is missing"),
    ('{"nums": [1, 4]}', "field 'target' is missing"),
    ('{"nums": "abc", "target": 5}', "field 'nums' must be a non-empty list of non-negative integers, got \"abc\""),
    ('{"nums": [], "target": 5}', "field 'nums' must be a non-empty list"),
    ('{"nums": [1, -4], "target": 5}', "field 'nums' must be a non-empty list"),
    ('{"nums": [1, 2.5], "target": 5}', "field 'nums' must be a non-empty list"),
    ('{"nums": [true, 4], "target": 5}', "field 'nums' must be a non-empty list"),
    ('{"nums": [1, 4], "target": true}', "field 'target' must be a non-negative integer, got true"),
    ('{"nums": [1, 4], "target": "5"}', "field 'target' must be a non-negative integer"),
    ('{"nums": [1, 4], "target": -5}', "field 'target' must be a non-negative integer"),
    ('{"nums": [1, 4], "target": 5, "split": 3}', "field 'split' must be a non-empty string"),
    ('{"nums": [1, 4, ', "not valid JSON"),
    ('[1, 4]', "expected an object"),
]


@pytest.mark.parametrize("line,message", BAD_JSONL)
def test_bad_jsonl_row_names_file_line_and_field(tmp_path, line, message):
    path = write_jsonl(tmp_path / "problems.jsonl", [GOOD[0], GOOD[1], line])
    with pytest.raises(ProblemFileError) as err:
        load_problem_file(path)
    assert f"problems.jsonl line 3: {message}" in str(err.value)


@pytest.mark.parametrize("rows,message", [
    # Parquet columns have one type, so a float column is bad from its first row.
    ([{"nums": [1.0, 4.0], "target": 5}], "row 0: field 'nums' must be a non-empty list"),
    ([{"nums": [1, 4], "target": 5.5}], "row 0: field 'target' must be a non-negative integer, got 5.5"),
    ([{"nums": [3, 5, 7], "target": 22}, {"nums": [1, 4], "target": None}], "row 1: field 'target' is missing"),
    ([{"nums": [3, 5, 7], "target": 22}, {"nums": [1, -4], "target": 3}], "row 1: field 'nums' must be a non-empty list"),
    ([{"nums": [3, 5, 7], "target": 22}, {"nums": [], "target": 3}], "row 1: field 'nums' must be a non-empty list"),
])
def test_bad_parquet_row_names_file_row_and_field(tmp_path, rows, message):
    path = tmp_path / "problems.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    with pytest.raises(ProblemFileError) as err:
        load_problem_file(path)
    assert f"problems.parquet {message}" in str(err.value)


def test_parquet_skip_bad_rows_keeps_the_good_ones(tmp_path):
    path = tmp_path / "problems.parquet"
    pq.write_table(pa.Table.from_pylist([{"nums": [1, -4], "target": 3}, {"nums": [3, 5, 7], "target": 22}]), path)
    loaded = load_problem_file(path, skip_bad_rows=True)
    assert [r.nums for r in loaded.rows] == [[3, 5, 7]] and len(loaded.skipped) == 1


def test_skip_bad_rows_keeps_good_rows_and_reports_each_skipped_one(tmp_path, caplog):
    path = write_jsonl(tmp_path / "problems.jsonl", [GOOD[0]] + [line for line, _ in BAD_JSONL] + [GOOD[1]])
    loaded = load_problem_file(path, skip_bad_rows=True)
    assert [r.target for r in loaded.rows] == [15, 22]
    assert len(loaded.skipped) == len(BAD_JSONL)
    assert "line 2:" in loaded.skipped[0] and "skipped 13 bad rows" in caplog.text
    task = make_task({"name": "countdown", "source": "file", "path": str(path), "skip_bad_rows": True})
    assert len(task.load_problems()) == 2 and len(task.last_skipped) == len(BAD_JSONL)


def test_unsolvable_and_duplicate_rows_are_dropped_when_only_solvable(tmp_path):
    path = write_jsonl(tmp_path / "problems.jsonl", GOOD + [{"nums": [1, 1], "target": 50}, {"nums": [7, 5, 3], "target": 22}])
    keys = [p.key for p in make_task({"name": "countdown", "source": "file", "path": str(path)}).load_problems()]
    assert keys == ["5,18,28->15", "3,5,7->22"]
    every = make_task({"name": "countdown", "source": "file", "path": str(path), "only_solvable": False}).load_problems()
    assert [p.key for p in every] == ["5,18,28->15", "3,5,7->22", "1,1->50"] and every[2].answer is None


def test_unknown_extension_and_missing_file_are_clear_errors(tmp_path):
    with pytest.raises(ProblemFileError, match=r"problems\.csv: unknown problem file type"):
        load_problem_file(tmp_path / "problems.csv")
    with pytest.raises(ProblemFileError, match="not found"):
        load_problem_file(tmp_path / "nothing.jsonl")
