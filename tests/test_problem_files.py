"""Loading Countdown problems from JSONL and Parquet files, and the errors bad rows give."""
from __future__ import annotations

import json
import subprocess
import time

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


# -- limits: a wrong file fails fast with one line naming file, line and field ---------------------

from search.tasks.countdown.settings import MAX_NUMBERS, MAX_VALUE, CountdownConfig  # noqa: E402
from search.tasks.rows import MAX_LINE_BYTES  # noqa: E402


def _fails_fast(path, message: str) -> str:
    """Loading `path` (file rows, then the task) fails with `message` in under 2 s; the error's text."""
    for load in (lambda: load_problem_file(path),
                 lambda: make_task({"name": "countdown", "source": "file", "path": str(path)}).load_problems()):
        started = time.perf_counter()
        with pytest.raises(ProblemFileError) as err:
            load()
        assert time.perf_counter() - started < 2.0
        assert message in str(err.value), str(err.value)
        assert "\n" not in str(err.value)
    return str(err.value)


def test_binary_file_is_one_clear_error(tmp_path):
    path = tmp_path / "problems.jsonl"
    pq.write_table(pa.Table.from_pylist(GOOD[1:]), path)  # a Parquet file with a .jsonl name
    _fails_fast(path, "problems.jsonl line 1: binary data (a NUL byte), not a problem file")


def test_non_utf8_line_names_the_line_and_byte(tmp_path):
    path = tmp_path / "problems.jsonl"
    path.write_bytes(json.dumps(GOOD[0]).encode() + b"\n" + '{"nums": [1, 2], "target": 3, "id": "caf\xe9"}\n'.encode("latin-1"))
    _fails_fast(path, "problems.jsonl line 2: not UTF-8 text (byte 41 is 0xe9)")


def test_a_byte_order_mark_is_not_an_error(tmp_path):
    path = tmp_path / "problems.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD[1]).encode() + b"\n")
    assert [r.target for r in load_problem_file(path).rows] == [22]


@pytest.mark.parametrize("field,line,message", [
    ("target", '{"nums": [1, 2], "target": 1%s}', "field 'target' holds an integer of 5,000 digits; it must be a "
                                                    "non-negative integer in 0..1,000,000"),
    ("nums", '{"nums": [1, 2%s], "target": 3}', "field 'nums' holds an integer of 5,000 digits; numbers are at "
                                                  "most 1,000,000"),
])
def test_integer_too_long_to_convert_names_the_field(tmp_path, field, line, message):
    path = write_jsonl(tmp_path / "problems.jsonl", [GOOD[0], line % ("0" * 4999)])
    _fails_fast(path, f"problems.jsonl line 2: {message}")


@pytest.mark.parametrize("row,message", [
    ({"nums": [1, 2, 3, 4, 5, 6, 7], "target": 5}, "field 'nums' has 7 numbers; a problem has at most 6"),
    ({"nums": [1] * 200_000, "target": 5}, "field 'nums' has 200,000 numbers; a problem has at most 6"),
    ({"nums": [1, 2_000_000], "target": 5}, "field 'nums' holds 2,000,000; numbers are at most 1,000,000"),
    ({"nums": [1, 2], "target": 1_000_001}, "field 'target' must be a non-negative integer in 0..1,000,000, got 1000001"),
])
def test_problem_past_the_limits_fails_before_the_solver_runs(tmp_path, row, message):
    path = write_jsonl(tmp_path / "problems.jsonl", [GOOD[1], row])
    _fails_fast(path, f"problems.jsonl line 2: {message}")


def test_six_numbers_are_allowed_and_solved(tmp_path):
    path = write_jsonl(tmp_path / "problems.jsonl", [{"nums": [25, 50, 75, 100, 3, 6], "target": 952}])
    (problem,) = make_task({"name": "countdown", "source": "file", "path": str(path)}).load_problems()
    assert problem.answer is not None and MAX_NUMBERS == 6 and MAX_VALUE == 1_000_000


def test_over_long_line_is_skipped_without_reading_it_whole(tmp_path):
    path = tmp_path / "problems.jsonl"
    with path.open("w") as out:
        out.write(json.dumps(GOOD[0]) + "\n")
        out.write('{"nums": [' + "1, " * (5 * MAX_LINE_BYTES // 3) + '1], "target": 5}\n')  # about 5 MB
        out.write(json.dumps(GOOD[1]) + "\n")
    _fails_fast(path, "problems.jsonl line 2: line is ")
    loaded = load_problem_file(path, skip_bad_rows=True)
    assert [r.target for r in loaded.rows] == [15, 22]
    assert "more than the 1,048,576 a problem may take" in loaded.skipped[0]


def test_parquet_rows_have_the_same_limits(tmp_path):
    path = tmp_path / "problems.parquet"
    pq.write_table(pa.Table.from_pylist([{"nums": [1, 2, 3, 4, 5, 6, 7, 8], "target": 5}]), path)
    _fails_fast(path, "problems.parquet row 0: field 'nums' has 8 numbers; a problem has at most 6")


@pytest.mark.parametrize("options,message", [
    ({"n_numbers": 7}, "task.n_numbers must be 2..6"),
    ({"n_numbers": 1}, "task.n_numbers must be 2..6"),
    ({"max_number": 10_000_000}, "task.max_number must be at most 1,000,000, got 10000000"),
    ({"max_target": 10**5000}, "task.max_target must be at most 1,000,000"),
])
def test_generator_settings_past_the_limits_are_rejected_at_once(options, message):
    started = time.perf_counter()
    with pytest.raises(ValueError, match=message):
        CountdownConfig(**options)
    assert time.perf_counter() - started < 2.0


def test_bad_problem_file_through_the_cli_is_one_line_and_writes_nothing(tmp_path):
    from tests.explore_processes import ENV, REPO, journeyforge

    path = write_jsonl(tmp_path / "problems.jsonl", [GOOD[0], {"nums": list(range(1, 40)), "target": 5}])
    done = subprocess.run(journeyforge("explore", "name=x", f"store.url=sqlite:///{tmp_path / 'traces.db'}",
                                       f"workdir={tmp_path}", "policy=scripted", "task.source=file",
                                       f"task.path={path}"), cwd=REPO, env=ENV, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0 and "Traceback" not in done.stderr + done.stdout
    assert done.stderr.strip().splitlines() == [
        f"journeyforge explore: {path} line 2: field 'nums' has 39 numbers; a problem has at most 6 "
        "(the exact solver takes seconds from 7 on)"]
    assert not (tmp_path / "traces.db").exists()


# -- files with no usable problem ---------------------------------------------------------------

@pytest.mark.parametrize("name, write", [
    ("empty.jsonl", lambda p: p.write_text("")),
    ("blank.jsonl", lambda p: p.write_text("\n   \n")),
    ("empty.parquet", lambda p: pq.write_table(pa.table({"nums": pa.array([], pa.list_(pa.int64())),
                                                         "target": pa.array([], pa.int64())}), p)),
])
def test_a_file_without_problems_is_an_error_not_a_run_of_0_trees(tmp_path, name, write):
    path = tmp_path / name
    write(path)
    message = _fails_fast(path, f"{path}: no problems in the file")
    assert ("Parquet table has no rows" in message) == name.endswith(".parquet")


def test_a_file_whose_rows_are_all_bad_or_unsolvable_is_an_error(tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", ['{"nums": [1, -4], "target": 3}', "[1, 2]"])
    with pytest.raises(ProblemFileError, match=r"bad.jsonl: no usable problem: all 2 rows are bad and were skipped"):
        make_task({"name": "countdown", "source": "file", "path": str(path), "skip_bad_rows": True}).load_problems()
    path = write_jsonl(tmp_path / "unsolvable.jsonl", [{"nums": [1, 1], "target": 50}, {"nums": [2], "target": 3}])
    with pytest.raises(ProblemFileError, match=r"unsolvable.jsonl: no usable problem: all 2 rows are unsolvable "
                                               r"\(task.only_solvable=true drops them"):
        make_task({"name": "countdown", "source": "file", "path": str(path)}).load_problems()


def _store_snapshot(path) -> tuple[str, dict[str, int]]:
    """The SQLite file's sha256 and the row count of every table."""
    import hashlib
    import sqlite3

    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        counts = {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
    conn.close()
    return hashlib.sha256(path.read_bytes()).hexdigest(), counts


def test_a_bad_problem_file_through_the_cli_leaves_an_existing_store_as_it_was(tmp_path):
    from db import TraceStore
    from tests.explore_processes import ENV, REPO, journeyforge

    db = tmp_path / "traces.db"
    store = TraceStore(f"sqlite:///{db}")     # a store with an earlier run in it
    ids = store.add_problems([p.row() for p in make_task({"name": "countdown", "n_train": 2, "n_test": 0}).load_problems()])
    store.create_trees(store.start_run("earlier", "explore", {}), ids)
    store.close()
    before = _store_snapshot(db)
    assert before[1]["problems"] == 2 and before[1]["trees"] == 2
    # A GSM8K file whose first row lacks '#### n' (read as the generic layout before, by that row).
    path = write_jsonl(tmp_path / "problems.jsonl", [{"question": "2+2?", "answer": "4"},
                                                     {"question": "3+3?", "answer": "3+3=6 #### 6"},
                                                     {"question": "4+4?", "answer": "4+4=8 #### 8"}])
    done = subprocess.run(journeyforge("explore", "name=x", f"store.url=sqlite:///{db}", f"workdir={tmp_path}",
                                       "policy=scripted", "task=math", "task.test_path=null", f"task.train_path={path}"),
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "Traceback" not in done.stderr + done.stdout
    assert done.stderr.strip().splitlines() == [
        f"journeyforge explore: {path} line 1: field 'answer' has no '#### <number>' final answer, got \"4\", but 2 "
        "of the file's 3 rows are GSM8K rows (question, answer ending in '#### n'); fix the row, or set "
        "task.layout=<gsm8k|math|generic> (task.skip_bad_rows=true skips the rows of other layouts)"]
    assert _store_snapshot(db) == before           # byte for byte, and row for row
