"""Decontamination (traces/decontamination.py, traces/export_checks.py) and duplicate problems at load:
normalised n-grams and exact matches for text, canonical forms for Countdown, the bundled GSM8K test
and MATH-500 sets, files a user names, and merged duplicate rows counted with their lines."""
from __future__ import annotations

import json

import pytest

from search.tasks.base import Problem
from search.tasks.countdown.settings import CountdownConfig
from search.tasks.countdown.task import CountdownTask
from search.tasks.math.settings import MathConfig
from search.tasks.math.loaders import DATA_DIR
from search.tasks.math.task import MathTask
from traces.decontamination import (BenchmarkFileError, Reference, ReferenceIndex, find_contaminated, normalise,
                                    read_references)
from traces.export_checks import (benchmark_references, drop_repeated_trajectories, find_training_contamination,
                                  problem_references)
from traces.export_settings import ExportSettings

QUESTION = ("Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
            "How many clips did Natalia sell altogether in April and May?")


def test_normalise_drops_case_punctuation_and_latex_markup():
    assert normalise("What is $\\frac{1}{2}$ of 10?\n") == ["what", "is", "frac", "1", "2", "of", "10"]
    assert normalise("Ｆｕｌｌ-width  CAPS") == ["full", "width", "caps"]   # NFKC


def test_a_copy_with_a_changed_sentence_shares_an_ngram_and_an_unrelated_problem_does_not():
    index = ReferenceIndex([Reference("bench", "b1", QUESTION)], n=13)
    changed = QUESTION.replace("How many clips did Natalia sell altogether in April and May?", "What is the total?")
    found = find_contaminated([("copy", QUESTION.upper() + "!!", None), ("changed", changed, None),
                               ("other", "Tom has 3 apples and buys 4 more. How many apples does he have?", None)],
                              index)
    assert {k: m.how for k, m in found.items()} == {"copy": "exact", "changed": "ngram"}
    assert found["changed"].source == "bench" and found["changed"].matched == "b1"


def test_a_text_shorter_than_n_words_is_compared_whole():
    index = ReferenceIndex([Reference("bench", "b1", "Compute 7 choose 3.")], n=13)
    assert index.match("compute 7 CHOOSE 3") is not None
    assert index.match("Compute 7 choose 3 and then add 1 to the result please.") is None


def test_ngram_size_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        ReferenceIndex([], n=0)
    with pytest.raises(ValueError, match="export.decontaminate_ngram must be an integer of at least 1, got 0"):
        ExportSettings(decontaminate_ngram=0).validate()


def test_countdown_compares_canonical_forms_in_any_order_of_the_numbers():
    task = CountdownTask(CountdownConfig())
    train = {"3,5,7->22": Problem("3,5,7->22", {"nums": [7, 5, 3], "target": 22}),
             "3,5,8->22": Problem("3,5,8->22", {"nums": [3, 5, 8], "target": 22})}
    held = [Problem("x", {"nums": [5, 3, 7], "target": 22}, split="test")]
    found = find_training_contamination(task, train, problem_references(task, held), 13)
    assert list(found) == ["3,5,7->22"] and found["3,5,7->22"].how == "canonical"
    assert task.canonical_form(Problem("q", {"question": "What is 2 + 2?"})) is None


def test_a_gsm8k_test_question_in_a_math_training_file_is_caught_by_the_bundled_check(tmp_path):
    gsm8k_test = [json.loads(line) for line in (DATA_DIR / "gsm8k_test.jsonl").open()]
    # GSM8K train line 21 is a templated variant of test line 633 (the stamps problem): left out here
    train = [json.loads(line) for line in (DATA_DIR / "gsm8k_train.jsonl").open()][:20]
    placed = gsm8k_test[17]
    rows = [*train[:10], {"question": placed["question"], "answer": placed["answer"]}, *train[10:]]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    task = MathTask(MathConfig(train_path=str(path), test_path=None, test_fraction=0.0))
    problems = {p.key: p for p in task.load_problems() if p.split == "train"}
    references = benchmark_references(task, ExportSettings().decontaminate_benchmarks, [])
    found = find_training_contamination(task, problems, references, ExportSettings().decontaminate_ngram)
    assert {k: (m.source, m.matched, m.how) for k, m in found.items()} == {
        "train/10": ("gsm8k_test", "line 18", "exact")}


def test_named_files_are_read_as_jsonl_parquet_csv_or_plain_lines(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "a.jsonl").write_text(json.dumps({"problem": QUESTION}) + "\n")
    pq.write_table(pa.table({"question": [QUESTION]}), tmp_path / "b.parquet")
    (tmp_path / "c.csv").write_text(f"id,prompt\n1,\"{QUESTION}\"\n")
    (tmp_path / "d.txt").write_text(f"\n{QUESTION}\n")
    found = {p: read_references(tmp_path / p) for p in ("a.jsonl", "b.parquet", "c.csv", "d.txt")}
    assert {p: [(r.source, r.key, r.text) for r in refs] for p, refs in found.items()} == {
        "a.jsonl": [("a.jsonl", "line 1", QUESTION)], "b.parquet": [("b.parquet", "row 0", QUESTION)],
        "c.csv": [("c.csv", "line 2", QUESTION)], "d.txt": [("d.txt", "line 2", QUESTION)]}


def test_a_missing_unreadable_or_empty_benchmark_file_is_one_line(tmp_path):
    task = MathTask(MathConfig())
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    (tmp_path / "empty.jsonl").write_text(json.dumps({"id": 3}) + "\n")
    for name, why in (("nope.jsonl", "no such file"), ("latin1.txt", "cannot be read"),
                      ("empty.jsonl", "no problem in it")):
        with pytest.raises(BenchmarkFileError) as err:
            benchmark_references(task, [], [str(tmp_path / name)])
        assert str(err.value).startswith(f"export.decontaminate_against: {tmp_path / name}: {why}")
        assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="export.decontaminate_benchmarks: unknown benchmark 'aime'"):
        ExportSettings(decontaminate_benchmarks=["aime"]).validate()


def test_countdown_rows_that_repeat_a_problem_are_merged_and_a_held_out_copy_stays_held_out(tmp_path):
    path = tmp_path / "p.jsonl"
    rows = [{"nums": [3, 5, 7], "target": 22, "split": "train"}, {"nums": [2, 4, 6], "target": 12},
            {"nums": [7, 3, 5], "target": 22, "split": "train"}, {"nums": [5, 7, 3], "target": 22, "split": "train"},
            {"nums": [1, 2, 9], "target": 11, "split": "train"}, {"nums": [9, 2, 1], "target": 11, "split": "test"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    task = CountdownTask(CountdownConfig(source="file", path=str(path)))
    problems = {p.key: p for p in task.load_problems()}
    assert problems["1,2,9->11"].split == "test"
    report = {g["problem"]: (g["kept"].rsplit(" ", 1)[1], [w.rsplit(" ", 1)[1] for w in g["merged"]], g["held_out"])
              for g in task.last_duplicates.report()}
    assert report == {"3,5,7->22": ("1", ["3", "4"], False), "1,2,9->11": ("5", ["6"], True)}
    assert (task.last_duplicates.rows_merged, task.last_duplicates.held_out_copies) == (3, 1)


def test_math_rows_that_repeat_a_question_are_merged_with_their_lines(tmp_path):
    rows = [{"question": "What is 2 + 3?", "answer": "5"}, {"question": "What is 4 + 4?", "answer": "8"},
            {"question": "what is  2 + 3?", "answer": "5"}]
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "h.jsonl").write_text(json.dumps({"question": "What is 4 + 4?", "answer": "8"}) + "\n")
    task = MathTask(MathConfig(train_path=str(tmp_path / "t.jsonl"), test_path=str(tmp_path / "h.jsonl")))
    problems = task.load_problems()
    assert [(p.key, p.split) for p in problems] == [("train/0", "train"), ("test/0", "test")]
    def short(where: str) -> str:
        return where.rsplit("/", 1)[1]

    report = sorted((short(g["kept"]), [short(w) for w in g["merged"]], g["held_out"])
                    for g in task.last_duplicates.report())
    assert report == [("h.jsonl line 1", ["t.jsonl line 2"], True), ("t.jsonl line 1", ["t.jsonl line 3"], False)]


def test_repeated_trajectories_of_one_problem_and_kind_are_dropped():
    rows = [{"tree_id": 1, "kind": "journey", "text": "a"}, {"tree_id": 2, "kind": "journey", "text": "a"},
            {"tree_id": 1, "kind": "shortcut", "text": "a"}, {"tree_id": 3, "kind": "journey", "text": "a"}]
    kept, dropped = drop_repeated_trajectories(rows, {1: "p", 2: "p", 3: "q"})
    assert kept == [rows[0], rows[2], rows[3]] and dropped == {"journey": 1}


def test_monte_carlo_labels_are_graded_against_the_countdown_oracle():
    import networkx as nx

    from db.stored_tree import StoredTree
    from traces.card_provenance import label_quality

    task = CountdownTask(CountdownConfig())
    graph = nx.DiGraph(tree_id=1, root=0, problem={"key": "2,3,4->24", "payload": {"nums": [2, 3, 4], "target": 24}})
    reachable, unreachable = {"nums": [6, 4], "target": 24}, {"nums": [5, 4], "target": 24}
    graph.add_node(0, label="root", state={"nums": [2, 3, 4], "target": 24}, mc_hard=None)
    for n, state, mc_hard in ((1, reachable, 0.0), (2, unreachable, 0.0), (3, unreachable, 1.0), (4, reachable, 1.0),
                              (5, unreachable, 0.0)):
        graph.add_node(n, label="valid" if mc_hard else "dead_end", state=state, mc_hard=mc_hard)
        graph.add_edge(0, n)
    quality = label_quality([StoredTree(graph)], task)
    # mistakes called: 1 (wrong), 2, 5 (right); real mistakes: 2, 3, 5
    assert quality == {"source": "mc", "against": "oracle", "steps": 5, "mistakes": 3,
                       "precision": round(2 / 3, 3), "recall": round(2 / 3, 3)}
    math_graph = nx.DiGraph(tree_id=2, root=0, problem={"key": "q", "payload": {"question": "?"}})
    math_graph.add_node(0, label="root", state={"n": 0}, mc_hard=None)
    math_graph.add_node(1, label="valid", state={"n": 1}, mc_hard=1.0)
    math_graph.add_edge(0, 1)
    assert label_quality([StoredTree(math_graph)], MathTask(MathConfig())) is None   # no oracle: not graded
