"""Math problem files: the bundled GSM8K / MATH-500 copies, the three layouts, bad rows, splits."""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from search.tasks import make_task
from search.tasks.math.settings import MathConfig
from search.tasks.math.loaders import BUNDLED, DATA_DIR, load_math_file, load_problems, normalize_question
from search.tasks.rows import ProblemFileError


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


GSM = [
    {"question": "Tom has 3 apples and buys 4 more. How many apples?", "answer": "He has 3+4=<<3+4=7>>7 apples\n#### 7"},
    {"question": "A box holds 1,000 pins; 2 boxes hold?", "answer": "2*1000=<<2*1000=2000>>2000 pins\n#### 2,000"},
]
MATH = [
    {"problem": "What is $1+1$?", "solution": "We have $1+1=\\boxed{2}$.", "answer": "2", "subject": "Prealgebra",
     "level": 1, "unique_id": "test/prealgebra/1.json"},
    {"problem": "Simplify $\\sqrt{8}$.", "solution": "$\\sqrt{8}=\\boxed{2\\sqrt{2}}$.", "subject": "Algebra",
     "level": 2, "unique_id": "test/algebra/2.json"},
]


# -- bundled files ------------------------------------------------------------------------------
def test_bundled_files_match_their_recorded_sha256():
    sources = (DATA_DIR / "SOURCES.md").read_text()
    for name in BUNDLED.values():
        digest = hashlib.sha256((DATA_DIR / name).read_bytes()).hexdigest()
        assert re.search(rf"\| {re.escape(name)} \|.*\| {digest} \|", sources), name


@pytest.mark.parametrize("name, rows", [("gsm8k_test", 1319), ("gsm8k_train", 7473), ("math500", 500)])
def test_bundled_files_load_every_row(name, rows):
    cfg = MathConfig()
    loaded = load_math_file(DATA_DIR / BUNDLED[name], "test", cfg)
    assert len(loaded) == rows
    assert len({r.key for r in loaded}) == rows


def test_default_task_loads_disjoint_gsm8k_splits():
    task = make_task({"name": "math", "n_train": None, "n_test": None})
    problems = task.load_problems()
    train = [p for p in problems if p.split == "train"]
    test = [p for p in problems if p.split == "test"]
    assert len(test) == 1319 and 7400 <= len(train) <= 7473
    assert not {normalize_question(p.payload["question"]) for p in train} & {
        normalize_question(p.payload["question"]) for p in test}
    assert len({p.key for p in problems}) == len(problems)
    first = next(p for p in test if p.key == "test/0")
    assert first.answer == "18" and first.dataset == "gsm8k"
    assert first.payload["question"].startswith("Janet")
    assert first.payload["solution"].endswith("every day at the farmer\u2019s market.")


def test_gsm8k_gold_answers_lose_their_commas():
    train = load_math_file(DATA_DIR / "gsm8k_train.jsonl", "train", MathConfig())
    assert all("," not in r.answer for r in train)
    assert any(r.answer == "70000" for r in load_math_file(DATA_DIR / "gsm8k_test.jsonl", "test", MathConfig()))


def test_math500_rows_keep_subject_level_and_unique_id(tmp_path):
    task = make_task({"name": "math", "dataset": "math500", "train_path": "math500", "test_path": None,
                      "n_train": None, "n_test": None})
    problems = task.load_problems()
    assert len(problems) == 500
    first = next(p for p in problems if p.key == "test/precalculus/807.json")
    assert first.answer == "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert first.payload["subject"] == "Precalculus" and first.payload["level"] == 2
    assert first.payload["unique_id"] == "test/precalculus/807.json"
    assert "\\boxed" in first.payload["solution"]


def test_one_file_is_split_by_a_seeded_hash_of_the_question():
    def split(seed, fraction=0.2):
        task = make_task({"name": "math", "train_path": "math500", "test_path": None, "n_train": None,
                          "n_test": None, "seed": seed, "test_fraction": fraction})
        return {p.key for p in task.load_problems() if p.split == "test"}

    test0 = split(0)
    assert 60 <= len(test0) <= 140
    assert split(0) == test0 and split(1) != test0
    assert split(0, 0.1) <= test0     # a lower threshold on the same hash holds out a subset
    assert split(0, 0.0) == set()


# -- layouts ------------------------------------------------------------------------------------
def test_gsm8k_layout_reads_question_solution_and_number(tmp_path):
    rows = load_math_file(write_jsonl(tmp_path / "g.jsonl", GSM), "train", MathConfig())
    assert [r.key for r in rows] == ["train/0", "train/1"]
    assert rows[0].answer == "7" and rows[0].solution == "He has 3+4=<<3+4=7>>7 apples"
    assert rows[1].answer == "2000"


def test_math_layout_takes_a_missing_answer_from_the_last_box(tmp_path):
    rows = load_math_file(write_jsonl(tmp_path / "m.jsonl", MATH), "test", MathConfig())
    assert [r.key for r in rows] == ["test/prealgebra/1.json", "test/algebra/2.json"]
    assert rows[1].answer == "2\\sqrt{2}"
    assert rows[0].extra == {"subject": "Prealgebra", "level": 1, "unique_id": "test/prealgebra/1.json"}


def test_generic_layout_uses_the_configured_fields(tmp_path):
    path = write_jsonl(tmp_path / "q.jsonl", [{"q": "2+2?", "a": 4, "why": "2+2=4", "id": "x1"},
                                              {"q": "3+3?", "a": "6", "id": 7}])
    cfg = MathConfig(layout="generic", question_field="q", answer_field="a", solution_field="why", id_field="id")
    rows = load_math_file(path, "train", cfg)
    assert [(r.key, r.question, r.answer, r.solution) for r in rows] == [
        ("x1", "2+2?", "4", "2+2=4"), ("7", "3+3?", "6", None)]


def test_auto_layout_is_the_layout_of_the_rows(tmp_path):
    assert load_math_file(write_jsonl(tmp_path / "g.jsonl", GSM), "train", MathConfig())[0].answer == "7"
    assert load_math_file(write_jsonl(tmp_path / "m.jsonl", MATH), "train", MathConfig())[0].answer == "2"
    generic = load_math_file(write_jsonl(tmp_path / "x.jsonl", [{"question": "1+1?", "answer": "2"}]), "train", MathConfig())
    assert generic[0].answer == "2" and generic[0].solution is None


def test_a_gsm8k_file_whose_first_row_lacks_hashes_is_not_read_as_generic(tmp_path):
    # Decided by the first row, this file was the generic layout and kept '2+2=4 #### 4' as a gold.
    path = write_jsonl(tmp_path / "g.jsonl", [{"question": "2+2?", "answer": "4"},
                                              {"question": "2+2 again?", "answer": "2+2=4 #### 4"}, GSM[0]])
    with pytest.raises(ProblemFileError) as err:
        load_math_file(path, "train", MathConfig())
    assert str(err.value) == (
        f"{path} line 1: field 'answer' has no '#### <number>' final answer, got \"4\", but 2 of the file's 3 rows "
        "are GSM8K rows (question, answer ending in '#### n'); fix the row, or set task.layout=<gsm8k|math|generic> "
        "(task.skip_bad_rows=true skips the rows of other layouts)")
    skipped: list[str] = []
    rows = load_math_file(path, "train", MathConfig(skip_bad_rows=True), skipped)
    assert [(r.key, r.answer) for r in rows] == [("train/1", "4"), ("train/2", "7")]
    assert len(skipped) == 1 and skipped[0].startswith(f"{path} line 1: field 'answer'")


@pytest.mark.parametrize("rows, message", [
    ([MATH[0], GSM[0]], "line 2: field 'answer' ends in a GSM8K '#### n' final answer, but 1 of the file's 2 rows "
                        "are MATH rows"),
    ([GSM[0], GSM[1], MATH[0]], "line 3: field 'problem' makes it a MATH row, but 2 of the file's 3 rows are GSM8K rows"),
    ([{"question": "a?", "answer": "1"}, {"question": "b?", "answer": "2"}, GSM[0]],
     "line 3: field 'answer' ends in a GSM8K '#### n' final answer, but 2 of the file's 3 rows are plain "
     "question/answer rows"),
    ([MATH[0], MATH[1], {"question": "a?", "answer": "1"}], "line 3: field 'problem' is missing, but 2 of the "
                                                            "file's 3 rows are MATH rows"),
])
def test_a_file_that_mixes_layouts_names_the_first_row_that_does_not_fit(tmp_path, rows, message):
    path = write_jsonl(tmp_path / "mixed.jsonl", rows)
    with pytest.raises(ProblemFileError) as err:
        load_math_file(path, "train", MathConfig())
    assert str(err.value).startswith(f"{path} {message}")
    assert "task.layout" in str(err.value)


def test_an_explicit_layout_reads_every_row_in_it(tmp_path):
    path = write_jsonl(tmp_path / "g.jsonl", [{"question": "2+2?", "answer": "4"}, GSM[0]])
    rows = load_math_file(path, "train", MathConfig(layout="generic"))
    assert [r.answer for r in rows] == ["4", GSM[0]["answer"]]      # what the user asked for: verbatim
    with pytest.raises(ProblemFileError, match=r"g.jsonl line 1: field 'answer' has no '#### <number>'"):
        load_math_file(path, "train", MathConfig(layout="gsm8k"))


@pytest.mark.parametrize("row, field", [
    ({"problem": "p?", "solution": "s", "answer": "\\frac{{{"}, "answer"),
    ({"problem": "p?", "solution": "so \\boxed{)(}"}, "solution"),
    ({"problem": "p?", "solution": "s", "answer": "\\input{/etc/passwd}"}, "answer"),
])
def test_a_gold_answer_math_verify_cannot_read_is_a_bad_row(tmp_path, row, field):
    path = write_jsonl(tmp_path / "m.jsonl", [MATH[0], row, MATH[1]])
    with pytest.raises(ProblemFileError) as err:
        load_math_file(path, "test", MathConfig())
    assert str(err.value).startswith(f"{path} line 2: field {field!r}: ")
    assert "is not usable" in str(err.value)
    task = make_task({"name": "math", "train_path": str(path), "test_path": None, "test_fraction": 0.0,
                      "skip_bad_rows": True})
    assert [p.answer for p in task.load_problems()] == ["2", "2\\sqrt{2}"]
    assert len(task.last_skipped) == 1 and task.last_skipped[0].startswith(f"{path} line 2: field {field!r}")


def test_a_generic_gold_answer_names_its_configured_field(tmp_path):
    path = write_jsonl(tmp_path / "q.jsonl", [{"q": "a?", "a": "((("}])
    with pytest.raises(ProblemFileError, match=r"q.jsonl line 1: field 'a': the gold answer \"\(\(\(\" is not usable: "
                                               r"math-verify does not read it as math"):
        load_math_file(path, "train", MathConfig(layout="generic", question_field="q", answer_field="a"))


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_an_empty_file_is_an_error(tmp_path, text):
    path = tmp_path / "empty.jsonl"
    path.write_text(text)
    with pytest.raises(ProblemFileError) as err:
        load_math_file(path, "train", MathConfig(skip_bad_rows=True))
    assert str(err.value) == (f"{path}: no problems in the file (it is empty or holds only blank lines); "
                              "a .jsonl problem file has one JSON object per line")


def test_a_file_of_only_bad_rows_is_an_error_with_skip_bad_rows(tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", ["not json", {"question": "", "answer": "1"}])
    with pytest.raises(ProblemFileError, match=r"bad.jsonl: no usable problem: all 2 rows are bad and were skipped "
                                               r"\(task.skip_bad_rows\); the first: .*bad.jsonl line 1: not valid JSON"):
        load_math_file(path, "train", MathConfig(skip_bad_rows=True))


def test_a_train_file_that_is_the_test_file_is_an_error(tmp_path):
    path = write_jsonl(tmp_path / "g.jsonl", GSM)
    with pytest.raises(ProblemFileError, match=r"task.train_path: every one of its 2 questions is also in task.test_path"):
        load_problems(MathConfig(train_path=str(path), test_path=str(path)))


# -- bad rows -----------------------------------------------------------------------------------
@pytest.mark.parametrize("row, layout, message", [
    ({"answer": "x\n#### 3"}, "gsm8k", "line 2: field 'question' is missing"),
    ({"question": "q?", "answer": "three"}, "gsm8k", "line 2: field 'answer' has no '#### <number>'"),
    ({"question": "q?", "answer": "x\n#### many"}, "gsm8k", "line 2: field 'answer': the text after '####' must be a number"),
    ({"problem": "p", "solution": "no box"}, "math", "line 2: field 'answer' is missing and field 'solution' has no"),
    ({"problem": "p", "answer": "1"}, "math", "line 2: field 'solution' is missing"),
    ({"question": "", "answer": "1"}, "generic", "line 2: field 'question' must be a non-empty string"),
    ([1, 2], "generic", "line 2: expected an object"),
])
def test_a_bad_row_names_file_line_and_field(tmp_path, row, layout, message):
    good = GSM[0] if layout == "gsm8k" else MATH[0] if layout == "math" else {"question": "a?", "answer": "1"}
    path = write_jsonl(tmp_path / "bad.jsonl", [good, row])
    with pytest.raises(ProblemFileError) as err:
        load_math_file(path, "train", MathConfig(layout=layout))
    assert str(path) in str(err.value) and message in str(err.value)


def test_a_non_utf8_line_is_named_and_can_be_skipped(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(json.dumps(GSM[0]).encode() + b"\n" + '{"question": "caf\xe9?", "answer": "#### 1"}'.encode("latin-1")
                     + b"\n" + json.dumps(GSM[1]).encode() + b"\n")
    with pytest.raises(ProblemFileError, match=r"line 2: not UTF-8"):
        load_math_file(path, "train", MathConfig())
    rows = load_math_file(path, "train", MathConfig(skip_bad_rows=True))
    assert [r.key for r in rows] == ["train/0", "train/2"]     # keys keep the row's own index


def test_a_missing_file_names_the_option():
    with pytest.raises(ProblemFileError, match=r"task.test_path: nowhere.jsonl: no such file"):
        load_problems(MathConfig(test_path="nowhere.jsonl"))


# -- selection and config -----------------------------------------------------------------------
def test_select_shortest_takes_the_shortest_problems_and_solutions():
    def size(p):
        return len(p.payload["question"]) + len(p.payload["solution"])

    task = make_task({"name": "math", "n_train": 5, "n_test": 4, "select": "shortest"})
    problems = task.load_problems()
    test = [p for p in problems if p.split == "test"]
    assert len(test) == 4 and len([p for p in problems if p.split == "train"]) == 5
    assert [size(p) for p in test] == sorted(size(p) for p in test)
    everything = make_task({"name": "math", "n_train": 0, "n_test": None}).load_problems()
    assert [size(p) for p in test] == sorted(size(p) for p in everything)[:4]
    assert test[0].payload["question"] == "John arm wrestles 20 people.  He beats 80%.  How many people did he lose to?"


def test_select_random_is_seeded():
    def keys(seed):
        return [p.key for p in make_task({"name": "math", "n_train": 0, "n_test": 6, "select": "random",
                                          "seed": seed}).load_problems()]
    assert keys(3) == keys(3) and keys(3) != keys(4)


def test_train_rows_that_are_test_questions_are_dropped(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", GSM)
    test = write_jsonl(tmp_path / "test.jsonl", [dict(GSM[1], question="  a BOX holds 1,000 pins;   2 boxes hold?")])
    problems = make_task({"name": "math", "train_path": str(train), "test_path": str(test)}).load_problems()
    assert [(p.split, p.key) for p in problems] == [("train", "train/0"), ("test", "test/0")]


@pytest.mark.parametrize("options, message", [
    ({"layout": "csv"}, "task.layout must be one of"),
    ({"select": "longest"}, "task.select must be one of"),
    ({"prompt_format": "zero"}, "task.prompt_format must be one of"),
    ({"step_delimiter": ";"}, "task.step_delimiter must be one of"),
    ({"n_shots": 9}, "task.n_shots must be in"),
    ({"verify_timeout": 0.0}, "task.verify_timeout must be > 0"),
    ({"test_fraction": 2.0}, "task.test_fraction must be in"),
    ({"n_test": -1}, "task.n_test must be >= 0"),
    ({"shots": 2}, "unknown option task.shots"),
])
def test_bad_options_name_the_option(options, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make_task({"name": "math", **options})


def test_every_config_field_has_help_and_a_default():
    import dataclasses

    for f in dataclasses.fields(MathConfig):
        assert f.metadata.get("help"), f.name
        assert f.default is not dataclasses.MISSING, f.name


def test_a_command_line_backslash_n_delimiter_means_a_newline():
    assert make_task({"name": "math", "step_delimiter": "\\n\\n"}).step_delimiter == "\n\n"
    assert make_task({"name": "math", "step_delimiter": "\\n"}).step_delimiter == "\n"
